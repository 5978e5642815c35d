//! The expression language, parsed by recursive descent straight into the indicators' [`Expr`].
//!
//! ```text
//! query      := '*' | or
//! or         := and ('or' and)*
//! and        := unary ('and' unary)*
//! unary      := 'not' unary | '(' or ')' | condition
//! condition  := PATH test
//! test       := ('=' | '!=' | '<' | '<=' | '>' | '>=') value
//!             | 'not'? 'in' ( '(' value (',' value)* ')' | CIDR )
//!             | 'not'? ('contains' | 'startswith' | 'endswith') value
//!             | 'not'? 'matches' '/' REGEX '/' 'i'?
//!             | 'not'? 'exists'
//!             | 'not'? 'between' value 'and' value
//! value      := WORD | '"' ... '"' | '\'' ... '\''
//! ```

use ipnet::IpNet;
use trailscope_indicators::{check_record_path, Expr, NumOp, StrMatch, Test};
use trailscope_ingest::parse_event_time;

use crate::error::QueryError;

/// Parse a query into an expression.
///
/// # Errors
/// [`QueryError::Parse`] naming the byte (and column) where the text stopped making sense.
pub fn parse(text: &str) -> Result<Expr, QueryError> {
    let mut p = Parser { text, pos: 0 };
    p.skip_ws();
    if p.pos == text.len() {
        return Err(p.err("empty query (write * for every event)"));
    }
    if p.rest().trim() == "*" {
        return Ok(Expr::True);
    }
    let e = p.or()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.err("expected `and`, `or` or the end of the query"));
    }
    Ok(e)
}

/// A bare word ends at white space or one of these.
const DELIMS: &[char] = &['(', ')', ',', '=', '!', '<', '>', '"', '\''];

/// One value as written (quotes and escapes removed), and where it starts.
struct Value {
    text: String,
    at: usize,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn err(&self, reason: impl Into<String>) -> QueryError {
        QueryError::at(self.text, self.pos, reason)
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    /// The next bare word (without consuming it).
    fn peek_word(&mut self) -> &'a str {
        self.skip_ws();
        let r = self.rest();
        let end = r.find(|c: char| c.is_whitespace() || DELIMS.contains(&c)).unwrap_or(r.len());
        &r[..end]
    }

    /// Consume the keyword `kw` (any case) if it comes next.
    fn keyword(&mut self, kw: &str) -> bool {
        let w = self.peek_word();
        if w.eq_ignore_ascii_case(kw) {
            self.pos += w.len();
            true
        } else {
            false
        }
    }

    /// Consume punctuation `p` if it comes next.
    fn punct(&mut self, p: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(p) {
            self.pos += p.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.unary()?];
        while self.keyword("and") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.punct("(") {
            let e = self.or()?;
            if !self.punct(")") {
                return Err(self.err("expected `)`"));
            }
            return Ok(e);
        }
        self.condition()
    }

    fn path(&mut self) -> Result<(String, usize), QueryError> {
        let at = self.pos;
        let w = self.peek_word();
        if w.is_empty() {
            return Err(self.err("expected a field path such as eventName or userIdentity.arn"));
        }
        let well_formed = w.split('.').all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'));
        if !well_formed {
            return Err(
                self.err(format!("`{w}` is not a field path (dotted names, e.g. requestParameters.bucketName)"))
            );
        }
        if let Err(suggestion) = check_record_path(w) {
            let hint = suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default();
            return Err(self.err(format!("CloudTrail records have no field `{w}`{hint}")));
        }
        self.pos += w.len();
        Ok((w.to_owned(), at))
    }

    fn value(&mut self) -> Result<Value, QueryError> {
        self.skip_ws();
        let at = self.pos;
        let r = self.rest();
        match r.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let mut out = String::new();
                let mut chars = r.char_indices().skip(1);
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, e)) => out.push(e),
                            None => break,
                        },
                        c if c == q => {
                            self.pos += i + 1;
                            return Ok(Value { text: out, at });
                        }
                        c => out.push(c),
                    }
                }
                Err(self.err(format!("unterminated string: add the closing {q}")))
            }
            _ => {
                let w = self.peek_word();
                if w.is_empty() {
                    return Err(self.err("expected a value (quote it if it holds spaces or ()=!<>,)"));
                }
                self.pos += w.len();
                Ok(Value { text: w.to_owned(), at })
            }
        }
    }

    fn condition(&mut self) -> Result<Expr, QueryError> {
        let (path, _) = self.path()?;
        let time = path == "eventTime";
        let field = |test: Test| Expr::Field { path: path.clone(), test };
        for (op, num) in [("<=", NumOp::Lte), (">=", NumOp::Gte), ("<", NumOp::Lt), (">", NumOp::Gt)] {
            if self.punct(op) {
                let v = self.value()?;
                return if time {
                    let (start, end) = self.time(&v)?;
                    Ok(field(match num {
                        NumOp::Lt => Test::Time { from: None, to: Some(start - 1) },
                        NumOp::Lte => Test::Time { from: None, to: Some(end) },
                        NumOp::Gt => Test::Time { from: Some(end + 1), to: None },
                        NumOp::Gte => Test::Time { from: Some(start), to: None },
                    }))
                } else {
                    Ok(field(Test::Num(num, self.number(&v)?)))
                };
            }
        }
        if self.punct("!=") {
            let v = self.value()?;
            return Ok(Expr::Not(Box::new(self.equal(&path, &v)?)));
        }
        if self.punct("=") {
            let v = self.value()?;
            return self.equal(&path, &v);
        }
        let negated = self.keyword("not");
        let test = self.test(&path)?;
        Ok(if negated { Expr::Not(Box::new(test)) } else { test })
    }

    /// The tests written as words (`in`, `contains`, ...).
    fn test(&mut self, path: &str) -> Result<Expr, QueryError> {
        let time = path == "eventTime";
        let field = |test: Test| Expr::Field { path: path.to_owned(), test };
        let at = self.pos;
        if self.keyword("exists") {
            return Ok(field(if time { Test::Time { from: None, to: None } } else { Test::Exists(true) }));
        }
        if self.keyword("between") {
            let lo = self.value()?;
            if !self.keyword("and") {
                return Err(self.err("expected `and` between the two bounds"));
            }
            let hi = self.value()?;
            return if time {
                let (from, _) = self.time(&lo)?;
                let (_, to) = self.time(&hi)?;
                Ok(field(Test::Time { from: Some(from), to: Some(to) }))
            } else {
                let (a, b) = (self.number(&lo)?, self.number(&hi)?);
                Ok(Expr::And(vec![field(Test::Num(NumOp::Gte, a)), field(Test::Num(NumOp::Lte, b))]))
            };
        }
        if time {
            return Err(QueryError::at(
                self.text,
                at,
                "eventTime takes =, !=, <, <=, >, >=, between ... and ..., or exists",
            ));
        }
        if self.keyword("in") {
            return self.set(path);
        }
        for (kw, make) in [
            ("contains", StrMatch::contains as fn(String) -> StrMatch),
            ("startswith", StrMatch::starts_with),
            ("endswith", StrMatch::ends_with),
        ] {
            if self.keyword(kw) {
                let v = self.value()?;
                return Ok(field(Test::Str(vec![make(v.text)])));
            }
        }
        if self.keyword("matches") {
            return Ok(field(Test::Str(vec![self.regex()?])));
        }
        Err(self.err(
            "expected an operator: =, !=, <, <=, >, >=, in, contains, startswith, endswith, matches, exists or between",
        ))
    }

    /// `= value`: a time (a date meaning the whole day) for eventTime, else string equality.
    fn equal(&self, path: &str, v: &Value) -> Result<Expr, QueryError> {
        let test = if path == "eventTime" {
            let (from, to) = self.time(v)?;
            Test::Time { from: Some(from), to: Some(to) }
        } else {
            Test::Str(vec![StrMatch::eq(v.text.clone())])
        };
        Ok(Expr::Field { path: path.to_owned(), test })
    }

    /// `in (a, b, ...)` or `in 203.0.113.0/24`: networks when any member is one (a plain
    /// address then is its own /32 or /128), else any of the strings.
    fn set(&mut self, path: &str) -> Result<Expr, QueryError> {
        let field = |test: Test| Expr::Field { path: path.to_owned(), test };
        if !self.punct("(") {
            let v = self.value()?;
            return match v.text.parse::<IpNet>() {
                Ok(net) => Ok(field(Test::Cidr(vec![net]))),
                Err(e) if v.text.contains('/') => {
                    Err(QueryError::at(self.text, v.at, format!("`{}` is not a CIDR: {e}", v.text)))
                }
                Err(_) => {
                    Err(QueryError::at(self.text, v.at, "expected `(` and a list, or a CIDR such as 203.0.113.0/24"))
                }
            };
        }
        let mut values = vec![self.value()?];
        while self.punct(",") {
            values.push(self.value()?);
        }
        if !self.punct(")") {
            return Err(self.err("expected `,` or `)` in the list"));
        }
        if values.iter().any(|v| v.text.contains('/') && v.text.parse::<IpNet>().is_ok()) {
            let mut nets = Vec::new();
            for v in &values {
                let net =
                    v.text.parse::<IpNet>().or_else(|_| v.text.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(
                        |_| QueryError::at(self.text, v.at, "a list with a CIDR takes only addresses and CIDRs"),
                    )?;
                nets.push(net);
            }
            return Ok(field(Test::Cidr(nets)));
        }
        Ok(field(Test::Str(values.into_iter().map(|v| StrMatch::eq(v.text)).collect())))
    }

    /// `/pattern/` or `/pattern/i`; `\/` stands for a slash inside.
    fn regex(&mut self) -> Result<StrMatch, QueryError> {
        if !self.punct("/") {
            return Err(self.err("expected a regular expression between slashes: /pattern/"));
        }
        let start = self.pos;
        let r = self.rest();
        let mut pattern = String::new();
        let mut chars = r.char_indices();
        let mut close = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '/')) => pattern.push('/'),
                    Some((_, e)) => {
                        pattern.push('\\');
                        pattern.push(e);
                    }
                    None => pattern.push('\\'),
                },
                '/' => {
                    close = Some(i);
                    break;
                }
                c => pattern.push(c),
            }
        }
        let Some(close) = close else {
            return Err(self.err("unterminated regular expression: add the closing /"));
        };
        self.pos += close + 1;
        let ignore_case =
            self.rest().starts_with('i') && !self.rest()[1..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if ignore_case {
            self.pos += 1;
        }
        let re = regex::RegexBuilder::new(&pattern)
            .case_insensitive(ignore_case)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| QueryError::at(self.text, start, format!("bad regular expression: {e}")))?;
        let written = if ignore_case { format!("/{pattern}/i") } else { format!("/{pattern}/") };
        Ok(StrMatch::regex(written, re))
    }

    fn number(&self, v: &Value) -> Result<f64, QueryError> {
        v.text.parse::<f64>().map_err(|_| QueryError::at(self.text, v.at, format!("`{}` is not a number", v.text)))
    }

    /// A time as an inclusive range of epoch ms: a full time is one instant, a date its day.
    fn time(&self, v: &Value) -> Result<(i64, i64), QueryError> {
        if let Some(t) = parse_event_time(&v.text) {
            return Ok((t, t));
        }
        let start = parse_event_time(&format!("{}T00:00:00Z", v.text));
        match start {
            Some(s) if v.text.len() == 10 => Ok((s, s + 86_400_000 - 1)),
            _ => Err(QueryError::at(
                self.text,
                v.at,
                format!("`{}` is not a time: write 2024-03-05T02:00:00Z or a date, 2024-03-05", v.text),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailscope_indicators::{eq, not, MatchOp};

    fn field(path: &str, test: Test) -> Expr {
        Expr::Field { path: path.into(), test }
    }

    #[test]
    fn precedence_and_parentheses() {
        let e = parse("eventName = CreateUser or eventName = 'DeleteUser' and not errorCode exists").unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                eq("eventName", &["CreateUser"]),
                Expr::And(vec![eq("eventName", &["DeleteUser"]), not(field("errorCode", Test::Exists(true)))]),
            ])
        );
        let e = parse("(eventName = A OR eventName = B) AND sourceIPAddress != \"1.2.3.4\"").unwrap();
        assert_eq!(
            e,
            Expr::And(vec![
                Expr::Or(vec![eq("eventName", &["A"]), eq("eventName", &["B"])]),
                not(eq("sourceIPAddress", &["1.2.3.4"])),
            ])
        );
        assert_eq!(parse(" * ").unwrap(), Expr::True);
    }

    #[test]
    fn string_tests_lists_and_networks() {
        let e = parse("requestParameters.bucketName in (a, 'b c') and userAgent contains kali").unwrap();
        let Expr::And(parts) = e else { panic!() };
        assert_eq!(parts[0], eq("requestParameters.bucketName", &["a", "b c"]));
        assert_eq!(parts[1], field("userAgent", Test::Str(vec![StrMatch::contains("kali")])));
        let e = parse("sourceIPAddress in 203.0.113.0/24").unwrap();
        assert_eq!(e, field("sourceIPAddress", Test::Cidr(vec!["203.0.113.0/24".parse().unwrap()])));
        let e = parse("sourceIPAddress not in (203.0.113.0/24, 198.51.100.7)").unwrap();
        assert_eq!(
            e,
            not(field(
                "sourceIPAddress",
                Test::Cidr(vec!["203.0.113.0/24".parse().unwrap(), "198.51.100.7/32".parse().unwrap()])
            ))
        );
        let Expr::Field { test: Test::Str(m), .. } = parse(r"userIdentity.arn matches /role\/Admin.*/i").unwrap()
        else {
            panic!()
        };
        assert_eq!(m[0].op, MatchOp::Regex);
        assert!(m[0].matches("arn:aws:iam::1:ROLE/adminX") && !m[0].matches("arn:aws:iam::1:user/admin"));
        assert_eq!(
            parse("eventName startswith Describe").unwrap(),
            field("eventName", Test::Str(vec![StrMatch::starts_with("Describe")]))
        );
    }

    #[test]
    fn time_ranges_and_numbers() {
        let t = |s: &str| parse_event_time(s).unwrap();
        assert_eq!(
            parse("eventTime >= 2024-03-05T02:00:00Z").unwrap(),
            field("eventTime", Test::Time { from: Some(t("2024-03-05T02:00:00Z")), to: None })
        );
        assert_eq!(
            parse("eventTime between 2024-03-04 and 2024-03-05").unwrap(),
            field(
                "eventTime",
                Test::Time { from: Some(t("2024-03-04T00:00:00Z")), to: Some(t("2024-03-05T23:59:59.999Z")) }
            )
        );
        assert_eq!(
            parse("eventTime < 2024-03-05").unwrap(),
            field("eventTime", Test::Time { from: None, to: Some(t("2024-03-05T00:00:00Z") - 1) })
        );
        assert_eq!(
            parse("additionalEventData.bytesTransferredOut > 1e6").unwrap(),
            field("additionalEventData.bytesTransferredOut", Test::Num(NumOp::Gt, 1e6))
        );
    }

    #[test]
    fn errors_point_at_the_column() {
        let col = |q: &str| match parse(q) {
            Err(QueryError::Parse { column, reason, .. }) => (column, reason),
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(col("eventName = ").0, 13);
        assert_eq!(col("eventName ~ x").0, 11);
        assert!(col("eventname = x").1.contains("did you mean eventName"), "{:?}", col("eventname = x"));
        assert_eq!(col("(eventName = x").0, 15);
        assert_eq!(col("sourceIPAddress in 203.0.113.0/33").0, 20);
        let (c, why) = col("eventTime >= yesterday");
        assert_eq!(c, 14);
        assert!(why.contains("not a time"), "{why}");
        assert_eq!(col("userAgent matches /a(/").0, 20);
        assert!(col("eventName = 'x").1.contains("unterminated"));
        assert_eq!(col("eventName = x y").0, 15);
        let err = parse("eventName = x y").unwrap_err();
        assert_eq!(err.caret("eventName = x y").unwrap(), "eventName = x y\n              ^");
        assert_eq!(col("").1, "empty query (write * for every event)");
    }
}
