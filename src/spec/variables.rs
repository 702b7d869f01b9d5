//! Variable values and where they come from. Precedence, lowest first: the
//! spec's `variables` defaults, `SYNLINK_VAR_<NAME>` environment variables,
//! `--var-file` files (later files win), then `--var NAME=VALUE` (later wins).
//! Every value is parsed as YAML, so `--var teams='[a, b]'` gives a list.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::spec::diagnostic::{Code, Diagnostic};
use crate::spec::node::{self, Node, Value};
use crate::spec::source;

/// Where a variable's value came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The spec's own `variables` section.
    Spec,
    /// `SYNLINK_VAR_<NAME>`.
    Env(String),
    /// A `--var-file`.
    File(PathBuf),
    /// `--var NAME=VALUE`.
    Flag,
}

/// Values given outside the spec, in precedence order (lowest first).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `(name, value, origin)`, lowest precedence first.
    pub values: Vec<(String, Node, Origin)>,
    /// `SYNLINK_VAR_<NAME>` values that are not valid YAML: an error only
    /// when the spec declares `NAME` (other environment variables are ignored).
    pub env_errors: Vec<(String, Diagnostic)>,
}

impl Overrides {
    /// Collects overrides from the environment, var files and `--var` flags.
    /// Problems (a malformed flag, an unreadable file) are returned together.
    pub fn collect(
        env: impl IntoIterator<Item = (String, String)>,
        var_files: &[PathBuf],
        flags: &[String],
    ) -> Result<Overrides, Vec<Diagnostic>> {
        let mut values = Vec::new();
        let mut problems = Vec::new();
        let mut env_errors = Vec::new();
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("SYNLINK_VAR_")
                    .map(|name| (name.to_owned(), v))
            })
            .collect();
        env.sort();
        for (name, text) in env {
            match node::parse(&text) {
                Ok(value) => values.push((
                    name.clone(),
                    value,
                    Origin::Env(format!("SYNLINK_VAR_{name}")),
                )),
                Err(e) => env_errors.push((
                    name.clone(),
                    Diagnostic::error(
                        None,
                        format!(
                            "SYNLINK_VAR_{name}: the value is not valid YAML: {}",
                            e.message
                        ),
                    )
                    .code(Code::InvalidVariable),
                )),
            }
        }
        for path in var_files {
            match read_var_file(path) {
                Ok(entries) => values.extend(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k, v, Origin::File(path.clone()))),
                ),
                Err(d) => problems.push(d),
            }
        }
        for flag in flags {
            let Some((name, text)) = flag.split_once('=') else {
                problems.push(
                    Diagnostic::error(None, format!("--var {flag}: expected NAME=VALUE"))
                        .code(Code::InvalidVariable)
                        .hint("for example --var teams='[fraud, churn]'"),
                );
                continue;
            };
            match node::parse(text) {
                Ok(value) => values.push((name.trim().to_owned(), value, Origin::Flag)),
                Err(e) => problems.push(
                    Diagnostic::error(
                        None,
                        format!("--var {name}: the value is not valid YAML: {}", e.message),
                    )
                    .code(Code::InvalidVariable),
                ),
            }
        }
        if problems.is_empty() {
            Ok(Overrides { values, env_errors })
        } else {
            Err(problems)
        }
    }
}

fn read_var_file(path: &Path) -> Result<Vec<(String, Node)>, Diagnostic> {
    let file = source::read(path).map_err(|e| {
        Diagnostic::error(None, format!("--var-file {e}")).code(Code::InvalidVariable)
    })?;
    let root = node::parse(&file.text).map_err(|e| {
        let at = e.pos.map(|p| format!(":{p}")).unwrap_or_default();
        Diagnostic::error(
            None,
            format!("--var-file {}{at}: {}", path.display(), e.message),
        )
        .code(Code::InvalidVariable)
    })?;
    match root.value {
        Value::Map(entries) => Ok(entries.into_iter().map(|(k, v)| (k.text, v)).collect()),
        Value::Null => Ok(Vec::new()),
        other => Err(Diagnostic::error(
            None,
            format!(
                "--var-file {}: expected a map of NAME: VALUE, found {}",
                path.display(),
                other.type_name()
            ),
        )
        .code(Code::InvalidVariable)),
    }
}

/// The effective variables: the spec's defaults overridden in precedence order.
/// Values for names the spec does not declare are errors for files and flags
/// (a typo would otherwise be silently ignored) and ignored for the environment.
pub fn resolve(
    declared: &IndexMap<String, Node>,
    overrides: &Overrides,
) -> (IndexMap<String, (Node, Origin)>, Vec<Diagnostic>) {
    let mut vars: IndexMap<String, (Node, Origin)> = declared
        .iter()
        .map(|(k, v)| (k.clone(), (v.clone(), Origin::Spec)))
        .collect();
    let mut problems: Vec<Diagnostic> = overrides
        .env_errors
        .iter()
        .filter(|(name, _)| declared.contains_key(name))
        .map(|(_, d)| d.clone())
        .collect();
    for (name, value, origin) in &overrides.values {
        if let Some(slot) = vars.get_mut(name) {
            *slot = (value.clone(), origin.clone());
            continue;
        }
        let source = match origin {
            Origin::Env(_) | Origin::Spec => continue,
            Origin::File(path) => format!("--var-file {}", path.display()),
            Origin::Flag => "--var".to_owned(),
        };
        problems.push(
            Diagnostic::error(
                None,
                format!("{source}: the spec declares no variable `{name}`"),
            )
            .code(Code::UnknownVariable)
            .maybe_hint(
                crate::spec::diagnostic::did_you_mean(name, declared.keys().map(String::as_str))
                    .or_else(|| Some("declare it under `variables:` in the spec".into())),
            ),
        );
    }
    (vars, problems)
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::{resolve, Origin, Overrides};
    use crate::spec::node::{parse, Value};

    #[test]
    fn flags_beat_files_beat_env_beat_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("vars.yaml");
        std::fs::write(&file, "teams: [from-file]\nregion: file\n").expect("write");
        let env = vec![
            ("SYNLINK_VAR_teams".to_owned(), "[from-env]".to_owned()),
            ("SYNLINK_VAR_owner".to_owned(), "env".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let o = Overrides::collect(env, &[file], &["teams=[from-flag]".to_owned()])
            .expect("valid overrides");
        let declared: IndexMap<_, _> = ["teams", "region", "owner", "untouched"]
            .into_iter()
            .map(|k| (k.to_owned(), parse("default").expect("yaml")))
            .collect();
        let (vars, problems) = resolve(&declared, &o);
        assert!(problems.is_empty(), "{problems:?}");
        let Value::Seq(teams) = &vars["teams"].0.value else {
            panic!("teams is a list")
        };
        assert_eq!(teams[0].value, Value::Str("from-flag".into()));
        assert_eq!(vars["teams"].1, Origin::Flag);
        assert_eq!(vars["region"].0.value, Value::Str("file".into()));
        assert_eq!(vars["owner"].0.value, Value::Str("env".into()));
        assert_eq!(vars["untouched"].1, Origin::Spec);
    }

    #[test]
    fn an_undeclared_flag_is_an_error_with_a_suggestion() {
        let o = Overrides::collect(Vec::new(), &[], &["temas=[a]".to_owned()]).expect("valid");
        let declared: IndexMap<_, _> = [("teams".to_owned(), parse("[]").expect("yaml"))]
            .into_iter()
            .collect();
        let (_, problems) = resolve(&declared, &o);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "--var: the spec declares no variable `temas`"
        );
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `teams`?"));
    }

    #[test]
    fn a_flag_without_equals_is_refused() {
        let err =
            Overrides::collect(Vec::new(), &[], &["teams".to_owned()]).expect_err("malformed");
        assert_eq!(err[0].message, "--var teams: expected NAME=VALUE");
    }
}
