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
    /// An `|expand` placeholder has no value in the variables file.
    #[error("placeholder %{0}% has no value (give it in --vars)")]
    Placeholder(String),
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

/// A rule that was refused, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {}{kind}", rule.as_ref().map(|r| format!("rule `{r}`: ")).unwrap_or_default())]
pub struct RuleError {
    /// File.
    pub path: String,
    /// 1-based line where the YAML document starts.
    pub line: usize,
    /// Rule title or id, when known.
    pub rule: Option<String>,
    /// Why.
    pub kind: RuleErrorKind,
}
