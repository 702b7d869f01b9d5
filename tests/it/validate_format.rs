//! `synlink validate --format json|github` through the real binary: the JSON
//! document and the GitHub Actions annotations of an invalid spec, of a spec
//! with warnings only, of a valid one, and of inputs that are no spec at all
//! (missing, a directory, empty, not YAML, not UTF-8, a malformed `--var`).
//! Machine-readable output goes to stdout and nothing to stderr; the exit code
//! is the text format's (0 valid, 1 invalid).

use std::path::Path;
use std::process::Output;

use crate::bad_specs::{dedent, SPEC};
use crate::world::offline_output as synlink;

/// Two errors (an unknown field, a dangling reference) and, once they are
/// fixed, nothing else.
const INVALID: &str = "
    version: 1
    defaults:
      subscription: 00000000-0000-0000-0000-0000000000a1
      resource_group: rg
      location: westeurope
    synapse_workspaces:
      shared:
        existing: true
        nme: syn-shared
    links:
      main:
        ml_workspace: mian
        synapse_workspace: shared
";

/// Valid, with one warning.
const WARNING_ONLY: &str = "
    version: 1
    defaults:
      subscription: 00000000-0000-0000-0000-0000000000a1
      resource_group: rg
      location: westeurope
    ml_workspaces:
      main:
        existing: true
    synapse_workspaces:
      shared:
        existing: true
    spark_pools:
      small:
        synapse_workspace: shared
        existing: true
    attachments:
      main-small:
        ml_workspace: main
        spark_pool: small
";

/// Writes `files` (name, bytes) into a fresh directory and runs `synlink args` there.
fn run(files: &[(&str, &[u8])], args: &[&str]) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).expect("write input");
    }
    let out = synlink(dir.path(), args, &[]);
    (dir, out)
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `validate -f FILE --format json` and parses the one document on stdout.
fn json_of(
    files: &[(&str, &[u8])],
    file: &str,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["validate", "-f", file, "--format", "json"];
    args.extend_from_slice(extra);
    let (_dir, out) = run(files, &args);
    assert!(out.stderr.is_empty(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (out.status.code(), doc)
}

#[test]
fn json_of_an_invalid_spec_is_one_document_with_every_field() {
    let spec = dedent(INVALID);
    let (code, doc) = json_of(&[(SPEC, spec.as_bytes())], SPEC, &[]);
    assert_eq!(code, Some(1));
    let keys: Vec<&str> = doc
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["valid", "errors", "warnings", "diagnostics"]);
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["errors"], 2);
    let first = &doc["diagnostics"][0];
    let fields: Vec<&str> = first
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["file", "line", "col", "address", "code", "severity", "message", "hint"]
    );
    assert_eq!(first["code"], "unknown-field");
    assert_eq!(first["hint"], "did you mean `name`?");
    insta::assert_snapshot!(serde_json::to_string_pretty(&doc).expect("JSON"));
}

#[test]
fn json_of_a_valid_spec_and_of_one_with_warnings_only() {
    let quickstart =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.yaml"))
            .expect("the quickstart");
    let (code, doc) = json_of(&[(SPEC, &quickstart)], SPEC, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        doc,
        serde_json::json!({"valid": true, "errors": 0, "warnings": 0, "diagnostics": []})
    );

    let spec = dedent(WARNING_ONLY);
    let (code, doc) = json_of(&[(SPEC, spec.as_bytes())], SPEC, &[]);
    assert_eq!(code, Some(0), "warnings do not fail validation");
    assert_eq!(
        (doc["valid"].clone(), doc["warnings"].clone()),
        (true.into(), 1.into())
    );
    let d = &doc["diagnostics"][0];
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["code"], "unusable-attachment");
    assert_eq!(
        (d["line"].clone(), d["col"].clone()),
        (19.into(), 17.into())
    );
}

#[test]
fn json_of_inputs_that_are_no_spec() {
    // (file given, files written, code, position, message)
    type NoSpec<'a> = (
        &'a str,
        &'a [(&'a str, &'a [u8])],
        &'a str,
        Option<(u32, u32)>,
        &'a str,
    );
    let cases: &[NoSpec<'_>] = &[
        ("missing.yaml", &[], "file-not-found", None, "no such file"),
        (
            "empty.yaml",
            &[("empty.yaml", b"")],
            "empty-spec",
            None,
            "the spec is empty",
        ),
        (
            "list.yaml",
            &[("list.yaml", b"- a\n- b\n")],
            "not-a-spec",
            Some((1, 1)),
            "the spec must be a map of sections, found a list",
        ),
        (
            "broken.yaml",
            &[("broken.yaml", b"a: [")],
            "yaml-syntax",
            Some((1, 4)),
            "invalid YAML: unclosed bracket '['",
        ),
        (
            "latin1.yaml",
            &[("latin1.yaml", b"version: 1\nlinks:\xff\n")],
            "not-utf8",
            Some((2, 7)),
            "the file is not UTF-8 text",
        ),
    ];
    for (file, files, want_code, at, message) in cases {
        let (code, doc) = json_of(files, file, &[]);
        assert_eq!(code, Some(1), "{file}");
        assert_eq!(
            (doc["valid"].clone(), doc["errors"].clone()),
            (false.into(), 1.into()),
            "{file}"
        );
        let d = &doc["diagnostics"][0];
        assert_eq!(d["file"], *file);
        assert_eq!(d["code"], *want_code, "{file}");
        assert_eq!(d["message"], *message, "{file}");
        let got = d["line"].as_u64().zip(d["col"].as_u64());
        assert_eq!(got, at.map(|(l, c)| (u64::from(l), u64::from(c))), "{file}");
    }

    // A directory, as made by the test: no file of that name to write.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("specs")).expect("mkdir");
    let out = synlink(
        dir.path(),
        &["validate", "-f", "specs", "--format", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(doc["diagnostics"][0]["code"], "is-a-directory");
}

#[test]
fn json_of_a_malformed_var_flag_names_no_file() {
    let spec = dedent(WARNING_ONLY);
    let (code, doc) = json_of(&[(SPEC, spec.as_bytes())], SPEC, &["--var", "teams"]);
    assert_eq!(code, Some(1));
    let d = &doc["diagnostics"][0];
    assert_eq!(d["file"], serde_json::Value::Null);
    assert_eq!(d["code"], "invalid-variable");
    assert_eq!(d["message"], "--var teams: expected NAME=VALUE");
}

#[test]
fn github_annotations_of_an_invalid_spec() {
    let spec = dedent(INVALID);
    let (_dir, out) = run(
        &[(SPEC, spec.as_bytes())],
        &["validate", "-f", SPEC, "--format", "github"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with("::error file=spec.yaml,line=")),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn github_annotations_escape_data_and_properties() {
    // A file name with a comma and a colon, a message with a percent sign, a
    // hint on a second line: each must survive GitHub's workflow-command syntax.
    let spec = dedent(
        "
        version: 1
        defaults:
          subscription: 00000000-0000-0000-0000-0000000000a1
          resource_group: rg
          location: westeurope
        synapse_workspaces:
          shared:
            existing: true
            name%: x
        ",
    );
    let name = "a,b:c.yaml";
    let (_dir, out) = run(
        &[(name, spec.as_bytes())],
        &["validate", "-f", name, "--format", "github"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "::error file=a%2Cb%3Ac.yaml,line=9,col=5,title=unknown-field (synapse_workspaces.shared)::\
         unknown field `name%25`%0Ahint: did you mean `name`?\n"
    );
}

#[test]
fn github_annotations_of_warnings_and_of_a_missing_file() {
    let spec = dedent(WARNING_ONLY);
    let (_dir, out) = run(
        &[(SPEC, spec.as_bytes())],
        &["validate", "-f", SPEC, "--format", "github"],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with("::warning file=spec.yaml,line=19,col=17,title=unusable-attachment (attachments.main-small)::no link from"),
        "{text}"
    );

    let (_dir, out) = run(
        &[],
        &["validate", "-f", "missing.yaml", "--format", "github"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "::error file=missing.yaml,title=file-not-found::no such file\n"
    );
}

#[test]
fn text_is_the_default_and_other_formats_are_refused() {
    let spec = dedent(INVALID);
    let files: &[(&str, &[u8])] = &[(SPEC, spec.as_bytes())];
    let (_d1, plain) = run(files, &["validate", "-f", SPEC]);
    let (_d2, text) = run(files, &["validate", "-f", SPEC, "--format", "text"]);
    assert_eq!(plain.status.code(), Some(1));
    assert_eq!((plain.stdout, plain.stderr), (text.stdout, text.stderr));

    let (_d3, bad) = run(files, &["validate", "-f", SPEC, "--format", "xml"]);
    assert_eq!(bad.status.code(), Some(2), "clap refuses it");
    assert!(
        stderr(&bad).contains("possible values: text, json, github"),
        "{}",
        stderr(&bad)
    );
}
