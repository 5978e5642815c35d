//! Rule loading errors: where (file, line, rule) and why, as structure.

/// Why a rule could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// The file is not valid YAML.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A required key is missing or has the wrong type.
    #[error("`{0}` is missing or malformed")]
    Missing(&'static str),
    /// A construct trailscope does not (or cannot meaningfully) run on CloudTrail.
    #[error("unsupported{}: {what}", field.as_ref().map(|f| format!(" in field `{f}`")).unwrap_or_default())]
    Unsupported {
        /// The field (with modifiers) involved, if any.
        field: Option<String>,
        /// What and why.
        what: String,
    },
    /// The condition does not parse or names an unknown selection.
    #[error("condition: {0}")]
    Condition(String),
    /// A regular expression or CIDR does not compile.
    #[error("field `{field}`: {message}")]
    BadValue {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// `|expand` placeholders with no value in the variables file: every missing name of the
    /// rule, so one run of `rules check` lists all that `--vars` must give.
    #[error("{}", placeholder_message(.0))]
    Placeholder(Vec<String>),
    /// A correlation refers to a rule that was not loaded.
    #[error("correlation refers to unknown rule `{0}`")]
    UnknownRule(String),
    /// Two rules share an id.
    #[error("duplicate rule id `{0}`")]
    DuplicateId(String),
    /// Reading the file failed.
    #[error("cannot read: {0}")]
    Io(String),
}

fn placeholder_message(names: &[String]) -> String {
    let list = names.iter().map(|n| format!("%{n}%")).collect::<Vec<_>>().join(", ");
    if names.len() == 1 {
        format!("placeholder {list} has no value (give it in --vars)")
    } else {
        format!("placeholders {list} have no value (give them in --vars)")
    }
}

/// A rule that was refused, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {}{kind}", rule.as_ref().map(|r| format!("rule `{r}`: ")).unwrap_or_default())]
pub struct RuleError {
    /// File.
    pub path: String,
    /// 1-based line of the offending key or value when it can be found in the text, else of the
    /// start of the YAML document; 0 when no line applies (unreadable file, cross-rule links).
    pub line: usize,
    /// Rule title or id, when known.
    pub rule: Option<String>,
    /// Why.
    pub kind: RuleErrorKind,
}

/// What is suspicious about a rule that still loads and runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleWarningKind {
    /// A field path CloudTrail records never have (a top-level key, or a key under
    /// `userIdentity` or `tlsDetails`, outside the documented record contents): often a field
    /// name from another log source or from a SIEM's field mapping.
    #[error("field \"{field}\" never occurs in CloudTrail{}", suggestion.as_ref().map(|s| format!(" (did you mean \"{s}\"?)")).unwrap_or_default())]
    UnknownField {
        /// The path as written (without modifiers).
        field: String,
        /// A documented path differing only in case, if any.
        suggestion: Option<String>,
    },
    /// One AND requires a single-valued field to be two things at once.
    #[error("field \"{field}\" must be both {first} and {second}: this AND never matches")]
    NeverMatches {
        /// The field.
        field: String,
        /// The first requirement (`"value"`, `any of [...]` or `null`).
        first: String,
        /// The requirement that contradicts it.
        second: String,
    },
}

/// A rule that loads but probably does not do what its author meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: rule {rule}: {kind}")]
pub struct RuleWarning {
    /// File.
    pub path: String,
    /// 1-based line of the offending key or value (or of the document start).
    pub line: usize,
    /// Rule id.
    pub rule: String,
    /// What.
    pub kind: RuleWarningKind,
}
