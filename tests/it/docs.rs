//! The documentation a user reads stays true: every relative link in the
//! README and docs/ leads to a file of the repository, and the README lists
//! every Azure api-version synlink sends (operators pin them by policy).

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The targets of the markdown links `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else { break };
        out.push(after[..end].to_owned());
        rest = &after[end..];
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut files = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let dir = file.parent().expect("a directory");
        for target in links(&text) {
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            if !dir.join(path).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(checked > 0, "links were found");
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_link_reader_finds_targets() {
    assert_eq!(
        links("see [a](docs/a.md) and [b](https://x.y/z) and [c](#here)."),
        ["docs/a.md", "https://x.y/z", "#here"]
    );
}

#[test]
fn the_readme_lists_every_api_version_synlink_sends() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    for (resource, version, definition) in synlink::provider::API_VERSIONS {
        let row = readme
            .lines()
            .find(|l| l.contains(resource) && l.contains(version))
            .unwrap_or_else(|| panic!("README lists {resource} at {version}"));
        let file = definition.rsplit('/').next().unwrap_or_default();
        let first = file.split(',').next().unwrap_or_default();
        assert!(row.contains(first), "{row} names {first}");
    }
}
