//! A problem found in a spec: where it is, which address it concerns, what is
//! wrong, a stable machine-readable code and, where one helps, a hint.
//! Validation collects these and fails once with all of them; rendering (text,
//! JSON, GitHub annotations, markdown) lives in `render::diagnostic`.

use std::fmt;

/// A 1-based line and column in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Reported, but the spec is still usable.
    Warning,
    /// The spec cannot be used.
    Error,
}

impl Severity {
    /// `error` or `warning`, as machine-readable output spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What kind of problem a diagnostic reports: a stable, kebab-case name that
/// scripts and CI can match on (`validate --format json|github`). Messages may
/// be reworded; codes are not renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// The file does not exist.
    FileNotFound,
    /// The path is a directory.
    IsDirectory,
    /// The file is over the size limit.
    FileTooLarge,
    /// The file is not UTF-8 text.
    NotUtf8,
    /// The file could not be read for another reason.
    Unreadable,
    /// The YAML does not parse.
    YamlSyntax,
    /// A map has the same key twice.
    DuplicateKey,
    /// The YAML is too deep, too large or expands too many aliases.
    YamlLimit,
    /// The file holds nothing.
    EmptySpec,
    /// The document is not a map of sections.
    NotASpec,
    /// `version` is absent.
    MissingVersion,
    /// `version` is not one this synlink reads.
    UnsupportedVersion,
    /// A top-level key that is no section.
    UnknownSection,
    /// A field that the map does not accept.
    UnknownField,
    /// A name that is not one of the accepted values.
    UnknownValue,
    /// A value of the wrong type.
    WrongType,
    /// A required field is absent.
    MissingField,
    /// Two fields that exclude each other are both set.
    ConflictingFields,
    /// A value outside its allowed range.
    OutOfRange,
    /// A value that is not one of those Azure accepts.
    InvalidValue,
    /// `${name}` names no variable.
    UnknownVariable,
    /// A `--var`, `--var-file` or `SYNLINK_VAR_*` value that cannot be used.
    InvalidVariable,
    /// A `${` without its `}`.
    UnterminatedReference,
    /// A `{each…}` placeholder that does not exist, or is used where it means nothing.
    UnknownPlaceholder,
    /// A list or map put inside a string.
    NotAScalar,
    /// `for_each` is not a list or a map, or a list item is not a scalar.
    InvalidForEach,
    /// Two entries expand to the same address.
    DuplicateAddress,
    /// Two addresses name the same Azure object.
    DuplicateResource,
    /// A reference or `depends_on` names no resource of the spec.
    DanglingReference,
    /// A `depends_on` entry that is not an address.
    InvalidAddress,
    /// A resource that depends on itself.
    SelfDependency,
    /// A dependency cycle.
    Cycle,
    /// An Azure naming rule is broken.
    NamingRule,
    /// A subscription or object id that is not a GUID.
    InvalidGuid,
    /// A value that must be an ARM resource id and is not.
    InvalidArmId,
    /// A URL of the wrong form.
    InvalidUrl,
    /// A role that is not a Synapse role.
    UnknownRole,
    /// A role granted where it cannot be.
    InvalidScope,
    /// A principal that names no one, or more than one identity, or one without a type.
    InvalidPrincipal,
    /// An attachment that nothing makes usable.
    UnusableAttachment,
    /// A setting that has no effect where it is.
    IneffectiveSetting,
    /// A diagnostic made without a code (none of synlink's own).
    Unclassified,
}

impl Code {
    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::FileNotFound => "file-not-found",
            Code::IsDirectory => "is-a-directory",
            Code::FileTooLarge => "file-too-large",
            Code::NotUtf8 => "not-utf8",
            Code::Unreadable => "unreadable",
            Code::YamlSyntax => "yaml-syntax",
            Code::DuplicateKey => "duplicate-key",
            Code::YamlLimit => "yaml-limit",
            Code::EmptySpec => "empty-spec",
            Code::NotASpec => "not-a-spec",
            Code::MissingVersion => "missing-version",
            Code::UnsupportedVersion => "unsupported-version",
            Code::UnknownSection => "unknown-section",
            Code::UnknownField => "unknown-field",
            Code::UnknownValue => "unknown-value",
            Code::WrongType => "wrong-type",
            Code::MissingField => "missing-field",
            Code::ConflictingFields => "conflicting-fields",
            Code::OutOfRange => "out-of-range",
            Code::InvalidValue => "invalid-value",
            Code::UnknownVariable => "unknown-variable",
            Code::InvalidVariable => "invalid-variable",
            Code::UnterminatedReference => "unterminated-reference",
            Code::UnknownPlaceholder => "unknown-placeholder",
            Code::NotAScalar => "not-a-scalar",
            Code::InvalidForEach => "invalid-for-each",
            Code::DuplicateAddress => "duplicate-address",
            Code::DuplicateResource => "duplicate-resource",
            Code::DanglingReference => "dangling-reference",
            Code::InvalidAddress => "invalid-address",
            Code::SelfDependency => "self-dependency",
            Code::Cycle => "cycle",
            Code::NamingRule => "naming-rule",
            Code::InvalidGuid => "invalid-guid",
            Code::InvalidArmId => "invalid-arm-id",
            Code::InvalidUrl => "invalid-url",
            Code::UnknownRole => "unknown-role",
            Code::InvalidScope => "invalid-scope",
            Code::InvalidPrincipal => "invalid-principal",
            Code::UnusableAttachment => "unusable-attachment",
            Code::IneffectiveSetting => "ineffective-setting",
            Code::Unclassified => "unclassified",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem it is.
    pub code: Code,
    /// Where in the file, when known.
    pub pos: Option<Pos>,
    /// How many characters from `pos` the problem covers (at least 1), for the
    /// underline of a snippet: a whole `{ech}`, not just its brace.
    pub width: usize,
    /// The address (or section) the problem concerns, when there is one.
    pub address: Option<String>,
    /// What is wrong, starting lower-case.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at a position.
    pub fn error(pos: Option<Pos>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code: Code::Unclassified,
            pos,
            width: 1,
            address: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A warning at a position.
    pub fn warning(pos: Option<Pos>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(pos, message)
        }
    }

    /// Names the address the problem concerns.
    #[must_use]
    pub fn at(mut self, address: impl fmt::Display) -> Diagnostic {
        self.address = Some(address.to_string());
        self
    }

    /// Sets the code.
    #[must_use]
    pub fn code(mut self, code: Code) -> Diagnostic {
        self.code = code;
        self
    }

    /// Sets how many characters the underline covers.
    #[must_use]
    pub fn width(mut self, chars: usize) -> Diagnostic {
        self.width = chars.max(1);
        self
    }

    /// Adds a hint.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    #[must_use]
    pub fn maybe_hint(self, hint: Option<String>) -> Diagnostic {
        match hint {
            Some(h) => self.hint(h),
            None => self,
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The closest candidate to `word` among `candidates`, if one is close enough to
/// be a likely misspelling.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate `word` is most likely a misspelling of, if one is close enough.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance over characters, counting a swap of two neighbours as one edit
/// (optimal string alignment), since transposed letters are the commonest typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, edit_distance};

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("temas", "teams"), 1);
        assert_eq!(
            did_you_mean("ml_workspce", ["ml_workspace", "spark_pool"]).as_deref(),
            Some("did you mean `ml_workspace`?")
        );
        assert_eq!(did_you_mean("zzz", ["ml_workspace", "spark_pool"]), None);
    }
}
