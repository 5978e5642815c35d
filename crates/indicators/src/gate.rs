//! A filter's conservative form for a filtered scan: decided on one record's column strings and
//! time before the record is stored, it rejects only records the compiled [`Predicate`] would
//! reject, and says "maybe" for everything it cannot decide from those values alone.
//!
//! [`Predicate`]: crate::Predicate

use trailscope_store::{Field, RowValues};

use crate::expr::{Expr, Test};
use crate::predicate::{base_event_name, str_passes};

/// What a gate knows about one record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The predicate surely holds.
    Yes,
    /// The predicate surely does not hold.
    No,
    /// Not decidable from the columns and time (a payload path, a keyword, a flag, a value that
    /// was not a string).
    Maybe,
}

impl Verdict {
    fn not(self) -> Verdict {
        match self {
            Verdict::Yes => Verdict::No,
            Verdict::No => Verdict::Yes,
            Verdict::Maybe => Verdict::Maybe,
        }
    }
}

/// The verdicts a gate can give.
struct Outcomes {
    yes: bool,
    no: bool,
    maybe: bool,
}

/// An [`Expr`] reduced to the tests a record's columns and time decide.
#[derive(Clone, Debug, PartialEq)]
pub enum Gate {
    /// The same verdict for every record.
    Const(Verdict),
    /// A test on a string column, decided as [`Predicate::compile`] decides it per dictionary
    /// value (absent and null are the null id; a non-string value is "maybe": the store keeps
    /// its JSON text).
    ///
    /// [`Predicate::compile`]: crate::Predicate::compile
    Column {
        /// The column.
        field: Field,
        /// The test (not a field reference, not a time range).
        test: Test,
    },
    /// `eventTime` within inclusive bounds (epoch ms).
    Time {
        /// Earliest, if bounded.
        from: Option<i64>,
        /// Latest, if bounded.
        to: Option<i64>,
    },
    /// Every part holds.
    All(Vec<Gate>),
    /// At least one part holds.
    Any(Vec<Gate>),
    /// Negation: decided only where the part is decided.
    Not(Box<Gate>),
}

impl Gate {
    /// The gate of an expression. `None` when it could never reject a record (nothing in it is
    /// decided by columns or time): a scan gains nothing from it.
    pub fn of(expr: &Expr) -> Option<Gate> {
        let g = Gate::build(expr);
        g.outcomes().no.then_some(g)
    }

    /// Which verdicts the gate can give (over-approximated: a combination may be impossible).
    fn outcomes(&self) -> Outcomes {
        match self {
            Gate::Const(v) => Outcomes { yes: *v == Verdict::Yes, no: *v == Verdict::No, maybe: *v == Verdict::Maybe },
            Gate::Column { .. } | Gate::Time { .. } => Outcomes { yes: true, no: true, maybe: false },
            Gate::All(parts) | Gate::Any(parts) => {
                let all = matches!(self, Gate::All(_));
                let o: Vec<Outcomes> = parts.iter().map(Gate::outcomes).collect();
                // All is No when one part is, Yes when every part is; Any the other way round.
                let flip = |p: &Outcomes| if all { (p.no, p.yes) } else { (p.yes, p.no) };
                let decided = o.iter().any(|p| flip(p).0);
                let through = o.iter().all(|p| flip(p).1);
                let maybe = o.iter().any(|p| p.maybe) && o.iter().all(|p| p.maybe || flip(p).1);
                if all {
                    Outcomes { yes: through, no: decided, maybe }
                } else {
                    Outcomes { yes: decided, no: through, maybe }
                }
            }
            Gate::Not(p) => {
                let o = p.outcomes();
                Outcomes { yes: o.no, no: o.yes, maybe: o.maybe }
            }
        }
    }

    fn build(expr: &Expr) -> Gate {
        match expr {
            Expr::True => Gate::Const(Verdict::Yes),
            // As compiled: a time test on any path is the time column.
            Expr::Field { test: Test::Time { from, to }, .. } => match (from, to) {
                (Some(a), Some(b)) if a > b => Gate::Const(Verdict::No),
                (None, None) => Gate::Const(Verdict::Yes),
                _ => Gate::Time { from: *from, to: *to },
            },
            Expr::Field { path, test } => match Field::from_path(path) {
                // Flags (readOnly, managementEvent) and payload paths are left to the predicate.
                None => Gate::Const(Verdict::Maybe),
                Some(_) if matches!(test, Test::FieldRef(_)) => Gate::Const(Verdict::Maybe),
                Some(field) => Gate::Column { field, test: test.clone() },
            },
            Expr::Keyword(_) => Gate::Const(Verdict::Maybe),
            Expr::And(v) => Gate::fold(v, Verdict::Yes, Gate::All),
            Expr::Or(v) => Gate::fold(v, Verdict::No, Gate::Any),
            Expr::Not(e) => match Gate::build(e) {
                Gate::Const(v) => Gate::Const(v.not()),
                g => Gate::Not(Box::new(g)),
            },
        }
    }

    /// A conjunction (`neutral` Yes) or disjunction (`neutral` No) of the gates of `exprs`: a
    /// part with the opposite verdict decides the whole and parts with the neutral one drop out;
    /// then `neutral` when none is left, "maybe" when only "maybe"s are, else the combination.
    fn fold(exprs: &[Expr], neutral: Verdict, make: fn(Vec<Gate>) -> Gate) -> Gate {
        let mut parts = Vec::new();
        for g in exprs.iter().map(Gate::build) {
            match g {
                Gate::Const(v) if v == neutral.not() => return g,
                Gate::Const(v) if v == neutral => {}
                g => parts.push(g),
            }
        }
        if parts.is_empty() {
            return Gate::Const(neutral);
        }
        if parts.iter().all(|g| *g == Gate::Const(Verdict::Maybe)) {
            return Gate::Const(Verdict::Maybe);
        }
        if parts.len() == 1 {
            return parts.pop().unwrap_or(Gate::Const(Verdict::Maybe));
        }
        make(parts)
    }

    /// The verdict on one record (its columns as the parser found them, before interning).
    pub fn verdict(&self, row: &RowValues<'_>) -> Verdict {
        match self {
            Gate::Const(v) => *v,
            Gate::Column { field, test } => {
                let i = field.index();
                if row.spilled & (1 << i) != 0 {
                    // A number, boolean, object or array: the store keeps its JSON text.
                    return Verdict::Maybe;
                }
                let value = row.strings[i];
                let pass = match test {
                    Test::Null => value.is_none(),
                    Test::Exists(e) => value.is_none() != *e,
                    _ => value.is_some_and(|v| {
                        str_passes(test, v)
                            || (*field == Field::EventName && {
                                let base = base_event_name(v);
                                base != v && str_passes(test, base)
                            })
                    }),
                };
                if pass {
                    Verdict::Yes
                } else {
                    Verdict::No
                }
            }
            Gate::Time { from, to } => {
                let t = row.time_ms;
                if from.is_some_and(|f| t < f) || to.is_some_and(|e| t > e) {
                    Verdict::No
                } else {
                    Verdict::Yes
                }
            }
            Gate::All(parts) => {
                let mut out = Verdict::Yes;
                for p in parts {
                    match p.verdict(row) {
                        Verdict::No => return Verdict::No,
                        Verdict::Maybe => out = Verdict::Maybe,
                        Verdict::Yes => {}
                    }
                }
                out
            }
            Gate::Any(parts) => {
                let mut out = Verdict::No;
                for p in parts {
                    match p.verdict(row) {
                        Verdict::Yes => return Verdict::Yes,
                        Verdict::Maybe => out = Verdict::Maybe,
                        Verdict::No => {}
                    }
                }
                out
            }
            Gate::Not(p) => p.verdict(row).not(),
        }
    }

    /// Whether a record may match: false only when it surely does not.
    pub fn admits(&self, row: &RowValues<'_>) -> bool {
        self.verdict(row) != Verdict::No
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{json, Value};
    use trailscope_ingest::{ingest, IngestOptions, IngestReport, RecordGate};
    use trailscope_store::{Selection, Store};
    use trailscope_testkit::{record, time, with};

    use super::*;
    use crate::expr::{and, contains, eq, not, null, or, StrMatch};
    use crate::Predicate;

    fn row<'a>(name: Option<&'a str>) -> RowValues<'a> {
        let mut r = RowValues { time_ms: 1_000, ..Default::default() };
        r.strings[Field::EventName.index()] = name;
        r.strings[Field::EventSource.index()] = Some("iam.amazonaws.com");
        r
    }

    fn verdict(e: &Expr, r: &RowValues<'_>) -> Verdict {
        Gate::build(e).verdict(r)
    }

    #[test]
    fn column_tests_are_decided_as_compiled() {
        let create = eq("eventName", &["CreateUser"]);
        assert_eq!(verdict(&create, &row(Some("CreateUser"))), Verdict::Yes);
        assert_eq!(verdict(&create, &row(Some("createuser"))), Verdict::Yes, "case-insensitive like compile");
        assert_eq!(verdict(&create, &row(Some("CreateUsers"))), Verdict::No);
        let cased = Expr::Field { path: "eventName".into(), test: Test::Str(vec![StrMatch::eq("CreateUser").cased()]) };
        assert_eq!(verdict(&cased, &row(Some("createuser"))), Verdict::No, "|cased");
        // Missing or null: the null id, which no string test accepts and a null test does.
        assert_eq!(verdict(&create, &row(None)), Verdict::No);
        assert_eq!(verdict(&null("eventName"), &row(None)), Verdict::Yes);
        assert_eq!(verdict(&null("userIdentity.userName"), &row(Some("X"))), Verdict::Yes, "absent field");
        assert_eq!(verdict(&not(null("errorCode")), &row(Some("X"))), Verdict::No);
        // A number where a string belongs: the store keeps its text ("123"): not decided here.
        let mut n = row(None);
        n.spilled = 1 << Field::EventName.index();
        assert_eq!(verdict(&eq("eventName", &["123"]), &n), Verdict::Maybe);
        assert_eq!(verdict(&null("eventName"), &n), Verdict::Maybe);
        assert_eq!(verdict(&not(eq("eventName", &["123"])), &n), Verdict::Maybe);
        // Lambda's versioned names match their base name, as compiled.
        let lambda = row(Some("UpdateFunctionCode20150331v2"));
        assert_eq!(verdict(&eq("eventName", &["UpdateFunctionCode"]), &lambda), Verdict::Yes);
        assert_eq!(verdict(&eq("eventName", &["UpdateFunction"]), &lambda), Verdict::No);
        // Wildcards and contains, through StrMatch itself.
        let glob = Expr::Field {
            path: "eventName".into(),
            test: Test::Str(vec![StrMatch::glob("create*r", false).expect("glob")]),
        };
        assert_eq!(verdict(&glob, &row(Some("CreateUser"))), Verdict::Yes);
        assert_eq!(verdict(&glob, &row(Some("CreateRole"))), Verdict::No);
        assert_eq!(verdict(&contains("eventName", &["user"]), &row(Some("ListUsers"))), Verdict::Yes);
    }

    #[test]
    fn what_columns_cannot_decide_is_maybe() {
        let payload =
            Expr::Field { path: "requestParameters.userName".into(), test: Test::Str(vec![StrMatch::eq("x")]) };
        let flag = eq("readOnly", &["true"]);
        let keyword = Expr::Keyword(vec![StrMatch::contains("evil")]);
        let fieldref = Expr::Field { path: "userIdentity.userName".into(), test: Test::FieldRef("eventName".into()) };
        for e in [&payload, &flag, &keyword, &fieldref] {
            assert_eq!(verdict(e, &row(Some("CreateUser"))), Verdict::Maybe, "{e:?}");
            assert_eq!(Gate::of(e), None, "a gate that can reject nothing is not used: {e:?}");
            assert_eq!(Gate::of(&not(e.clone())), None, "negated unknown: {e:?}");
        }
        // All: rejected when a decided part rejects; Any: only when every part is decided No.
        let create = eq("eventName", &["CreateUser"]);
        let both = and(vec![create.clone(), payload.clone()]);
        assert_eq!(verdict(&both, &row(Some("ListUsers"))), Verdict::No);
        assert_eq!(verdict(&both, &row(Some("CreateUser"))), Verdict::Maybe);
        let either = or(vec![create.clone(), payload.clone()]);
        assert_eq!(verdict(&either, &row(Some("ListUsers"))), Verdict::Maybe);
        assert_eq!(Gate::of(&either), None);
        assert_eq!(
            verdict(&or(vec![create.clone(), eq("eventName", &["ListUsers"])]), &row(Some("GetUser"))),
            Verdict::No
        );
        // Not over a Maybe part stays Maybe; over a decided one it decides.
        assert_eq!(verdict(&not(both.clone()), &row(Some("CreateUser"))), Verdict::Maybe);
        assert_eq!(verdict(&not(both), &row(Some("ListUsers"))), Verdict::Yes);
        assert_eq!(verdict(&not(create), &row(Some("CreateUser"))), Verdict::No);
        assert_eq!(Gate::of(&Expr::True), None);
    }

    #[test]
    fn time_bounds_are_inclusive() {
        let w = |from, to| Expr::Field { path: "eventTime".into(), test: Test::Time { from, to } };
        let r = row(Some("X"));
        assert_eq!(verdict(&w(Some(1_000), Some(1_000)), &r), Verdict::Yes);
        assert_eq!(verdict(&w(Some(1_001), None), &r), Verdict::No);
        assert_eq!(verdict(&w(None, Some(999)), &r), Verdict::No);
        assert_eq!(Gate::of(&w(Some(2), Some(1))), Some(Gate::Const(Verdict::No)));
        assert_eq!(Gate::of(&w(None, None)), None);
    }

    #[derive(Debug)]
    struct Adapter(Gate);
    impl RecordGate for Adapter {
        fn admits(&self, row: &RowValues<'_>) -> bool {
            self.0.admits(row)
        }
    }

    fn ingest_records(dir: &std::path::Path, gate: Option<Gate>) -> (Store, IngestReport) {
        let opts = IngestOptions {
            threads: 1,
            gate: gate.map(|g| Arc::new(Adapter(g)) as Arc<dyn RecordGate>),
            ..Default::default()
        };
        ingest(&[dir.to_path_buf()], &opts, None).expect("ingest")
    }

    fn selected(store: &Store, e: &Expr) -> Vec<Value> {
        let sel = Predicate::compile(e, store).eval(store, &Selection::all(store.len()));
        sel.iter().map(|r| store.event(r).to_json()).collect()
    }

    /// Whatever the expression, the events it selects from a gated ingest are those it selects
    /// from a full one: odd values (a numeric errorCode, a null identity, Lambda names, case)
    /// included.
    #[test]
    fn a_gated_ingest_answers_as_a_full_one() {
        let recs = vec![
            record(0, 0),
            with(1, 1, &json!({"eventName": "CreateUser", "eventSource": "iam.amazonaws.com"})),
            with(2, 2, &json!({"eventName": "createuser", "errorCode": "AccessDenied"})),
            with(3, 3, &json!({"eventName": "UpdateFunctionCode20150331v2", "errorCode": 403})),
            with(4, 4, &json!({"userIdentity": null, "sourceIPAddress": "203.0.113.9"})),
            with(5, 5, &json!({"recipientAccountId": "999988887777", "requestParameters": {"userName": "mallory"}})),
            with(6, 6, &json!({"eventName": "CreateUser", "userIdentity": {"userName": null, "accountId": 42}})),
            json!({"eventTime": time(7), "eventSource": "iam.amazonaws.com"}),
            with(1, 1, &json!({"eventName": "CreateUser", "eventSource": "iam.amazonaws.com"})),
        ];
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.json"), serde_json::to_vec(&json!({ "Records": recs })).expect("json"))
            .expect("write");
        let (full, full_report) = ingest_records(dir.path(), None);
        let payload =
            Expr::Field { path: "requestParameters.userName".into(), test: Test::Str(vec![StrMatch::eq("mallory")]) };
        let window = Expr::Field {
            path: "eventTime".into(),
            test: Test::Time { from: Some(full.times()[2]), to: Some(full.times()[5]) },
        };
        let exprs = vec![
            eq("eventName", &["CreateUser"]),
            eq("eventName", &["UpdateFunctionCode"]),
            eq("errorCode", &["403"]),
            not(null("errorCode")),
            null("userIdentity.userName"),
            eq("userIdentity.accountId", &["42"]),
            or(vec![eq("recipientAccountId", &["999988887777"]), eq("userIdentity.accountId", &["999988887777"])]),
            and(vec![eq("eventName", &["GetCallerIdentity"]), payload.clone()]),
            not(eq("eventName", &["GetCallerIdentity"])),
            and(vec![window, not(eq("sourceIPAddress", &["203.0.113.9"]))]),
        ];
        let mut narrowed = 0;
        for e in &exprs {
            let gate = Gate::of(e).expect("each test expression has a decided part");
            let (gated, report) = ingest_records(dir.path(), Some(gate));
            assert_eq!(selected(&gated, e), selected(&full, e), "{e:?}");
            assert_eq!(report.records(), full_report.records());
            assert_eq!(report.rejected(), full_report.rejected(), "rejects stay rejects");
            assert_eq!(
                report.records(),
                report.stored() + report.duplicates() + report.rejected() + report.not_matching()
            );
            narrowed += usize::from(report.not_matching() > 0);
        }
        assert!(narrowed >= exprs.len() - 1, "the gates left records out");
    }
}
