//! Offline IP enrichment: lookups against databases of realistic size (an ip-ranges.json of
//! ~10,000 prefixes, City and ASN databases of 20,000 networks), so that enriching every actor
//! address of a large case stays negligible beside attribution.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::net::{IpAddr, Ipv4Addr};
use trailscope_enrich::testing::{asn_db, aws_ranges, city_db};
use trailscope_enrich::{Enricher, Sources};

/// The i-th /24 of the fixtures: spread over 11.0.0.0 .. 90.255.255.0.
fn net(i: u32) -> Ipv4Addr {
    Ipv4Addr::from((11u32 << 24) + i * 977 % (80 << 16) * 256)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cidrs: Vec<String> = (0..20_000).map(|i| format!("{}/24", net(i))).collect();
    let mut uniq = cidrs.clone();
    uniq.sort();
    uniq.dedup();
    let city: Vec<(&str, &str, &str, Option<&str>)> =
        uniq.iter().map(|c| (c.as_str(), "DE", "Germany", Some("Frankfurt am Main"))).collect();
    let asn: Vec<(&str, u32, &str)> = uniq.iter().map(|c| (c.as_str(), 64500, "Example Hosting")).collect();
    // ip-ranges.json lists most prefixes twice (AMAZON and the service).
    let ranges: Vec<(&str, &str, &str)> = uniq
        .iter()
        .take(5_000)
        .flat_map(|c| [(c.as_str(), "us-east-1", "AMAZON"), (c.as_str(), "us-east-1", "EC2")])
        .collect();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let sources = Sources {
        geoip: Some(write("city.mmdb", &city_db(&city))),
        asn: Some(write("asn.mmdb", &asn_db(&asn))),
        aws_ranges: Some(write("ip-ranges.json", aws_ranges(&ranges).as_bytes())),
    };
    let enricher = Enricher::open(&sources).unwrap().unwrap();
    // Half the addresses in the databases, half not.
    let addrs: Vec<IpAddr> =
        (0..10_000u32).map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(net(i * 3)) + 7 + (i % 2) * (1 << 31)))).collect();

    let mut g = c.benchmark_group("enrich");
    g.sample_size(10);
    g.bench_function("open-city-asn-aws-ranges", |b| b.iter(|| Enricher::open(&sources).unwrap()));
    g.throughput(Throughput::Elements(addrs.len() as u64));
    g.bench_function("lookup-10k-addresses", |b| {
        b.iter(|| addrs.iter().map(|&ip| enricher.lookup(ip)).filter(|i| i.asn.is_some()).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
