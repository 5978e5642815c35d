//! Rules x events: the whole built-in pack over the store, and the report on top; and the
//! detection work of `hunt` against the whole of `analyze` (detection, lineage, actors,
//! report) on the same store — attribution must stay near-linear, within 1.5x of hunt.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trailscope_indicators::baseline::{self, BaselineOptions};
use trailscope_indicators::RuleSet;
use trailscope_ingest::{ingest, IngestOptions};
use trailscope_timeline::{Lineage, Report, ReportOptions};

fn bench(c: &mut Criterion) {
    let dir = trailscope_benches::dump(trailscope_benches::events());
    let (store, _) = ingest(&[dir], &IngestOptions::default(), None).unwrap();
    let rules = RuleSet::builtin();
    let mut g = c.benchmark_group("rules");
    g.sample_size(10);
    g.throughput(Throughput::Elements((store.len() * rules.rules.len()) as u64));
    g.bench_function(format!("builtin-{}-rules-x-{}-events", rules.rules.len(), store.len()), |b| {
        b.iter(|| rules.run(&store))
    });
    let findings = rules.run(&store);
    g.throughput(Throughput::Elements(store.len() as u64));
    g.bench_function("lineage-and-report", |b| {
        b.iter(|| Report::build(&store, &findings, &Lineage::build(&store), &ReportOptions::default()))
    });
    let detect = || {
        let mut f = rules.run(&store);
        f.extend(baseline::run(&store, &BaselineOptions::default()));
        f
    };
    g.bench_function("hunt-detection", |b| b.iter(detect));
    g.bench_function("analyze-detection-lineage-actors-report", |b| {
        b.iter(|| Report::build(&store, &detect(), &Lineage::build(&store), &ReportOptions::default()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
