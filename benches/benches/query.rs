//! The query language over the store: column predicates (dictionary-id sets), a time range,
//! group-bys on dictionary ids, time buckets, and a group-by on a payload path.
//!
//! `TRAILSCOPE_BENCH_EVENTS` sets the store's size. Up to 200,000 events it is the generated
//! dump itself; beyond, the 200,000-event dump repeated (each copy shifted after the previous
//! one in time, with its own event ids) until the size is reached — the copies carry empty
//! payloads, so payload-path benchmarks run on the generated dump alone.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trailscope_ingest::{ingest, IngestOptions};
use trailscope_query::{answer, parse, select, Aggregation};
use trailscope_store::{ChunkBuilder, Field, Flag, RowValues, Selection, SourceFile, Store, StoreBuilder};

/// Largest dump generated for this benchmark; larger stores repeat it.
const BASE: usize = 200_000;

/// `base` repeated to `events` rows, copies shifted in time and given new event ids.
fn tile(base: &Store, events: usize) -> Store {
    let span = base.times().last().copied().unwrap_or(0) - base.times().first().copied().unwrap_or(0) + 1_000;
    let mut b = StoreBuilder::new();
    let src = b.add_source(SourceFile { path: "tiled".into(), size: 0, sha256: String::new() });
    let mut chunk = ChunkBuilder::new();
    let mut ids = String::new();
    for n in 0..events {
        let (copy, row) = (n / base.len(), n % base.len());
        let e = base.event(row);
        let mut r = RowValues { time_ms: e.time_ms() + copy as i64 * span, index: n as u32, ..Default::default() };
        for f in Field::ALL {
            r.strings[f.index()] = e.str(f);
        }
        for f in Flag::ALL {
            r.flags[f.index()] = e.flag(f);
        }
        ids.clear();
        ids.push_str(e.str(Field::EventId).unwrap_or(""));
        ids.push_str(&format!("-{copy}"));
        r.strings[Field::EventId.index()] = Some(&ids);
        let payload = base.payload(row);
        r.payload = if copy == 0 { &payload } else { b"{}" };
        chunk.push(&r).expect("a small row fits");
    }
    b.add_chunk(src, chunk);
    b.finish()
}

fn bench(c: &mut Criterion) {
    let events = trailscope_benches::events();
    let dir = trailscope_benches::dump(events.min(BASE));
    let (base, _) = ingest(&[dir], &IngestOptions::default(), None).unwrap();
    let generated = base.len();
    let store = if events > generated { tile(&base, events) } else { base };
    let n = store.len();
    eprintln!("query benchmark store: {n} events");
    let mut g = c.benchmark_group("query");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    let columns = "eventName in (GetObject, PutObject, ListBuckets) and sourceIPAddress in 203.0.113.0/24 \
                   and userAgent contains aws-cli and not errorCode exists";
    g.bench_function(format!("column-predicates-{n}"), |b| b.iter(|| select(&store, &parse(columns).unwrap()).count()));
    let window = "eventTime between 2024-03-05T00:00:00Z and 2024-03-05T12:00:00Z and eventSource = s3.amazonaws.com";
    g.bench_function(format!("time-range-and-column-{n}"), |b| {
        b.iter(|| select(&store, &parse(window).unwrap()).count())
    });
    let all = select(&store, &parse("*").unwrap());
    let by_principal = Aggregation { group_by: vec!["userIdentity.arn".into()], ..Default::default() };
    g.bench_function(format!("group-by-principal-{n}"), |b| b.iter(|| answer(&store, &all, &by_principal).unwrap()));
    let errors = Aggregation {
        group_by: vec!["userIdentity.arn".into(), "errorCode".into()],
        distinct: Some("sourceIPAddress".into()),
        ..Default::default()
    };
    g.bench_function(format!("errors-by-principal-distinct-ips-{n}"), |b| {
        b.iter(|| answer(&store, &select(&store, &parse("errorCode exists").unwrap()), &errors).unwrap())
    });
    let hourly = Aggregation { bucket: Some("1h".into()), group_by: vec!["awsRegion".into()], ..Default::default() };
    g.bench_function(format!("bucket-1h-by-region-{n}"), |b| b.iter(|| answer(&store, &all, &hourly).unwrap()));
    // A payload path is read per row that reaches it: measured on the generated rows only.
    let reads = parse("eventName = GetObject").unwrap();
    // Rows are in time order and the copies follow the generated rows: those come first.
    let mut copy0 = Selection::all(n);
    copy0.keep_range(0..generated);
    let per_bucket = Aggregation {
        group_by: vec!["requestParameters.bucketName".into()],
        sum: Some("additionalEventData.bytesTransferredOut".into()),
        ..Default::default()
    };
    let mut sel = select(&store, &reads);
    sel.and(&copy0);
    g.throughput(Throughput::Elements(sel.count() as u64));
    g.bench_function(format!("payload-group-by-bucket-{}-reads", sel.count()), |b| {
        b.iter(|| answer(&store, &sel, &per_bucket).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
