//! Offline IP enrichment end to end: fixture databases built in the test (never downloaded),
//! `analyze`, `hunt` and `events` on the bundled sample, and the refusals of bad databases.

mod common;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn truth() -> trailscope_gen::GroundTruth {
    serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap()
}

fn analyze(extra: &[String], format: &str) -> std::process::Output {
    let mut args = vec!["analyze", "--quiet", "--format", format];
    args.extend(extra.iter().map(String::as_str));
    let o = run_on(&args, &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "findings give exit 1; stderr: {}", stderr(&o));
    o
}

#[test]
fn analyze_enriches_the_attackers_addresses_and_names_its_databases() {
    let t = truth();
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    let r: Value = serde_json::from_slice(&analyze(&flags, "json").stdout).unwrap();
    let e = &r["enrichment"];
    assert_eq!(e["done"], true);

    // The intruder's addresses carry the fixtures' answers.
    let exit = &e["addresses"][&t.attacker_ips[0]];
    assert_eq!(exit["country_code"], "DE", "{e}");
    assert_eq!(exit["country"], "Germany");
    assert_eq!(exit["city"], "Frankfurt am Main");
    assert_eq!(exit["asn"], 64500);
    assert_eq!(exit["as_org"], "Example Exit Hosting");
    assert!(exit["aws"].is_null());
    let vps = &e["addresses"][&t.attacker_ips[1]];
    assert_eq!((vps["country_code"].as_str(), vps["asn"].as_u64()), (Some("NL"), Some(64501)));
    let ci = &e["addresses"]["52.23.180.11"]["aws"];
    assert_eq!(ci["service"], "EC2");
    assert_eq!(ci["region"], "us-east-1");
    assert_eq!(ci["prefix"], "52.20.0.0/14");

    // Service names are never looked up: absent from the table, listed with the reason.
    let addresses = e["addresses"].as_object().unwrap();
    for service in ["config.amazonaws.com", "lambda.amazonaws.com", "glue.amazonaws.com"] {
        assert!(!addresses.contains_key(service), "{service} looked up");
        assert_eq!(e["not_looked_up"][service], "service-name", "{e}");
    }
    assert!(addresses.keys().all(|k| k.parse::<std::net::IpAddr>().is_ok()), "{addresses:?}");
    // Every public source address of every actor is in the table.
    for a in r["actors"].as_array().unwrap() {
        for ip in a["source_ips"].as_array().unwrap() {
            let ip = ip.as_str().unwrap();
            assert!(addresses.contains_key(ip) || e["not_looked_up"].get(ip).is_some(), "{ip}");
        }
    }

    // Each database named with its hash, type and date.
    let dbs = e["databases"].as_array().unwrap();
    let kinds: Vec<&str> = dbs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["geoip", "asn", "aws-ranges"]);
    for d in dbs {
        let bytes = std::fs::read(d["path"].as_str().unwrap()).unwrap();
        assert_eq!(d["sha256"], hex_sha256(&bytes));
        assert_eq!(d["size"], bytes.len());
    }
    assert_eq!(dbs[0]["database_type"], "GeoLite2-City");
    assert_eq!(dbs[0]["build_epoch"], 1_709_251_200);
    assert_eq!(dbs[1]["database_type"], "GeoLite2-ASN");
    assert_eq!(dbs[2]["create_date"], "2024-03-01-18-13-07");
    assert_eq!(dbs[2]["sync_token"], "1709316787");

    // The leaked key's jump to another provider is a reason of the intruder's actor.
    let first = &r["actors"][0];
    let reasons = first["reasons"].to_string();
    assert!(
        reasons.contains("new-asn-for-credential") && reasons.contains("AS64500 Example Exit Hosting"),
        "{reasons}"
    );
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn without_databases_every_format_says_enrichment_was_not_done() {
    let r: Value = serde_json::from_slice(&analyze(&[], "json").stdout).unwrap();
    assert_eq!(r["enrichment"]["done"], false);
    assert!(r["enrichment"]["addresses"].as_object().unwrap().is_empty());
    let text = stdout(&analyze(&[], "text"));
    assert_eq!(line(&text, "Enrichment:").trim(), "not done (no --geoip, --asn or --aws-ranges given)");
    let md = stdout(&analyze(&[], "markdown"));
    assert!(md.contains("| Enrichment | not done (no --geoip, --asn or --aws-ranges given) |"), "{md}");
    let csv = stdout(&analyze(&[], "csv"));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",access_key,events,last_datetime,last_event_id,country,asn,as_org,cloud"),
        "{csv}"
    );
    let html = stdout(&analyze(&[], "html"));
    assert!(html.contains("<dt>Enrichment</dt><dd>not done (no --geoip, --asn or --aws-ranges given)</dd>"), "html");
}

#[test]
fn text_markdown_csv_and_jsonl_show_where_addresses_are() {
    let t = truth();
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    let text = stdout(&analyze(&flags, "text"));
    // The whole enriched report is reviewed as a diff like the plain one.
    assert_golden("analyze-sample-enriched.txt", &text);
    let header = line(&text, "Enrichment:");
    assert!(header.contains("geoip city.mmdb (GeoLite2-City, built 2024-03-01T00:00:00Z, SHA-256 "), "{header}");
    assert!(text.contains("aws-ranges ip-ranges.json (created 2024-03-01-18-13-07, sync token 1709316787, 8 prefixes"));
    assert!(
        text.contains(&format!(
            "source IPs: {} (DE Frankfurt am Main; AS64500 Example Exit Hosting)",
            t.attacker_ips[0]
        )),
        "{text}"
    );
    assert!(text.contains("      where: NL Amsterdam; AS64501 Example VPS B.V."), "{text}");

    let html = stdout(&analyze(&flags, "html"));
    assert!(html.contains(&format!("{} (DE Frankfurt am Main; AS64500 Example Exit Hosting)", t.attacker_ips[0])));
    assert!(html.contains("<td>NL Amsterdam; AS64501 Example VPS B.V.</td>"));
    assert!(html.contains("<dt>Enrichment</dt><dd>geoip city.mmdb (GeoLite2-City"));

    let md = stdout(&analyze(&flags, "markdown"));
    assert!(md.contains("| Source IPs |") || md.contains("## Source IPs"));
    assert!(md.contains("| DE Frankfurt am Main; AS64500 Example Exit Hosting |"), "{md}");

    let csv = stdout(&analyze(&flags, "csv"));
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let head: Vec<String> = rd.headers().unwrap().iter().map(str::to_owned).collect();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let mut seen = 0;
    for row in rd.records() {
        let row = row.unwrap();
        if row[col("source_ip")] == *t.attacker_ips[0] {
            assert_eq!((&row[col("country")], &row[col("asn")]), ("DE", "64500"));
            assert_eq!(&row[col("as_org")], "Example Exit Hosting");
            assert_eq!(&row[col("cloud")], "");
            seen += 1;
        } else if !row[col("source_ip")].contains(|c: char| c.is_ascii_digit()) {
            assert_eq!(&row[col("country")], "", "service names get nothing");
        }
    }
    assert!(seen > 50, "{seen} rows from the exit node");

    let jsonl = stdout(&analyze(&flags, "jsonl"));
    let from_vps: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["source_ip"] == t.attacker_ips[1].as_str())
        .collect();
    assert!(!from_vps.is_empty());
    for l in from_vps {
        assert_eq!(
            (l["country"].as_str(), l["asn"].as_str(), l["cloud"].as_str()),
            (Some("NL"), Some("64501"), Some(""))
        );
    }
}

#[test]
fn hunt_and_events_append_where_columns_and_the_audit_names_the_databases() {
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    let mut args = vec!["events", "--quiet", "--format", "csv", "--ip", "52.23.180.11", "--limit", "3"];
    args.extend(&flags);
    let o = run_on(&args, &[&sample()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    assert!(lines.next().unwrap().ends_with(",event_id,country,asn,as_org,cloud"), "{text}");
    for l in lines {
        assert!(l.ends_with(",US,14618,AMAZON-AES,AWS EC2 us-east-1"), "{l}");
    }
    // Without databases, the columns stay as they were.
    let plain = run_on(&["events", "--quiet", "--format", "csv", "--limit", "1"], &[&sample()]);
    assert!(stdout(&plain).lines().next().unwrap().ends_with(",user_agent,event_id"));

    // The hunt table ends a line (folded or not) with where its source IP is.
    let mut args = vec!["hunt", "--quiet", "--min-level", "high"];
    args.extend(&flags);
    let table = stdout(&run_on(&args, &[&sample()]));
    let exit_lines: Vec<&str> = table.lines().filter(|l| l.contains(" 185.220.101.47 ")).collect();
    assert!(!exit_lines.is_empty(), "{table}");
    for l in exit_lines {
        assert!(l.ends_with("  [DE Frankfurt am Main; AS64500 Example Exit Hosting]"), "{l}");
    }

    let case = tempfile::tempdir().unwrap();
    let mut args = vec!["hunt", "--quiet", "--format", "jsonl", "--min-level", "high", "--out"];
    args.push(case.path().to_str().unwrap());
    args.extend(&flags);
    let o = run_on(&args, &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let exit = truth().attacker_ips[0].clone();
    let hits: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|f| f["source_ip"] == exit.as_str())
        .collect();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|f| f["country"] == "DE" && f["asn"] == "64500"), "{hits:?}");

    let log = std::fs::read_to_string(case.path().join("audit.jsonl")).unwrap();
    let entry: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    let inputs = entry["inputs"].as_array().unwrap();
    assert_eq!(inputs.iter().map(|i| i["role"].as_str().unwrap()).collect::<Vec<_>>(), ["geoip", "asn", "aws-ranges"]);
    for i in inputs {
        let bytes = std::fs::read(i["path"].as_str().unwrap()).unwrap();
        assert_eq!(i["sha256"], hex_sha256(&bytes));
    }
    let audit = run(&["audit", "verify", case.path().to_str().unwrap()]);
    assert_eq!(audit.status.code(), Some(0), "{}{}", stdout(&audit), stderr(&audit));
}

#[test]
fn bad_databases_are_refused_naming_the_file_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    let (city, asn) = (&flags[1], &flags[3]);
    let corrupt = write(dir.path(), "corrupt.mmdb", b"\x00\x01 half a download");
    let not_ranges = write(dir.path(), "ranges.json", br#"{"ip_ranges": ["52.0.0.0/11"]}"#);
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--geoip", corrupt.to_str().unwrap()], format!("{}: not a readable MaxMind DB file", corrupt.display())),
        (
            vec!["--geoip", asn.as_str()],
            format!("{asn}: --geoip needs a City or Country database, but this one is \"GeoLite2-ASN\""),
        ),
        (vec!["--asn", city.as_str()], format!("{city}: --asn needs an ASN database")),
        (
            vec!["--aws-ranges", not_ranges.to_str().unwrap()],
            format!("{}: not an AWS ip-ranges.json: missing field `prefixes`", not_ranges.display()),
        ),
        (vec!["--aws-ranges", "/nonexistent/ip-ranges.json"], "/nonexistent/ip-ranges.json: cannot read".into()),
    ];
    for cmd in ["analyze", "hunt", "events"] {
        for (extra, msg) in &cases {
            let mut args = vec![cmd, "--quiet"];
            args.extend(extra);
            let o = run_on(&args, &[&sample()]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {extra:?}");
            let err = stderr(&o);
            assert!(err.contains(msg.as_str()), "{cmd} {extra:?}: {err}");
            assert!(o.stdout.is_empty(), "{cmd}: nothing written before the databases are checked");
        }
    }
}

/// Values CloudTrail logs in `sourceIPAddress` that are not a caller's public address are never
/// looked up, and the report says why.
#[test]
fn aws_internal_service_names_and_private_addresses_are_not_looked_up() {
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    let mut recs = Vec::new();
    for (i, ip) in ["185.220.101.47", "AWS Internal", "10.0.3.7", "s3.amazonaws.com", "169.254.10.1"].iter().enumerate()
    {
        let mut r = record(i, "DescribeInstances");
        r["sourceIPAddress"] = (*ip).into();
        recs.push(r);
    }
    let logs = write(dir.path(), "logs/trail.json", &s3_body(&recs));
    let mut args = vec!["analyze", "--quiet", "--format", "json"];
    args.extend(flags.iter().map(String::as_str));
    let o = run_on(&args, &[logs.parent().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = &r["enrichment"];
    assert_eq!(e["addresses"]["185.220.101.47"]["asn"], 64500, "{e}");
    assert_eq!(
        e["not_looked_up"],
        serde_json::json!({"10.0.3.7": "private", "169.254.10.1": "link-local", "AWS Internal": "aws-internal",
            "s3.amazonaws.com": "service-name"})
    );
    assert_eq!(e["addresses"].as_object().unwrap().len(), 1);
}

#[test]
fn a_hunt_over_several_saved_cases_is_enriched_too() {
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    let first = dir.path().join("first.tscase");
    let o = run_on(&["ingest", "-q", "--save", first.to_str().unwrap()], &[&sample()]);
    assert!(first.is_file(), "{}", stderr(&o));
    let second = dir.path().join("second.tscase");
    std::fs::copy(&first, &second).unwrap();
    let out = dir.path().join("out");
    let mut args = vec!["hunt", "-q", "--format", "jsonl", "--min-level", "critical", "--out", out.to_str().unwrap()];
    args.extend(flags.iter().map(String::as_str));
    let o = run_on(&args, &[&first, &second]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines: Vec<Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let office: Vec<&Value> = lines.iter().filter(|f| f["source_ip"] == "198.51.100.23").collect();
    assert!(!office.is_empty(), "{lines:?}");
    for f in &office {
        assert_eq!((f["country"].as_str(), f["as_org"].as_str()), (Some("US"), Some("Example Office ISP")), "{f}");
    }
    let cases: std::collections::BTreeSet<&str> = office.iter().map(|f| f["case"].as_str().unwrap()).collect();
    assert_eq!(cases.len(), 2, "both cases enriched");
    let log = std::fs::read_to_string(out.join("audit.jsonl")).unwrap();
    let entry: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(entry["inputs"].as_array().unwrap().len(), 3, "{entry}");
}
