//! Rule conditions as written, before they meet a store.

/// How a string value is tested. Comparisons ignore ASCII case, as Sigma specifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrMatch {
    /// Whole value equal.
    Eq(String),
    /// Value contains.
    Contains(String),
    /// Value starts with.
    StartsWith(String),
    /// Value ends with.
    EndsWith(String),
}

impl StrMatch {
    /// Test one value.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            StrMatch::Eq(p) => value.eq_ignore_ascii_case(p),
            StrMatch::StartsWith(p) => {
                value.len() >= p.len() && value.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            StrMatch::EndsWith(p) => {
                value.len() >= p.len() && value.as_bytes()[value.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            StrMatch::Contains(p) => contains_ignore_case(value, p),
        }
    }

    /// The pattern text.
    pub fn pattern(&self) -> &str {
        match self {
            StrMatch::Eq(p) | StrMatch::Contains(p) | StrMatch::StartsWith(p) | StrMatch::EndsWith(p) => p,
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

/// A condition over one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// The value at a dotted path matches any of the patterns.
    Match {
        /// Dotted CloudTrail path.
        path: String,
        /// Alternatives (OR).
        any: Vec<StrMatch>,
    },
    /// The path is absent or null.
    IsNull(String),
    /// All hold.
    And(Vec<Expr>),
    /// At least one holds.
    Or(Vec<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
}

/// `path` equals one of `values`.
pub fn eq(path: &str, values: &[&str]) -> Expr {
    Expr::Match { path: path.into(), any: values.iter().map(|v| StrMatch::Eq(v.to_string())).collect() }
}

/// `path` contains one of `values`.
pub fn contains(path: &str, values: &[&str]) -> Expr {
    Expr::Match { path: path.into(), any: values.iter().map(|v| StrMatch::Contains(v.to_string())).collect() }
}

/// `path` ends with one of `values`.
pub fn ends_with(path: &str, values: &[&str]) -> Expr {
    Expr::Match { path: path.into(), any: values.iter().map(|v| StrMatch::EndsWith(v.to_string())).collect() }
}

/// `path` is absent or null.
pub fn null(path: &str) -> Expr {
    Expr::IsNull(path.into())
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
        assert!(StrMatch::Eq("consolelogin".into()).matches("ConsoleLogin"));
        assert!(StrMatch::Contains("KALI".into()).matches("Linux/6.5.0-kali3-amd64"));
        assert!(!StrMatch::Contains("kali".into()).matches("Linux/6.5.0-amd64"));
        assert!(
            StrMatch::EndsWith("/administratoraccess".into()).matches("arn:aws:iam::aws:policy/AdministratorAccess")
        );
        assert!(StrMatch::StartsWith("Describe".into()).matches("DescribeInstances"));
        assert!(!StrMatch::StartsWith("DescribeInstancesX".into()).matches("Describe"));
    }
}
