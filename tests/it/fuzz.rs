//! Bad input to the end of the pipe, in process: mutated example specs fed to the
//! loader and validator (`spec::load_text`), the graph (`Graph::build`, `to_dot`)
//! and the diagnostic renderer, for at least 100,000 cases, with no panic and no
//! hang.
//!
//! Each case is generated from its own seed (derived from the base seed, the
//! thread and the case number), so any case can be replayed alone. Mutations
//! are mostly of values (so that most cases still parse and reach the
//! validator), and also of keys, syntax, lines, indentation, unicode and
//! placeholders; see `Mutation`.
//!
//! Knobs (environment):
//! - `SYNLINK_FUZZ_SEED`: the base seed (decimal or `0x` hex; fixed by default);
//! - `SYNLINK_FUZZ_CASES`: how many cases in all (default 100,000), split over
//!   two threads;
//! - `SYNLINK_FUZZ_REPLAY`: one case seed (printed on failure) to run alone.
//!
//! A panicking case is written to a kept temporary file whose path and content
//! are printed; a case over `CASE_LIMIT` of CPU time fails the test, and one
//! running over `HANG_LIMIT` of wall time is a hang (a watchdog on
//! the test thread notices it even if it never returns).

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng, SeedableRng as _};

use synlink::graph::Graph;
use synlink::render::diagnostic as render;
use synlink::spec::diagnostic::Diagnostic;
use synlink::spec::source::SourceFile;
use synlink::spec::variables::Overrides;
use synlink::spec::{self, SpecError};

/// The base seed when `SYNLINK_FUZZ_SEED` is not set.
const DEFAULT_SEED: u64 = 0x005E_ED0F_5A1A_0006;
/// Cases when `SYNLINK_FUZZ_CASES` is not set.
const DEFAULT_CASES: u64 = 100_000;
/// Worker threads (the suite runs on 2 cores).
const THREADS: u64 = 2;
/// The most CPU time one case may take. CPU time, not wall time: the suite runs
/// on a shared machine where a busy neighbour can stretch wall time severalfold.
const CASE_LIMIT: Duration = Duration::from_secs(2);
/// The wall time after which a running case is a hang (the watchdog fails the
/// test even if the case never returns).
const HANG_LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// The corpus: every example, and a few specs that use what the examples do not.

/// Specs the examples do not cover: map `for_each`, variables, `depends_on`,
/// lifecycle, tags, user-assigned identities, object-id principals, pool scopes,
/// node counts, an endpoint cloud.
const EXTRA: &[(&str, &str)] = &[
    (
        "map-for-each.yaml",
        r#"version: 1
cloud: { arm_endpoint: "http://127.0.0.1:1" }
defaults:
  subscription: 00000000-0000-0000-0000-0000000000a1
  resource_group: rg-fuzz
  location: westeurope
  tags: { owner: fuzz, cost: "42" }
variables:
  teams: { fraud: Small, churn: Medium }
  group: 11111111-2222-3333-4444-555555555555
synapse_workspaces:
  shared:
    name: syn-fuzz-shared
    existing: true
spark_pools:
  "{each.key}":
    for_each: ${teams}
    synapse_workspace: shared
    name: "pool{each.key}"
    node_size: "{each.value}"
    node_size_family: MemoryOptimized
    spark_version: "3.5"
    node_count: 3
    auto_pause_minutes: 20
    tags: { team: "{each.key}" }
ml_workspaces:
  "{each.key}":
    for_each: ${teams}
    name: "mlw-{each.key}"
    existing: true
attachments:
  "{each.key}-pool":
    for_each: ${teams}
    ml_workspace: "{each.key}"
    spark_pool: "{each.key}"
    name: "spark-{each.key}"
    identity: { user_assigned: ["/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-fuzz/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-{each.key}"] }
    depends_on: ["spark_pools.{each.key}"]
    lifecycle: { prevent_destroy: true, ignore_changes: [description] }
role_grants:
  "{each.key}-users":
    for_each: ${teams}
    synapse_workspace: shared
    role: Synapse User
    scope: { spark_pool: "{each.key}" }
    principal: { object_id: "${group}", type: Group }
"#,
    ),
    (
        "created.yaml",
        r"version: 1
defaults:
  subscription: 00000000-0000-0000-0000-0000000000a1
  resource_group: rg-made
  location: northeurope
ml_workspaces:
  made:
    name: mlw-made
    friendly_name: Made by synlink
    description: an AML workspace created from scratch
    storage_account: /subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-made/providers/Microsoft.Storage/storageAccounts/samade
    key_vault: /subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-made/providers/Microsoft.KeyVault/vaults/kv-made
    application_insights: /subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-made/providers/Microsoft.Insights/components/ai-made
    identity: system_assigned
    tags: { env: test }
synapse_workspaces:
  made:
    name: syn-made-0001
    data_lake:
      account_url: https://samade.dfs.core.windows.net
      filesystem: synapse
    sql_admin_login: sqladmin
    sql_admin_password_env: SQL_PASSWORD
    managed_virtual_network: true
    public_network_access: Disabled
spark_pools:
  big:
    synapse_workspace: made
    node_size: XXLarge
    node_size_family: HardwareAcceleratedGPU
    spark_version: '3.5'
    autoscale:
      min: 3
      max: 200
links:
  made:
    ml_workspace: made
    synapse_workspace: made
    depends_on: [spark_pools.big]
role_grants:
  made-admin:
    synapse_workspace: made
    role: 6e4bf58a-b8e1-4cc3-bbf9-d73143322b78
    principal: { link: made }
  made-user:
    synapse_workspace: made
    role: Synapse Contributor
    principal:
      object_id: 22222222-3333-4444-5555-666666666666
      type: User
attachments:
  made-big:
    ml_workspace: made
    spark_pool: big
    name: big-spark
    identity: none
    depends_on:
      - role_grants.made-admin
",
    ),
];

/// A spec to mutate, and what the mutations draw from.
struct Corpus {
    /// The specs without their comments (parsing time grows with the text, and
    /// the debug build parses slowly).
    specs: Vec<(String, String)>,
    /// The specs as written, comments included (1 case in 8).
    commented: Vec<(String, String)>,
    /// Logical keys and names found in the specs: references to swap in.
    words: Vec<String>,
    /// Field names found in the specs: keys to swap in.
    fields: Vec<String>,
}

impl Corpus {
    fn load() -> Corpus {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut specs = Vec::new();
        for path in crate::world::example_files(&dir) {
            let mut text = std::fs::read_to_string(&path).expect("example is readable");
            // bulk.yaml expands 50 teams: 3 keep it fast and cover the same code.
            if let Some(start) = text.find("variables:\n  teams: [") {
                let end = start + text[start..].find("]\n").expect("end of the team list");
                text.replace_range(start..end, "variables:\n  teams: [team01, team02, team03");
            }
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            specs.push((name, text));
        }
        assert!(specs.len() >= 4, "the examples are the corpus: {specs:?}");
        specs.extend(
            EXTRA
                .iter()
                .map(|(n, t)| ((*n).to_owned(), (*t).to_owned())),
        );
        let mut words = Vec::new();
        let mut fields = Vec::new();
        for (_, text) in &specs {
            for line in text.lines() {
                if let Some((key, value)) = split_entry(line) {
                    let key = key.trim().trim_start_matches("- ").trim_matches('"');
                    if !key.is_empty() {
                        fields.push(key.to_owned());
                    }
                    let v = value.split(" #").next().unwrap_or_default().trim();
                    if !v.is_empty() && !v.starts_with(['{', '[', '#']) {
                        words.push(v.to_owned());
                    }
                }
            }
        }
        words.sort();
        words.dedup();
        fields.sort();
        fields.dedup();
        let commented = specs.clone();
        let specs = specs
            .into_iter()
            .map(|(name, text)| (name, strip_comments(&text)))
            .collect();
        Corpus {
            specs,
            commented,
            words,
            fields,
        }
    }
}

/// The text without comment lines and trailing ` # …` comments (the corpus has
/// no `#` inside quoted strings).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let line = line.find(" #").map_or(line, |i| &line[..i]).trim_end();
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `(key part, value part)` of a `key: value` line (the key part keeps its
/// indentation), or `None` for comments and lines without a mapping colon.
fn split_entry(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.is_empty() {
        return None;
    }
    let at = line.find(": ").or_else(|| {
        line.trim_end()
            .ends_with(':')
            .then(|| line.trim_end().len() - 1)
    })?;
    let rest = &line[at + 1..];
    Some((&line[..at], rest.strip_prefix(' ').unwrap_or(rest)))
}

// ---------------------------------------------------------------------------
// Mutations.

/// Scalars of every YAML type, collections, and values of the spec's domain.
const VALUES: &[&str] = &[
    // type swaps
    "[a, b]",
    "[]",
    "{}",
    "{ x: 1 }",
    "{ min: 3 }",
    "[[[]]]",
    "42",
    "-1",
    "0",
    "3.5",
    "1e309",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "99999999999999999999999999",
    "-9223372036854775809",
    "true",
    "false",
    "yes",
    "null",
    "~",
    "\"\"",
    "''",
    "!!binary aGVsbG8=",
    "!!str 3",
    "!custom x",
    "2026-11-27",
    "\n- a\n- b",
    "\nnested: { deeper: [1] }",
    "|\na block\nscalar",
    ">-\nfolded",
    // domain values
    "Small",
    "XXXLarge",
    "Medium",
    "tiny",
    "MemoryOptimized",
    "HardwareAcceleratedGPU",
    "\"3.4\"",
    "3.4",
    "\"2.4\"",
    "system_assigned",
    "none",
    "{ user_assigned: [] }",
    "{ user_assigned: [not-an-id] }",
    "{ user_assigned: [\"/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u\"] }",
    "{ link: main }",
    "{ link: nowhere }",
    "{ attachment: main-small }",
    "{ link: main, attachment: main-small }",
    "{ object_id: 11111111-2222-3333-4444-555555555555, type: Group }",
    "{ object_id: not-a-guid, type: Robot }",
    "{ spark_pool: small }",
    "{ spark_pool: nowhere }",
    "{ prevent_destroy: true, ignore_changes: [node_size, tags.x] }",
    "{ min: 10, max: 3 }",
    "{ min: -1, max: 99999 }",
    "[links.main, spark_pools.small]",
    "[links.main, links.main]",
    "[nowhere.x]",
    "[\"ml_workspaces.*\"]",
    "Apache Spark Administrator",
    "Synapse Apache Spark Administrator",
    "Synapse Administrator",
    "No Such Role",
    "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78",
    "00000000-0000-0000-0000-0000000000a1",
    "00000000-0000-0000-0000-00000000000g",
    "/subscriptions/x/resourceGroups/y",
    "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
    "https://example.dfs.core.windows.net",
    "http://insecure.example",
    "ftp://x",
    "local",
    "azure",
    "{ arm_endpoint: \"http://127.0.0.1:9\" }",
    "{ arm_endpoint: 12 }",
    "rg-analytics",
    "westeurope",
    "nowhere",
    "UPPER_CASE_name",
    "a",
    "-leading-hyphen",
    "trailing-hyphen-",
    "has space",
    "has/slash",
    "dots.in.name",
    // placeholders
    "${teams}",
    "\"${teams}\"",
    "\"${nope}\"",
    "\"${\"",
    "\"${}\"",
    "\"${teams\"",
    "\"$${teams}\"",
    "\"${teams}${teams}\"",
    "\"{each}\"",
    "\"{each.key}\"",
    "\"{each.value}\"",
    "\"{each.value.x}\"",
    "\"{each\"",
    "\"{{each}}\"",
    "\"x-{each}-{each.key}-{each.value}\"",
    "[\"{each}\", \"{each}\"]",
    "{ a: \"{each}\", b: \"{each}\" }",
    // unicode
    "\"ünïcödé\"",
    "\"e\u{301}\u{301}\u{301}\"",
    "\"\u{200B}\"",
    "\"a\u{200D}b\"",
    "\"\u{202E}drow\"",
    "\"\u{FEFF}bom\"",
    "\"🦀🦀🦀\"",
    "\"👩‍👩‍👧‍👦\"",
    "\"𝔘𝔫𝔦\"",
    "\"한국어\"",
    "\"ﷺ\"",
    "\"\\u0000\"",
    "\"\\t\\n\"",
    "\"\\uD800\"",
];

/// YAML syntax characters and short sequences.
const SYNTAX: &[&str] = &[
    ":",
    "-",
    "[",
    "]",
    "{",
    "}",
    "&",
    "*",
    "!",
    "%",
    "#",
    "\"",
    "'",
    "|",
    ">",
    "\t",
    "\n",
    ",",
    "?",
    "@",
    "`",
    ": ",
    "- ",
    "&a ",
    "*a",
    "!!",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "<<: ",
    "\r",
    "\r\n",
    "\\",
];

/// Unicode to insert anywhere.
const UNICODE: &[&str] = &[
    "é",
    "e\u{301}",
    "\u{301}",
    "\u{200B}",
    "\u{200D}",
    "\u{202E}",
    "\u{202B}",
    "\u{FEFF}",
    "\u{85}",
    "\u{2028}",
    "\u{A0}",
    "\u{3000}",
    "🦀",
    "👩‍👩‍👧‍👦",
    "🇪🇺",
    "𝔘",
    "한",
    "ﷺ",
    "\u{0}",
    "\u{7}",
    "\u{1B}[31m",
    "\u{FFFD}",
    "\u{10FFFF}",
    "עברית",
    "العربية",
];

/// Placeholders to insert anywhere.
const PLACEHOLDERS: &[&str] = &[
    "${teams}",
    "${nope}",
    "${",
    "${}",
    "${teams",
    "$",
    "{each}",
    "{each.key}",
    "{each.value}",
    "{each.value.name}",
    "{each",
    "{}",
    "{{each}}",
    "${teams}{each}",
    "${group}",
];

/// Lines to insert in a resource body (indented like their neighbour).
const FIELDS: &[&str] = &[
    "for_each: [a, b]",
    "for_each: { a: 1, b: 2 }",
    "for_each: ${teams}",
    "for_each: []",
    "for_each: 3",
    "depends_on: [links.main]",
    "depends_on: [attachments.main-small, spark_pools.small]",
    "existing: true",
    "existing: false",
    "lifecycle: { prevent_destroy: true }",
    "lifecycle: { ignore_changes: [tags] }",
    "tags: { a: b }",
    "tags: [a]",
    "name: x",
    "unknown_field: 1",
    "subscription: 00000000-0000-0000-0000-0000000000a2",
    "resource_group: rg-other",
    "location: mars",
    "identity: system_assigned",
    "scope: { spark_pool: small }",
    "principal: { object_id: 11111111-2222-3333-4444-555555555555 }",
    "node_count: 3",
    "autoscale: { min: 3, max: 4 }",
];

/// Documents that stress the parser itself.
const DOCUMENTS: &[&str] = &[
    "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: &d [*c, *c, *c]\ne: [*d, *d, *d]\n",
    "x: &x { version: 1 }\ny: *x\n<<: *x\n",
    "version: 1\nversion: 1\n",
    "? [a]\n: b\n",
    "--- 1\n--- 2\n",
    "!!map { version: 1 }\n",
    "\"version\": 1\n\"links\": { \"a\": { \"for_each\": [1, 2], \"ml_workspace\": \"{each}\" } }\n",
];

/// An alias bomb (9^7 leaves): refused by the parser's budget. It costs about a
/// second of CPU in a debug build, so only about 1 case in 20,000 gets it.
const ALIAS_BOMB: &str = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";

/// What one case feeds the loader.
#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    base: String,
    mutations: Vec<&'static str>,
    text: String,
    vars: Vec<String>,
}

/// `SplitMix64`: derives independent seeds from one.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn thread_seed(base: u64, thread: u64) -> u64 {
    mix(base ^ mix(thread.wrapping_add(1)))
}

fn case_seed(thread_seed: u64, index: u64) -> u64 {
    mix(thread_seed ^ mix(index))
}

/// A random char boundary of `s` (0..=len).
fn boundary(rng: &mut StdRng, s: &str) -> usize {
    let mut at = rng.random_range(0..=s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items.choose(rng).expect("non-empty")
}

/// Unicode or a placeholder, at even odds.
fn unicode_or_placeholder(rng: &mut StdRng) -> &'static str {
    if rng.random_bool(0.5) {
        pick(rng, UNICODE)
    } else {
        pick(rng, PLACEHOLDERS)
    }
}

/// Indices of the `key: value` lines.
fn entry_lines(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            // A value on the line itself: a parent key's value is its block below.
            split_entry(l)
                .is_some_and(|(_, v)| !v.split(" #").next().unwrap_or_default().trim().is_empty())
        })
        .map(|(i, _)| i)
        .collect()
}

/// A random value: mostly from `VALUES`, sometimes a word of the corpus, a long
/// string or a random number.
fn random_value(rng: &mut StdRng, corpus: &Corpus) -> String {
    match rng.random_range(0..10) {
        0..=5 => pick(rng, VALUES).to_owned(),
        6 | 7 => corpus.words.choose(rng).expect("words").clone(),
        8 => match rng.random_range(0..4) {
            0 => "x".repeat(rng.random_range(60..400)),
            1 => format!("\"{}\"", "é".repeat(rng.random_range(1..200))),
            2 => format!("n{}", rng.random::<u64>()),
            _ => format!("{}", rng.random::<i64>()),
        },
        _ => {
            let w = corpus
                .words
                .choose(rng)
                .expect("words")
                .replace(['"', '\''], "");
            let extra = unicode_or_placeholder(rng);
            let at = boundary(rng, &w);
            format!("\"{}{}{}\"", &w[..at], extra.replace('"', ""), &w[at..])
        }
    }
}

/// Applies one random mutation to `lines`; returns its name.
fn mutate(rng: &mut StdRng, corpus: &Corpus, lines: &mut Vec<String>) -> &'static str {
    if lines.is_empty() {
        lines.push(String::new());
    }
    let entries = entry_lines(lines);
    let roll = rng.random_range(0..100);
    let any_line = rng.random_range(0..lines.len());
    let entry = entries.choose(rng).copied().unwrap_or(any_line);
    match roll {
        // Replace a value (type swaps, domain values, placeholders, unicode).
        0..=34 => {
            let line = &lines[entry];
            if let Some((key, _)) = split_entry(line) {
                let key = key.to_owned();
                let indent = key.len() - key.trim_start().len();
                let value = random_value(rng, corpus)
                    .replace('\n', &format!("\n{}", " ".repeat(indent + 2)));
                lines[entry] = format!("{key}: {value}");
            }
            "value swap"
        }
        // Edit one character of a value.
        35..=46 => {
            let line = lines[entry].clone();
            if let Some((key, value)) = split_entry(&line) {
                let mut value = value.to_owned();
                let at = boundary(rng, &value);
                match rng.random_range(0..4) {
                    0 => value.insert_str(at, pick(rng, SYNTAX)),
                    1 => value.insert_str(at, pick(rng, UNICODE)),
                    2 => {
                        if let Some(c) = value[at..].chars().next() {
                            value.replace_range(at..at + c.len_utf8(), "");
                        }
                    }
                    _ => value.insert(at, char::from(rng.random_range(b' '..=b'~'))),
                }
                lines[entry] = format!("{key}: {value}");
            }
            "value edit"
        }
        // Rename a key: to another field, or with an edit.
        47..=53 => {
            let line = lines[entry].clone();
            if let Some((key, value)) = split_entry(&line) {
                let indent = &key[..key.len() - key.trim_start().len()];
                let new_key = if rng.random_bool(0.6) {
                    corpus.fields.choose(rng).expect("fields").clone()
                } else {
                    let mut k = key.trim_start().to_owned();
                    let at = boundary(rng, &k);
                    k.insert_str(at, unicode_or_placeholder(rng));
                    k
                };
                lines[entry] = format!("{indent}{new_key}: {value}");
            }
            "key edit"
        }
        // Add a field to a body, indented like the line before.
        54..=60 => {
            let indent: String = lines[entry].chars().take_while(|c| *c == ' ').collect();
            lines.insert(entry + 1, format!("{indent}{}", pick(rng, FIELDS)));
            "field insert"
        }
        // A placeholder anywhere in an entry line.
        61..=66 => {
            let at = boundary(rng, &lines[entry]);
            lines[entry].insert_str(at, pick(rng, PLACEHOLDERS));
            "placeholder"
        }
        // Unicode anywhere.
        67..=71 => {
            let line = &mut lines[any_line];
            let at = boundary(rng, line);
            line.insert_str(at, pick(rng, UNICODE));
            "unicode"
        }
        // YAML syntax anywhere.
        72..=78 => {
            let line = &mut lines[any_line];
            let at = boundary(rng, line);
            line.insert_str(at, pick(rng, SYNTAX));
            "syntax"
        }
        // Random bytes (made text: invalid UTF-8 becomes U+FFFD).
        79..=81 => {
            let line = &mut lines[any_line];
            let at = boundary(rng, line);
            let mut bytes = line.as_bytes().to_vec();
            let n = rng.random_range(1..4);
            if rng.random_bool(0.5) {
                let new: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                bytes.splice(at..at, new);
            } else {
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            *line = String::from_utf8_lossy(&bytes).into_owned();
            "bytes"
        }
        // Delete, duplicate or swap lines.
        82..=85 => {
            lines.remove(any_line);
            "line delete"
        }
        86..=88 => {
            let copy = lines[any_line].clone();
            let to = if rng.random_bool(0.5) {
                any_line
            } else {
                rng.random_range(0..=lines.len())
            };
            lines.insert(to, copy);
            "line duplicate"
        }
        89 => {
            let other = rng.random_range(0..lines.len());
            lines.swap(any_line, other);
            "line swap"
        }
        // Change the indentation of a line.
        90..=93 => {
            let line = &mut lines[any_line];
            match rng.random_range(0..4) {
                0 => line.insert_str(0, &" ".repeat(rng.random_range(1..5))),
                1 => line.insert(0, '\t'),
                _ => {
                    let spaces = line.len() - line.trim_start_matches(' ').len();
                    let cut = rng.random_range(0..=spaces);
                    line.replace_range(..cut, "");
                }
            }
            "indent"
        }
        // Truncate at a random point.
        94..=95 => {
            let mut text = lines.join("\n");
            let at = boundary(rng, &text);
            text.truncate(at);
            *lines = text.split('\n').map(str::to_owned).collect();
            "truncate"
        }
        // Anchors and aliases on values.
        96 | 97 => {
            let line = lines[entry].clone();
            if let Some((key, value)) = split_entry(&line) {
                let new = if rng.random_bool(0.5) {
                    format!("{key}: &v{} {value}", rng.random_range(0..3))
                } else {
                    format!("{key}: *v{}", rng.random_range(0..3))
                };
                lines[entry] = new;
            }
            "anchor"
        }
        // A stress document appended or in place.
        _ => {
            let doc = if rng.random_ratio(1, 800) {
                ALIAS_BOMB
            } else {
                pick(rng, DOCUMENTS)
            };
            if rng.random_bool(0.5) {
                *lines = doc.lines().map(str::to_owned).collect();
            } else {
                lines.extend(doc.lines().map(str::to_owned));
            }
            "document"
        }
    }
}

/// The case of a seed: the same seed always gives the same case.
fn generate(corpus: &Corpus, seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let from = if rng.random_ratio(1, 8) {
        &corpus.commented
    } else {
        &corpus.specs
    };
    let (base, text) = from.choose(&mut rng).expect("specs");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let count = match rng.random_range(0..10) {
        0..=4 => 1,
        5..=7 => 2,
        _ => rng.random_range(3..=6),
    };
    let mut mutations = Vec::with_capacity(count);
    for _ in 0..count {
        mutations.push(mutate(&mut rng, corpus, &mut lines));
    }
    let mut text = lines.join("\n");
    if rng.random_bool(0.9) {
        text.push('\n');
    }
    let vars = if rng.random_bool(0.1) {
        vec![format!(
            "{}={}",
            pick(&mut rng, &["teams", "group", "nope", "x y", ""]),
            random_value(&mut rng, corpus)
        )]
    } else {
        Vec::new()
    };
    Case {
        seed,
        base: base.clone(),
        mutations,
        text,
        vars,
    }
}

// ---------------------------------------------------------------------------
// Running cases.

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Loaded, graph built.
    Loaded,
    /// Loaded, but the graph has a cycle.
    Cycle,
    /// Parsed and refused by the validator with diagnostics.
    Diagnostics,
    /// Not YAML (or not a spec at all).
    Unparsable,
    /// `--var` values refused.
    BadVars,
}

/// Loads, validates, builds the graph and renders whatever comes out, as the
/// `validate` and `graph` commands do.
fn run_case(case: &Case) -> Outcome {
    let overrides = match Overrides::collect(Vec::<(String, String)>::new(), &[], &case.vars) {
        Ok(o) => o,
        Err(diags) => {
            assert!(!diags.is_empty(), "a refusal of --var says why");
            let _ = render::render_plain(&diags);
            return Outcome::BadVars;
        }
    };
    let file = SourceFile {
        path: PathBuf::from("fuzz.yaml"),
        text: case.text.clone(),
    };
    match spec::load_text(file, &overrides) {
        Ok(spec) => {
            let _ = render::render(&spec.file, &spec.warnings, false);
            match Graph::build(&spec) {
                Ok(graph) => {
                    let _ = graph.to_dot(&spec);
                    Outcome::Loaded
                }
                Err(cycles) => {
                    assert!(!cycles.is_empty(), "a refused graph says why");
                    let _ = render::render(&spec.file, &cycles, false);
                    Outcome::Cycle
                }
            }
        }
        Err(SpecError::Invalid { file, diagnostics }) => {
            assert!(
                diagnostics.iter().any(Diagnostic::is_error),
                "a refused spec has at least one error: {diagnostics:?}"
            );
            for d in &diagnostics {
                let _ = render::header(&file, d);
            }
            let _ = render::render(&file, &diagnostics, false);
            let unparsable = matches!(diagnostics.as_slice(),
                [only] if only.message.starts_with("invalid YAML") || only.message.starts_with("the spec "));
            if unparsable {
                Outcome::Unparsable
            } else {
                Outcome::Diagnostics
            }
        }
        Err(SpecError::Source(e)) => panic!("load_text does not read files: {e}"),
    }
}

/// Writes a failing case to a kept temp file; returns a report naming it.
fn report(case: &Case, base_seed: u64, what: &str) -> String {
    let mut file = tempfile::Builder::new()
        .prefix("synlink-fuzz-")
        .suffix(".yaml")
        .tempfile()
        .expect("temp file");
    std::io::Write::write_all(&mut file, case.text.as_bytes()).expect("write case");
    let (_, path) = file.keep().expect("keep the case file");
    format!(
        "{what}\n  base seed: {base_seed:#x} (SYNLINK_FUZZ_SEED)\n  case seed: {:#x} (SYNLINK_FUZZ_REPLAY={:#x})\n  from: {} with {:?}\n  vars: {:?}\n  input written to {}\n----- input -----\n{}\n-----------------",
        case.seed,
        case.seed,
        case.base,
        case.mutations,
        case.vars,
        path.display(),
        case.text
    )
}

/// What one worker did.
#[derive(Debug, Default)]
struct Tally {
    cases: u64,
    loaded: u64,
    cycles: u64,
    diagnostics: u64,
    unparsable: u64,
    bad_vars: u64,
    /// The most CPU time one case took, and its seed.
    slowest: Option<(Duration, u64)>,
    /// The most wall time one case took.
    longest_wall: Duration,
    /// CPU (or wall) time of every case together.
    total: Duration,
    /// Per mutation: cases that had it, and how many of those did not parse.
    by_mutation: std::collections::BTreeMap<&'static str, (u64, u64)>,
    /// Whether CPU time was measured (else `slowest` is wall time).
    cpu_measured: bool,
    /// A panic: the case seed and the message.
    panicked: Option<(u64, String)>,
}

/// Shared with the watchdog: the case in progress and when it started.
#[derive(Default)]
struct Progress {
    /// The seed of the case running now.
    seed: AtomicU64,
    /// When it started, in µs since the run began; 0 when idle.
    started_us: AtomicU64,
}

/// CPU time used by the calling thread so far (Linux), if known.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn parse_u64(text: &str) -> u64 {
    let t = text.trim().replace('_', "");
    let parsed = match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("not a number: {text:?}: {e}"))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| parse_u64(&v))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic payload)".to_owned())
}

fn worker(
    corpus: &Corpus,
    seed: u64,
    cases: u64,
    progress: &Progress,
    epoch: Instant,
    stop: &AtomicBool,
) -> Tally {
    let mut tally = Tally::default();
    for index in 0..cases {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let case = generate(corpus, case_seed(seed, index));
        progress.seed.store(case.seed, Ordering::SeqCst);
        let cpu_before = thread_cpu();
        let started = Instant::now();
        let since = u64::try_from(started.duration_since(epoch).as_micros()).unwrap_or(u64::MAX);
        progress.started_us.store(since.max(1), Ordering::SeqCst);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run_case(&case)));
        let wall = started.elapsed();
        progress.started_us.store(0, Ordering::SeqCst);
        let took = match (cpu_before, thread_cpu()) {
            (Some(a), Some(b)) => {
                tally.cpu_measured = true;
                b.saturating_sub(a)
            }
            _ => wall,
        };
        tally.longest_wall = tally.longest_wall.max(wall);
        tally.total += took;
        for m in &case.mutations {
            let e = tally.by_mutation.entry(m).or_default();
            e.0 += 1;
            e.1 += u64::from(matches!(outcome, Ok(Outcome::Unparsable)));
        }
        tally.cases += 1;
        if tally.slowest.is_none_or(|(t, _)| took > t) {
            tally.slowest = Some((took, case.seed));
        }
        match outcome {
            Ok(Outcome::Loaded) => tally.loaded += 1,
            Ok(Outcome::Cycle) => tally.cycles += 1,
            Ok(Outcome::Diagnostics) => tally.diagnostics += 1,
            Ok(Outcome::Unparsable) => tally.unparsable += 1,
            Ok(Outcome::BadVars) => tally.bad_vars += 1,
            Err(payload) => {
                tally.panicked = Some((case.seed, panic_message(&*payload)));
                stop.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    tally
}

#[test]
#[allow(
    clippy::print_stdout,
    reason = "the figures are the point of the report"
)]
fn mutated_specs_never_panic_or_hang() {
    let corpus = Arc::new(Corpus::load());
    let base_seed = env_u64("SYNLINK_FUZZ_SEED", DEFAULT_SEED);

    if let Ok(replay) = std::env::var("SYNLINK_FUZZ_REPLAY") {
        let case = generate(&corpus, parse_u64(&replay));
        println!("{}", report(&case, base_seed, "replaying one case"));
        let started = Instant::now();
        let outcome = run_case(&case);
        println!("outcome: {outcome:?} in {:?}", started.elapsed());
        return;
    }

    let total = env_u64("SYNLINK_FUZZ_CASES", DEFAULT_CASES);
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let mut progresses = Vec::new();
    for t in 0..THREADS {
        let share = total / THREADS + u64::from(t < total % THREADS);
        let seed = thread_seed(base_seed, t);
        let progress = Arc::new(Progress::default());
        progresses.push((seed, progress.clone()));
        let (corpus, stop) = (corpus.clone(), stop.clone());
        handles.push(
            thread::Builder::new()
                .name(format!("fuzz-{t}"))
                .spawn(move || worker(&corpus, seed, share, &progress, epoch, &stop))
                .expect("spawn a fuzz worker"),
        );
    }

    // The watchdog: a case over the limit fails the test even if it never returns.
    let limit_us = u64::try_from(HANG_LIMIT.as_micros()).unwrap_or(u64::MAX);
    while !handles.iter().all(thread::JoinHandle::is_finished) {
        thread::sleep(Duration::from_millis(50));
        let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        for (_, p) in &progresses {
            let started = p.started_us.load(Ordering::SeqCst);
            if started != 0 && now.saturating_sub(started) > limit_us {
                stop.store(true, Ordering::SeqCst);
                let case = generate(&corpus, p.seed.load(Ordering::SeqCst));
                panic!(
                    "{}",
                    report(
                        &case,
                        base_seed,
                        &format!("a case has run for over {HANG_LIMIT:?} (hang)")
                    )
                );
            }
        }
    }
    let elapsed = epoch.elapsed();
    let tallies: Vec<Tally> = handles
        .into_iter()
        .map(|h| {
            h.join()
                .expect("a fuzz worker does not panic outside its cases")
        })
        .collect();

    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let cases = sum(|t| t.cases);
    let slowest = tallies
        .iter()
        .filter_map(|t| t.slowest)
        .max_by_key(|(d, _)| *d);
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "fuzz: base seed {base_seed:#x}, {cases} cases on {THREADS} threads in {:.1} s ({:.0} cases/s)",
        elapsed.as_secs_f64(),
        f64::from(u32::try_from(cases).unwrap_or(u32::MAX)) / elapsed.as_secs_f64().max(1e-9)
    );
    let _ = writeln!(
        summary,
        "  loaded OK: {} (+ {} with a cycle), refused with diagnostics: {}, not parsable: {}, bad --var: {}",
        sum(|t| t.loaded),
        sum(|t| t.cycles),
        sum(|t| t.diagnostics),
        sum(|t| t.unparsable),
        sum(|t| t.bad_vars)
    );
    if let Some((took, seed)) = slowest {
        let case = generate(&corpus, seed);
        let _ = writeln!(
            summary,
            "  slowest case: {took:?} of {} (longest wall time of a case: {:?}), seed {seed:#x} ({} with {:?}, {} bytes)",
            if tallies.iter().all(|t| t.cpu_measured) { "CPU time" } else { "wall time" },
            tallies.iter().map(|t| t.longest_wall).max().unwrap_or_default(),
            case.base,
            case.mutations,
            case.text.len()
        );
    }
    let total_time: Duration = tallies.iter().map(|t| t.total).sum();
    let _ = writeln!(
        summary,
        "  mean time of a case: {:?}",
        total_time / u32::try_from(cases.max(1)).unwrap_or(u32::MAX)
    );
    let mut by_mutation = std::collections::BTreeMap::<&str, (u64, u64)>::new();
    for t in &tallies {
        for (m, (n, bad)) in &t.by_mutation {
            let e = by_mutation.entry(m).or_default();
            e.0 += n;
            e.1 += bad;
        }
    }
    let _ = writeln!(
        summary,
        "  mutations (cases with it / of those not parsable): {}",
        by_mutation
            .iter()
            .map(|(m, (n, bad))| format!("{m} {n}/{bad}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print!("{summary}");

    for t in &tallies {
        if let Some((seed, message)) = &t.panicked {
            let case = generate(&corpus, *seed);
            panic!(
                "{summary}{}",
                report(&case, base_seed, &format!("the loader panicked: {message}"))
            );
        }
    }
    if let Some((took, seed)) = slowest {
        if took > CASE_LIMIT {
            let case = generate(&corpus, seed);
            panic!(
                "{summary}{}",
                report(
                    &case,
                    base_seed,
                    &format!("a case took {took:?} of CPU, over {CASE_LIMIT:?}")
                )
            );
        }
    }
    assert_eq!(cases, total, "every case ran");
    // The validator was exercised, not only the parser.
    let past_parser = sum(|t| t.loaded + t.cycles + t.diagnostics);
    assert!(
        past_parser * 2 >= cases && sum(|t| t.loaded) * 33 >= cases,
        "at least half the cases should get past the parser, and 3% load: {summary}"
    );
}
