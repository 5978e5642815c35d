//! The `data-heavy` profile: the shape it promises (mostly S3 data events with their full
//! fields, large EC2 describe responses, KMS and STS calls, small files beside large ones),
//! deterministic by seed, with the attack's ground truth still in the dump.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use trailscope_gen::{generate, GenConfig, Profile};

/// Every file's path and its records, in path order.
fn read_dump(dir: &Path) -> Vec<(String, Vec<Value>)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out)
            } else {
                out.push(path)
            }
        }
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_string(&mut text).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            (p.strip_prefix(dir).unwrap().display().to_string(), v["Records"].as_array().unwrap().clone())
        })
        .collect()
}

fn config() -> GenConfig {
    GenConfig { events: 3000, digests: false, profile: Profile::DataHeavy, ..GenConfig::default() }
}

#[test]
fn data_heavy_dump_is_shaped_like_a_trail_logging_data_events() {
    let base = std::env::temp_dir().join(format!("trailscope-gen-{}-heavy", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let summary = generate(&config(), &base.join("a")).unwrap();
    let files = read_dump(&base.join("a"));
    // Same seed, same bytes; another seed, other bytes.
    generate(&config(), &base.join("b")).unwrap();
    generate(&GenConfig { seed: 8, ..config() }, &base.join("c")).unwrap();
    let bytes = |d: &str| read_dump(&base.join(d));
    assert_eq!(files, bytes("b"));
    assert_ne!(files, bytes("c"));
    std::fs::remove_dir_all(&base).unwrap();

    let records: Vec<&Value> = files.iter().flat_map(|f| &f.1).collect();
    assert_eq!(records.len(), summary.records);
    let mut by_name: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for r in &records {
        by_name.entry(r["eventName"].as_str().unwrap()).or_default().push(r);
    }
    let data: Vec<&&Value> = records.iter().filter(|r| r["eventCategory"] == "Data").collect();
    // Over half the background; the attack and its confounders (a third of so small a dump) are management calls.
    assert!(data.len() * 10 > records.len() * 3, "{} of {} records are data events", data.len(), records.len());
    // The attack's records are the same in every profile; the background's follow the profile.
    let scripted: HashSet<&str> = summary
        .truth
        .malicious_event_ids
        .iter()
        .chain(summary.truth.confounders.iter().flat_map(|c| &c.event_ids))
        .map(String::as_str)
        .collect();
    for r in data.iter().filter(|r| !scripted.contains(r["eventID"].as_str().unwrap())) {
        assert_eq!(r["eventSource"], "s3.amazonaws.com");
        let host = r["requestParameters"]["Host"].as_str().unwrap();
        assert_eq!(r["tlsDetails"]["clientProvidedHostHeader"], host, "{r}");
        let add = &r["additionalEventData"];
        for k in [
            "SignatureVersion",
            "CipherSuite",
            "bytesTransferredIn",
            "bytesTransferredOut",
            "AuthenticationMethod",
            "x-amz-id-2",
        ] {
            assert!(!add[k].is_null(), "{k} missing: {r}");
        }
        let resources = r["resources"].as_array().unwrap();
        assert!(resources
            .iter()
            .any(|x| x["type"] == "AWS::S3::Bucket" && x["ARN"].as_str().unwrap().starts_with("arn:aws:s3:::")));
    }
    // Reads and writes that moved bytes say how many, and a version-enabled PutObject says its version.
    let put = &by_name["PutObject"];
    assert!(put.iter().any(|r| r["additionalEventData"]["bytesTransferredIn"].as_u64().unwrap() > 0));
    assert!(put.iter().any(|r| r["responseElements"]["x-amz-version-id"].is_string()));

    // EC2 describe responses carry whole reservation sets, and an instance is the same
    // wherever it appears.
    let describe = &by_name["DescribeInstances"];
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    let mut largest = 0;
    // (The catalogue's everyday DescribeInstances, without a response, are there too.)
    let describe: Vec<_> = describe.iter().filter(|r| r["responseElements"].is_object()).collect();
    assert!(describe.len() > 10, "{} DescribeInstances with a response", describe.len());
    for r in describe {
        let text = r.to_string();
        largest = largest.max(text.len());
        for res in r["responseElements"]["reservationSet"]["items"].as_array().unwrap() {
            for i in res["instancesSet"]["items"].as_array().unwrap() {
                let id = i["instanceId"].as_str().unwrap().to_owned();
                assert!(i["networkInterfaceSet"]["items"][0]["networkInterfaceId"].is_string());
                assert!(i["tagSet"]["items"].as_array().unwrap().len() >= 3);
                if let Some(before) = seen.insert(id.clone(), i.clone()) {
                    assert_eq!(&before, i, "{id} differs between responses");
                }
            }
        }
    }
    assert!(largest > 20_000, "largest DescribeInstances record {largest} bytes");
    for name in ["DescribeSecurityGroups", "DescribeVolumes", "AssumeRole", "Decrypt", "GetRole"] {
        assert!(by_name.contains_key(name), "no {name}");
    }
    // KMS calls name their key in resources yet stay management events.
    let decrypt: Vec<_> = by_name["Decrypt"].iter().filter(|r| r["resources"].is_array()).collect();
    assert!(decrypt.len() > 5, "{} Decrypt calls with resources", decrypt.len());
    for r in decrypt {
        assert!(r["requestParameters"]["encryptionContext"].is_object(), "{r}");
        assert_eq!(r["resources"][0]["type"], "AWS::KMS::Key");
        assert_eq!(r["managementEvent"], true);
    }
    let mean = records.iter().map(|r| r.to_string().len()).sum::<usize>() / records.len();
    assert!(mean > 1200, "mean record {mean} bytes");

    // Small files beside large ones.
    let sizes: Vec<usize> = files.iter().map(|f| f.1.len()).collect();
    let small = sizes.iter().filter(|&&n| n <= 8).count();
    assert!(small * 3 > files.len(), "{small} of {} files hold 8 records or fewer", files.len());
    assert!(sizes.iter().any(|&n| n > 40), "no large file: {sizes:?}");

    // The attack is still there, every malicious event once.
    let ids: HashSet<&str> = records.iter().map(|r| r["eventID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), records.len());
    assert!(!summary.truth.malicious_event_ids.is_empty());
    for id in &summary.truth.malicious_event_ids {
        assert!(ids.contains(id.as_str()), "malicious {id} missing");
    }
}
