//! Answers over the selected events: the events themselves, or a table of groups with counts,
//! first and last seen, distinct counts and sums.
//!
//! Group keys are integers: a column contributes its dictionary id (`Store::column(f).get(row)`,
//! no string touched per row), a payload path the id of its value text in a table local to the
//! query, a time bucket its index. A key is a short `[u64]`, looked up without allocating.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;
use serde_json::Value;
use trailscope_indicators::{check_record_path, sigma::parse_duration, Expr, Predicate};
use trailscope_store::{chrono_free_iso, Field, Fields, Selection, Store, Sym};

use crate::error::QueryError;

/// What to compute over the events that match.
#[derive(Debug, Clone, Default)]
pub struct Aggregation {
    /// Only how many rows the answer has: events, or groups with `group_by`/`bucket`, or
    /// distinct values with `distinct` alone.
    pub count: bool,
    /// Count per distinct combination of these paths.
    pub group_by: Vec<String>,
    /// Keep the N groups with the most events (without groups: the first N events).
    pub top: Option<usize>,
    /// Alone: the distinct values of this path. With groups: how many per group.
    pub distinct: Option<String>,
    /// Add up this numeric path per group (e.g. `additionalEventData.bytesTransferredOut`).
    pub sum: Option<String>,
    /// Counts over time in buckets of this width (`1h`, `15m`, `1d`).
    pub bucket: Option<String>,
    /// The listing's columns (paths); empty for the default ones.
    pub fields: Vec<String>,
}

/// The listing's columns when `fields` is empty.
pub const DEFAULT_FIELDS: [&str; 7] =
    ["eventTime", "eventName", "userIdentity.arn", "sourceIPAddress", "awsRegion", "errorCode", "eventID"];

/// An answer: the matching events, or a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Matching rows in time order, with the columns to list.
    Events {
        /// Store rows.
        rows: Vec<usize>,
        /// Paths to show.
        fields: Vec<String>,
    },
    /// Rows of cells (strings, numbers, or null for an absent value).
    Table(Table),
}

/// A table of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Value>>,
}

/// The rows of `store` for which `expr` holds: compiled once against the store's dictionaries.
pub fn select(store: &Store, expr: &Expr) -> Selection {
    Predicate::compile(expr, store).eval_store(store)
}

/// One part of a group key.
#[derive(Debug, Clone)]
enum Key {
    /// A string column: its dictionary id.
    Column(Field),
    /// Any other path: its value's text, interned per query.
    Path(String),
}

impl Key {
    fn new(option: &'static str, path: &str) -> Result<Key, QueryError> {
        check_path(option, path)?;
        Ok(match Field::from_path(path) {
            Some(f) => Key::Column(f),
            None => Key::Path(path.to_owned()),
        })
    }
}

/// Refuse a path no CloudTrail record has, naming the option.
fn check_path(option: &'static str, path: &str) -> Result<(), QueryError> {
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(QueryError::Option { option, reason: format!("`{path}` is not a field path") });
    }
    check_record_path(path).map_err(|suggestion| QueryError::Option {
        option,
        reason: format!(
            "CloudTrail records have no field `{path}`{}",
            suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default()
        ),
    })
}

/// Value texts of payload paths, as ids (0: absent or null).
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u64, RandomState>,
    texts: Vec<String>,
}

impl Interner {
    fn id(&mut self, v: Option<Value>) -> u64 {
        let text = match v {
            None | Some(Value::Null) => return 0,
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
        };
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        self.texts.push(text.clone());
        let id = self.texts.len() as u64;
        self.ids.insert(text, id);
        id
    }

    fn text(&self, id: u64) -> Option<&str> {
        (id > 0).then(|| self.texts[id as usize - 1].as_str())
    }
}

/// The value of a path for one row, as the listing shows it: `eventTime` as ISO 8601, columns
/// and payload paths as stored (absent: null).
pub fn field_value(store: &Store, row: usize, fields: &Fields<'_>, path: &str) -> Value {
    if path == "eventTime" {
        return Value::String(chrono_free_iso(store.times()[row]));
    }
    fields.get(path).unwrap_or(Value::Null)
}

/// Per group: events, first and last time, distinct values, sum.
#[derive(Debug, Clone, Copy)]
struct Stats {
    count: u64,
    first: i64,
    last: i64,
    distinct: u64,
    sum: f64,
}

/// Compute the answer over the selected rows.
///
/// # Errors
/// [`QueryError::Option`] for a path no record has, a bad bucket width, or options that do
/// not go together.
pub fn answer(store: &Store, selected: &Selection, agg: &Aggregation) -> Result<Answer, QueryError> {
    let bucket_ms = agg
        .bucket
        .as_deref()
        .map(|b| match parse_duration(b) {
            Some(ms) if ms > 0 => Ok(ms),
            _ => Err(QueryError::Option {
                option: "bucket",
                reason: format!("`{b}` is not a width such as 15m, 1h or 1d"),
            }),
        })
        .transpose()?;
    let keys = agg.group_by.iter().map(|p| Key::new("group-by", p)).collect::<Result<Vec<_>, _>>()?;
    let distinct = agg.distinct.as_deref().map(|p| Key::new("distinct", p)).transpose()?;
    if let Some(p) = &agg.sum {
        check_path("sum", p)?;
    }
    for p in &agg.fields {
        check_path("fields", p)?;
    }
    let grouped = !keys.is_empty() || bucket_ms.is_some();
    if agg.count && agg.top.is_some() {
        return Err(QueryError::Option { option: "top", reason: "--count counts every row: drop --top".into() });
    }
    if agg.sum.is_some() && !grouped {
        return Err(QueryError::Option {
            option: "sum",
            reason: "adds up per group: give --group-by or --bucket".into(),
        });
    }
    if !agg.fields.is_empty() && (grouped || distinct.is_some() || agg.count) {
        return Err(QueryError::Option {
            option: "fields",
            reason: "picks the listing's columns: not with aggregations".into(),
        });
    }
    if !grouped {
        if let Some(d) = distinct {
            // The distinct values alone: a group-by of one key without the statistics.
            let table = group(store, selected, std::slice::from_ref(&d), None, None, None);
            let name = agg.distinct.clone().unwrap_or_default();
            let mut rows: Vec<Vec<Value>> = table.into_iter().map(|(k, _)| k).collect();
            rows.sort_by(|a, b| cmp_cells(&a[0], &b[0]));
            if agg.count {
                return Ok(count_table(&format!("distinct({name})"), rows.len()));
            }
            rows.truncate(agg.top.unwrap_or(usize::MAX));
            return Ok(Answer::Table(Table { columns: vec![name], rows }));
        }
        if agg.count {
            return Ok(count_table("count", selected.count()));
        }
        let fields = if agg.fields.is_empty() {
            DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect()
        } else {
            agg.fields.clone()
        };
        let rows = selected.iter().take(agg.top.unwrap_or(usize::MAX)).collect();
        return Ok(Answer::Events { rows, fields });
    }
    let mut groups = group(store, selected, &keys, bucket_ms, distinct.as_ref(), agg.sum.as_deref());
    if agg.count {
        return Ok(count_table("groups", groups.len()));
    }
    // Largest first (ties by key, so the answer never depends on hashing); --top cuts here;
    // buckets then read in time order.
    groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| cmp_keys(&a.0, &b.0)));
    groups.truncate(agg.top.unwrap_or(usize::MAX));
    if bucket_ms.is_some() {
        groups.sort_by(|a, b| {
            cmp_cells(&a.0[0], &b.0[0]).then(b.1.count.cmp(&a.1.count)).then_with(|| cmp_keys(&a.0, &b.0))
        });
    }
    let mut columns: Vec<String> =
        bucket_ms.map(|_| "bucket".to_owned()).into_iter().chain(agg.group_by.iter().cloned()).collect();
    columns.extend(["count", "first_seen", "last_seen"].map(String::from));
    if let Some(d) = &agg.distinct {
        columns.push(format!("distinct({d})"));
    }
    if let Some(s) = &agg.sum {
        columns.push(format!("sum({s})"));
    }
    let rows = groups
        .into_iter()
        .map(|(mut key, s)| {
            key.push(Value::from(s.count));
            key.push(Value::String(chrono_free_iso(s.first)));
            key.push(Value::String(chrono_free_iso(s.last)));
            if agg.distinct.is_some() {
                key.push(Value::from(s.distinct));
            }
            if agg.sum.is_some() {
                // Whole numbers (byte counts) print without a fraction.
                key.push(if s.sum.fract() == 0.0 && s.sum.abs() < 9e15 {
                    Value::from(s.sum as i64)
                } else {
                    Value::from(s.sum)
                });
            }
            key
        })
        .collect();
    Ok(Answer::Table(Table { columns, rows }))
}

fn count_table(name: &str, n: usize) -> Answer {
    Answer::Table(Table { columns: vec![name.to_owned()], rows: vec![vec![Value::from(n)]] })
}

/// Absent values last; numbers by value; strings by text.
fn cmp_cells(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn cmp_keys(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    a.iter().zip(b).map(|(x, y)| cmp_cells(x, y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
}

/// Most key combinations grouped by array lookup rather than hashing (4 MiB of slots).
const DENSE_GROUPS: u64 = 1 << 20;

/// Group the selected rows by bucket and keys; the keys come back as cells.
fn group(
    store: &Store,
    selected: &Selection,
    keys: &[Key],
    bucket_ms: Option<i64>,
    distinct: Option<&Key>,
    sum: Option<&str>,
) -> Vec<(Vec<Value>, Stats)> {
    let width = keys.len() + usize::from(bucket_ms.is_some());
    let mut index: HashMap<Box<[u64]>, usize, RandomState> = HashMap::default();
    let mut stats: Vec<Stats> = Vec::new();
    let mut group_keys: Vec<Box<[u64]>> = Vec::new();
    let mut seen: HashSet<(usize, u64), RandomState> = HashSet::default();
    let mut interner = Interner::default();
    let mut key = vec![0u64; width];
    let needs_payload = keys.iter().chain(distinct).any(|k| matches!(k, Key::Path(_))) || sum.is_some();
    let times = store.times();
    let columns: Vec<_> = keys
        .iter()
        .map(|k| match k {
            Key::Column(f) => Some(store.column(*f)),
            Key::Path(_) => None,
        })
        .collect();
    // When every key part is a column id or the bucket and the combinations are few, a group is
    // one array lookup by the parts' mixed-radix number, no hashing (the group-bys examiners run
    // most: principals, event names, regions, hours).
    let bucket_lo = bucket_ms.map_or(0, |b| times.first().map_or(0, |t| t.div_euclid(b)) as u64);
    let mut radix: Vec<u64> = bucket_ms
        .map(|b| times.last().map_or(0, |t| t.div_euclid(b) as u64).wrapping_sub(bucket_lo) + 1)
        .into_iter()
        .collect();
    radix.extend(keys.iter().map(|k| match k {
        Key::Column(f) => store.dict(*f).len() as u64,
        Key::Path(_) => u64::MAX,
    }));
    let combinations = radix.iter().try_fold(1u64, |a, &r| a.checked_mul(r.max(1)));
    let mut slots: Option<Vec<u32>> = match combinations {
        Some(n) if n <= DENSE_GROUPS => Some(vec![u32::MAX; n as usize]),
        _ => None,
    };
    if let (Some(_), None, None) = (&slots, distinct, sum) {
        return dense(store, selected, keys, bucket_ms, bucket_lo, &radix);
    }
    let mut bucket_start = i64::MAX;
    for row in selected.iter() {
        let t = times[row];
        let fields = needs_payload.then(|| store.event(row).fields());
        let mut i = 0;
        if let Some(b) = bucket_ms {
            // Rows come in time order: divide only when a row leaves the current bucket.
            if !(bucket_start..bucket_start.saturating_add(b)).contains(&t) {
                bucket_start = t.div_euclid(b) * b;
                key[0] = t.div_euclid(b) as u64;
            }
            i = 1;
        }
        for (k, col) in keys.iter().zip(&columns) {
            key[i] = match (k, col, &fields) {
                (_, Some(c), _) => u64::from(c.get(row).0),
                (Key::Path(p), None, Some(f)) => interner.id(Some(field_value(store, row, f, p))),
                _ => 0,
            };
            i += 1;
        }
        let slot = slots.as_mut().map(|slots| {
            let mut idx = 0u64;
            for (j, (&part, &r)) in key.iter().zip(&radix).enumerate() {
                let part = if j == 0 { part.wrapping_sub(bucket_lo) } else { part };
                idx = idx * r + part;
            }
            &mut slots[idx as usize]
        });
        let known = match &slot {
            Some(s) => (**s != u32::MAX).then_some(**s as usize),
            None => index.get(&key[..]).copied(),
        };
        let g = match known {
            Some(g) => g,
            None => {
                let g = stats.len();
                match slot {
                    Some(s) => *s = g as u32,
                    None => {
                        index.insert(key.clone().into_boxed_slice(), g);
                    }
                }
                group_keys.push(key.clone().into_boxed_slice());
                stats.push(Stats { count: 0, first: t, last: t, distinct: 0, sum: 0.0 });
                g
            }
        };
        let s = &mut stats[g];
        s.count += 1;
        s.last = t;
        if let Some(d) = distinct {
            // Absent values are not a value: COUNT(DISTINCT x) skips nulls too.
            let v = match (d, &fields) {
                (Key::Column(f), _) => Some(store.column(*f).get(row)).filter(|s| !s.is_null()).map(|s| u64::from(s.0)),
                (Key::Path(p), Some(f)) => Some(interner.id(Some(field_value(store, row, f, p)))).filter(|&id| id != 0),
                _ => None,
            };
            if v.is_some_and(|v| seen.insert((g, v))) {
                s.distinct += 1;
            }
        }
        if let (Some(p), Some(f)) = (sum, &fields) {
            s.sum += number(&field_value(store, row, f, p));
        }
    }
    group_keys
        .into_iter()
        .zip(stats)
        .map(|(k, s)| {
            let mut cells = Vec::with_capacity(width);
            let mut parts = k.iter();
            if let Some(b) = bucket_ms {
                let start = *parts.next().unwrap_or(&0) as i64 * b;
                cells.push(Value::String(chrono_free_iso(start)));
            }
            for (key, &id) in keys.iter().zip(parts) {
                let text = match key {
                    Key::Column(f) => store.dict(*f).resolve(Sym(id as u32)),
                    Key::Path(_) => interner.text(id),
                };
                cells.push(text.map_or(Value::Null, |t| Value::String(t.to_owned())));
            }
            (cells, s)
        })
        .collect()
}

/// [`group`] when every key part is a column or the bucket, with nothing but counts and times
/// to keep: per-combination arrays indexed by the parts' mixed-radix number, one tight pass.
fn dense(
    store: &Store,
    selected: &Selection,
    keys: &[Key],
    bucket_ms: Option<i64>,
    bucket_lo: u64,
    radix: &[u64],
) -> Vec<(Vec<Value>, Stats)> {
    let size = radix.iter().product::<u64>().max(1) as usize;
    let mut count = vec![0u64; size];
    let mut first = vec![0i64; size];
    let mut last = vec![0i64; size];
    let times = store.times();
    let columns: Vec<_> = keys
        .iter()
        .filter_map(|k| match k {
            Key::Column(f) => Some(store.column(*f)),
            Key::Path(_) => None,
        })
        .collect();
    let column_radix = &radix[usize::from(bucket_ms.is_some())..];
    let (mut bucket_start, mut bucket_part) = (i64::MAX, 0u64);
    for row in selected.iter() {
        let t = times[row];
        let mut idx = 0u64;
        if let Some(b) = bucket_ms {
            if !(bucket_start..bucket_start.saturating_add(b)).contains(&t) {
                bucket_start = t.div_euclid(b) * b;
                bucket_part = (t.div_euclid(b) as u64).wrapping_sub(bucket_lo);
            }
            idx = bucket_part;
        }
        for (c, &r) in columns.iter().zip(column_radix) {
            idx = idx * r + u64::from(c.get(row).0);
        }
        let i = idx as usize;
        if count[i] == 0 {
            first[i] = t;
        }
        count[i] += 1;
        last[i] = t;
    }
    let mut out = Vec::new();
    for (i, &n) in count.iter().enumerate().filter(|(_, &n)| n > 0) {
        // Back from the mixed-radix number to its parts, last part first.
        let mut rest = i as u64;
        let mut parts = vec![0u64; radix.len()];
        for (p, &r) in parts.iter_mut().zip(radix).rev() {
            *p = rest % r;
            rest /= r;
        }
        let mut cells = Vec::with_capacity(parts.len());
        let mut parts = parts.into_iter();
        if let Some(b) = bucket_ms {
            let start = parts.next().unwrap_or(0).wrapping_add(bucket_lo) as i64 * b;
            cells.push(Value::String(chrono_free_iso(start)));
        }
        for (key, id) in keys.iter().zip(parts) {
            let text = match key {
                Key::Column(f) => store.dict(*f).resolve(Sym(id as u32)),
                Key::Path(_) => None,
            };
            cells.push(text.map_or(Value::Null, |t| Value::String(t.to_owned())));
        }
        out.push((cells, Stats { count: n, first: first[i], last: last[i], distinct: 0, sum: 0.0 }));
    }
    out
}

/// A numeric value (numbers, or strings holding one); anything else adds nothing.
fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trailscope_testkit::{store, with};

    /// Alice and bob read objects from two buckets from two addresses over three hours; one
    /// denied call.
    fn records() -> Vec<Value> {
        (0..30)
            .map(|n| {
                let user = if n % 3 == 0 { "bob" } else { "alice" };
                let bucket = if n % 2 == 0 { "acme-backups" } else { "acme-logs" };
                let mut over = json!({
                    "userIdentity": {"arn": format!("arn:aws:iam::111122223333:user/{user}"), "userName": user},
                    "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                    "sourceIPAddress": if n < 20 { "198.51.100.10" } else { "203.0.113.9" },
                    "requestParameters": {"bucketName": bucket, "key": format!("k{n}")},
                    "additionalEventData": {"bytesTransferredOut": 1000 + n},
                });
                if n == 7 {
                    over["errorCode"] = json!("AccessDenied");
                }
                with(n, n as i64 * 400, &over)
            })
            .collect()
    }

    fn table(a: Answer) -> Table {
        match a {
            Answer::Table(t) => t,
            other => panic!("expected a table, got {other:?}"),
        }
    }

    #[test]
    fn group_by_columns_and_payload_paths_with_statistics() {
        let recs = records();
        let s = store(&recs);
        let sel = select(&s, &crate::parse("eventName = getobject and sourceIPAddress in 198.51.100.0/24").unwrap());
        let agg = Aggregation {
            group_by: vec!["userIdentity.userName".into(), "requestParameters.bucketName".into()],
            distinct: Some("requestParameters.key".into()),
            sum: Some("additionalEventData.bytesTransferredOut".into()),
            ..Default::default()
        };
        let t = table(answer(&s, &sel, &agg).unwrap());
        assert_eq!(
            t.columns[..5],
            ["userIdentity.userName", "requestParameters.bucketName", "count", "first_seen", "last_seen"]
        );
        // Independently: the records themselves.
        let mut want: Vec<(String, String, u64, i64)> = Vec::new();
        for r in recs.iter().filter(|r| r["sourceIPAddress"] == "198.51.100.10") {
            let k = (
                r["userIdentity"]["userName"].as_str().unwrap(),
                r["requestParameters"]["bucketName"].as_str().unwrap(),
            );
            let bytes = r["additionalEventData"]["bytesTransferredOut"].as_i64().unwrap();
            match want.iter_mut().find(|w| (w.0.as_str(), w.1.as_str()) == k) {
                Some(w) => {
                    w.2 += 1;
                    w.3 += bytes;
                }
                None => want.push((k.0.into(), k.1.into(), 1, bytes)),
            }
        }
        assert_eq!(t.rows.len(), want.len());
        for w in &want {
            let row = t.rows.iter().find(|r| r[0] == w.0.as_str() && r[1] == w.1.as_str()).expect("group");
            assert_eq!(row[2], json!(w.2));
            assert_eq!(row[5], json!(w.2), "every key distinct");
            assert_eq!(row[6], json!(w.3));
        }
        let counts: Vec<u64> = t.rows.iter().map(|r| r[2].as_u64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "largest first: {counts:?}");
        let first = recs.iter().find(|r| r["userIdentity"]["userName"] == "bob").unwrap()["eventTime"].clone();
        let bob = t.rows.iter().filter(|r| r[0] == "bob").map(|r| r[3].as_str().unwrap()).min().unwrap();
        assert_eq!(json!(bob), first);

        let top = table(answer(&s, &sel, &Aggregation { top: Some(1), ..agg.clone() }).unwrap());
        assert_eq!(top.rows, t.rows[..1]);
        let groups = table(answer(&s, &sel, &Aggregation { count: true, sum: None, ..agg }).unwrap());
        assert_eq!(groups.rows, [[json!(want.len())]]);
    }

    #[test]
    fn buckets_distinct_counts_and_listing() {
        let recs = records();
        let s = store(&recs);
        let all = select(&s, &Expr::True);
        let t = table(answer(&s, &all, &Aggregation { bucket: Some("1h".into()), ..Default::default() }).unwrap());
        // 30 events 400 s apart from 10:00: 9 in each full hour, 3 in the last.
        let per_hour: Vec<(Value, Value)> = t.rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
        let mut want = std::collections::BTreeMap::<String, u64>::new();
        for r in &recs {
            *want.entry(format!("{}:00:00Z", &r["eventTime"].as_str().unwrap()[..13])).or_default() += 1;
        }
        assert_eq!(per_hour, want.into_iter().map(|(k, v)| (json!(k), json!(v))).collect::<Vec<_>>());

        let ips = table(
            answer(&s, &all, &Aggregation { distinct: Some("sourceIPAddress".into()), ..Default::default() }).unwrap(),
        );
        assert_eq!(ips.rows, [[json!("198.51.100.10")], [json!("203.0.113.9")]]);
        let n = table(
            answer(
                &s,
                &all,
                &Aggregation { distinct: Some("sourceIPAddress".into()), count: true, ..Default::default() },
            )
            .unwrap(),
        );
        assert_eq!(n.rows, [[json!(2)]]);

        let denied = select(&s, &crate::parse("errorCode exists").unwrap());
        let Answer::Events { rows, fields } = answer(&s, &denied, &Aggregation::default()).unwrap() else { panic!() };
        assert_eq!(rows.len(), 1);
        assert_eq!(fields, DEFAULT_FIELDS);
        let e = s.event(rows[0]);
        assert_eq!(field_value(&s, rows[0], &e.fields(), "requestParameters.key"), json!("k7"));
        assert_eq!(field_value(&s, rows[0], &e.fields(), "eventTime"), recs[7]["eventTime"]);

        let window =
            select(&s, &crate::parse("eventTime between 2024-05-01T10:10:00Z and 2024-05-01T10:30:00Z").unwrap());
        let want = recs
            .iter()
            .filter(|r| ("2024-05-01T10:10:00Z"..="2024-05-01T10:30:00Z").contains(&r["eventTime"].as_str().unwrap()))
            .count();
        assert_eq!(window.count(), want);
    }

    #[test]
    fn array_and_hash_grouping_agree() {
        let s = store(&records());
        let all = select(&s, &Expr::True);
        let keys = Aggregation {
            bucket: Some("1h".into()),
            group_by: vec!["userIdentity.userName".into(), "sourceIPAddress".into()],
            ..Default::default()
        };
        // Only counts and times: the array pass. A distinct count takes the general one.
        let plain = table(answer(&s, &all, &keys).unwrap());
        let general = table(answer(&s, &all, &Aggregation { distinct: Some("eventID".into()), ..keys }).unwrap());
        assert!(plain.rows.len() > 3, "{plain:?}");
        let head = |t: &Table| t.rows.iter().map(|r| r[..6].to_vec()).collect::<Vec<_>>();
        assert_eq!(head(&plain), head(&general));
        let events: u64 = plain.rows.iter().map(|r| r[3].as_u64().unwrap()).sum();
        assert_eq!(events, 30);
    }

    #[test]
    fn options_are_checked() {
        let s = store(&records());
        let all = select(&s, &Expr::True);
        let err = |a: Aggregation| answer(&s, &all, &a).unwrap_err().to_string();
        assert!(err(Aggregation { group_by: vec!["sourceIpAddress".into()], ..Default::default() })
            .contains("did you mean sourceIPAddress"));
        assert!(err(Aggregation { bucket: Some("hourly".into()), ..Default::default() }).starts_with("--bucket"));
        assert!(err(Aggregation { sum: Some("additionalEventData.bytesTransferredOut".into()), ..Default::default() })
            .starts_with("--sum"));
        assert!(err(Aggregation { count: true, top: Some(3), ..Default::default() }).starts_with("--top"));
    }
}
