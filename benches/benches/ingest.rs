//! Ingest throughput: walk, read, gunzip, parse and build the store, all threads.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trailscope_ingest::{ingest, IngestOptions};

fn bench(c: &mut Criterion) {
    let dir = trailscope_benches::dump(trailscope_benches::events());
    let (store, report) = ingest(std::slice::from_ref(&dir), &IngestOptions::default(), None).unwrap();
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(store.len() as u64));
    g.bench_function(format!("{}-events-{}-files", store.len(), report.files.len()), |b| {
        b.iter(|| ingest(std::slice::from_ref(&dir), &IngestOptions::default(), None).unwrap())
    });
    g.throughput(Throughput::Bytes(report.bytes_uncompressed()));
    g.bench_function("uncompressed-bytes", |b| {
        b.iter(|| ingest(std::slice::from_ref(&dir), &IngestOptions::default(), None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
