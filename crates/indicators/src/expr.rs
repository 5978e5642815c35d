//! Rule conditions as written (paths, tests, boolean structure), before they meet a store.

use std::sync::Arc;

use ipnet::IpNet;
use regex::Regex;

/// How a string is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// Whole value equal.
    Eq,
    /// Value contains the text.
    Contains,
    /// Value starts with the text.
    StartsWith,
    /// Value ends with the text.
    EndsWith,
    /// Sigma wildcards (`*`, `?`) compiled to an anchored regular expression.
    Glob,
    /// A regular expression (Sigma `|re`), unanchored.
    Regex,
}

/// One string test. Comparisons ignore case unless `cased` (Sigma `|cased`); `|re` follows its
/// own flags.
#[derive(Clone, Debug)]
pub struct StrMatch {
    /// Comparison.
    pub op: MatchOp,
    /// The text or pattern as written.
    pub text: String,
    /// Case-sensitive.
    pub cased: bool,
    regex: Option<Arc<Regex>>,
}

impl PartialEq for StrMatch {
    fn eq(&self, o: &Self) -> bool {
        self.op == o.op && self.text == o.text && self.cased == o.cased
    }
}

impl Eq for StrMatch {}

impl StrMatch {
    /// A non-regex test.
    pub fn new(op: MatchOp, text: impl Into<String>) -> Self {
        StrMatch { op, text: text.into(), cased: false, regex: None }
    }

    /// Whole value equal, ignoring case.
    pub fn eq(text: impl Into<String>) -> Self {
        Self::new(MatchOp::Eq, text)
    }

    /// Value contains, ignoring case.
    pub fn contains(text: impl Into<String>) -> Self {
        Self::new(MatchOp::Contains, text)
    }

    /// Value starts with, ignoring case.
    pub fn starts_with(text: impl Into<String>) -> Self {
        Self::new(MatchOp::StartsWith, text)
    }

    /// Value ends with, ignoring case.
    pub fn ends_with(text: impl Into<String>) -> Self {
        Self::new(MatchOp::EndsWith, text)
    }

    /// A compiled regular expression (`pattern` as written, flags already inside `re`).
    pub fn regex(pattern: impl Into<String>, re: Regex) -> Self {
        StrMatch { op: MatchOp::Regex, text: pattern.into(), cased: true, regex: Some(Arc::new(re)) }
    }

    /// A Sigma wildcard pattern (`*`, `?`, `\` escapes), matching the whole value.
    ///
    /// # Errors
    /// Only if the generated expression is too large.
    pub fn glob(pattern: &str, cased: bool) -> Result<Self, regex::Error> {
        let mut re = String::from(if cased { "^(?s:" } else { "^(?is:" });
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        re.push_str(&regex::escape(&n.to_string()));
                    }
                    _ => re.push_str(r"\\"),
                },
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push_str(")$");
        let compiled = regex::RegexBuilder::new(&re).size_limit(1 << 22).build()?;
        Ok(StrMatch { op: MatchOp::Glob, text: pattern.to_owned(), cased, regex: Some(Arc::new(compiled)) })
    }

    /// The compiled regular expression of a `Glob` or `Regex` test, flags included (`(?i)...`),
    /// for translating the test to another engine.
    pub fn regex_source(&self) -> Option<&str> {
        self.regex.as_deref().map(Regex::as_str)
    }

    /// Make it case-sensitive.
    pub fn cased(mut self) -> Self {
        self.cased = true;
        self
    }

    /// Test one value.
    pub fn matches(&self, value: &str) -> bool {
        let p = &self.text;
        if let Some(re) = &self.regex {
            return re.is_match(value);
        }
        if self.cased {
            return match self.op {
                MatchOp::Eq => value == p,
                MatchOp::Contains => value.contains(p.as_str()),
                MatchOp::StartsWith => value.starts_with(p.as_str()),
                MatchOp::EndsWith => value.ends_with(p.as_str()),
                MatchOp::Glob | MatchOp::Regex => false,
            };
        }
        match self.op {
            MatchOp::Eq => {
                value.eq_ignore_ascii_case(p) || (!value.is_ascii() && value.to_lowercase() == p.to_lowercase())
            }
            MatchOp::StartsWith => {
                value.len() >= p.len() && value.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            MatchOp::EndsWith => {
                value.len() >= p.len() && value.as_bytes()[value.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            MatchOp::Contains => contains_ignore_case(value, p),
            MatchOp::Glob | MatchOp::Regex => false,
        }
    }

    /// A short description: `=x`, `*x*`, `x*`, `*x`, `glob:x`, `re:x`.
    pub fn describe(&self) -> String {
        let t = &self.text;
        match self.op {
            MatchOp::Eq => format!("={t}"),
            MatchOp::Contains => format!("*{t}*"),
            MatchOp::StartsWith => format!("{t}*"),
            MatchOp::EndsWith => format!("*{t}"),
            MatchOp::Glob => format!("glob:{t}"),
            MatchOp::Regex => format!("re:{t}"),
        }
    }
}

/// ASCII case-insensitive substring search.
pub fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    let first = n[0].to_ascii_lowercase();
    (0..=h.len() - n.len()).any(|i| h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Numeric comparison (Sigma `|lt`, `|lte`, `|gt`, `|gte`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumOp {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl NumOp {
    /// Apply.
    pub fn test(self, a: f64, b: f64) -> bool {
        match self {
            NumOp::Lt => a < b,
            NumOp::Lte => a <= b,
            NumOp::Gt => a > b,
            NumOp::Gte => a >= b,
        }
    }
}

/// A test of the value(s) at one path.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// Any value matches any of these (OR).
    Str(Vec<StrMatch>),
    /// The path is absent or null.
    Null,
    /// The path exists (true) or does not (false); null counts as existing, as in Sigma.
    Exists(bool),
    /// An IP value inside one of the networks.
    Cidr(Vec<IpNet>),
    /// A numeric value compared.
    Num(NumOp, f64),
    /// Equal (case-sensitively) to the value at another path (Sigma `|fieldref`).
    FieldRef(String),
    /// `eventTime` inside a range of epoch milliseconds, both ends inclusive (the query
    /// language's time ranges; the time column is sorted, so this is two binary searches).
    Time {
        /// Earliest time, if bounded.
        from: Option<i64>,
        /// Latest time, if bounded.
        to: Option<i64>,
    },
}

/// A condition over one event.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// The value at a dotted path passes a test. Arrays on the way are searched element-wise.
    Field {
        /// Dotted CloudTrail path.
        path: String,
        /// The test.
        test: Test,
    },
    /// The text appears anywhere in the record (Sigma keywords).
    Keyword(Vec<StrMatch>),
    /// All hold.
    And(Vec<Expr>),
    /// At least one holds.
    Or(Vec<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// Always true.
    True,
}

fn strs(path: &str, values: &[&str], m: fn(String) -> StrMatch) -> Expr {
    Expr::Field { path: path.into(), test: Test::Str(values.iter().map(|v| m(v.to_string())).collect()) }
}

/// `path` equals one of `values` (ignoring case).
pub fn eq(path: &str, values: &[&str]) -> Expr {
    strs(path, values, StrMatch::eq)
}

/// `path` contains one of `values`.
pub fn contains(path: &str, values: &[&str]) -> Expr {
    strs(path, values, StrMatch::contains)
}

/// `path` ends with one of `values`.
pub fn ends_with(path: &str, values: &[&str]) -> Expr {
    strs(path, values, StrMatch::ends_with)
}

/// `path` starts with one of `values`.
pub fn starts_with(path: &str, values: &[&str]) -> Expr {
    strs(path, values, StrMatch::starts_with)
}

/// `path` is absent or null.
pub fn null(path: &str) -> Expr {
    Expr::Field { path: path.into(), test: Test::Null }
}

/// All of.
pub fn and(v: Vec<Expr>) -> Expr {
    Expr::And(v)
}

/// Any of.
pub fn or(v: Vec<Expr>) -> Expr {
    Expr::Or(v)
}

/// Negation.
pub fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_string_tests() {
        assert!(StrMatch::eq("consolelogin").matches("ConsoleLogin"));
        assert!(!StrMatch::eq("consolelogin").cased().matches("ConsoleLogin"));
        assert!(StrMatch::contains("KALI").matches("Linux/6.5.0-kali3-amd64"));
        assert!(!StrMatch::contains("kali").matches("Linux/6.5.0-amd64"));
        assert!(StrMatch::ends_with("/administratoraccess").matches("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(StrMatch::starts_with("Describe").matches("DescribeInstances"));
        assert!(!StrMatch::starts_with("DescribeInstancesX").matches("Describe"));
    }

    #[test]
    fn sigma_wildcards() {
        let g = StrMatch::glob("arn:aws:iam::*:role/Admin?", false).unwrap();
        assert!(g.matches("ARN:aws:iam::123456789012:role/Admin1"));
        assert!(!g.matches("arn:aws:iam::123456789012:role/Admin12"));
        let lit = StrMatch::glob(r"a\*b", false).unwrap();
        assert!(lit.matches("a*b") && !lit.matches("axb"));
        let dot = StrMatch::glob("a.b*", false).unwrap();
        assert!(dot.matches("a.bcd") && !dot.matches("axbcd"));
    }
}
