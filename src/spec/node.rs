//! The YAML document as a tree of nodes, each with the line and column it came
//! from. Parsing goes through `serde-saphyr` (duplicate keys rejected, budgets
//! against alias bombs and deep nesting); expansion and typed decoding work on
//! this tree so that every later message can point at the source.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

pub use crate::spec::diagnostic::Pos;

use crate::spec::diagnostic::Code;

/// The position of a value the parser read.
fn pos_of<T>(s: &Spanned<T>) -> Pos {
    let loc = s.referenced;
    Pos {
        line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
        col: u32::try_from(loc.column()).unwrap_or(u32::MAX),
    }
}

/// Where a scalar is written in the source text, in bytes: what the parser read,
/// quotes included. Lets a message point inside a string (at a `{ech}` in
/// `"mlw-{ech}"`) instead of at its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first character.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    fn of<T>(s: &Spanned<T>) -> Option<Span> {
        let span = s.referenced.span();
        Some(Span {
            offset: usize::try_from(span.byte_offset()?).ok()?,
            len: usize::try_from(span.byte_len()?).ok()?,
        })
    }
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts in the file.
    pub pos: Pos,
    /// Where a scalar is written, when the parser knows (not for collections,
    /// nor for values that did not come from the file).
    pub span: Option<Span>,
    /// The value.
    pub value: Value,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order. Keys are strings (other scalar keys are
    /// read as their text); duplicates were rejected by the parser.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Where the key is.
    pub pos: Pos,
    /// Where the key is written, when the parser knows.
    pub span: Option<Span>,
    /// The key text.
    pub text: String,
}

impl Value {
    /// A short name of the value's type, for messages ("a list", "a string").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// The text of a scalar as it would be written in a string; `None` for
    /// collections and null.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

impl Node {
    /// The entry of a map node under `key`, if this is a map and has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The position of the value at a dotted path (`autoscale.min`), if present.
    pub fn pos_at(&self, path: &str) -> Option<Pos> {
        path.split('.')
            .try_fold(self, |node, part| node.get(part))
            .map(|n| n.pos)
    }
}

/// Scalar key read by the parser: plain strings, but also numbers and booleans
/// written as keys (`1: x`) keep their text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = SpannedValue::deserialize(d)?.0;
        match value.scalar_text() {
            Some(text) => Ok(KeyText(text)),
            None if value == Value::Null => Ok(KeyText(String::new())),
            None => Err(serde::de::Error::custom(format!(
                "a map key must be a string, not {}",
                value.type_name()
            ))),
        }
    }
}

/// The parse-time form: a value whose children carry `Spanned` positions.
struct SpannedValue(Value);

impl<'de> Deserialize<'de> for SpannedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<SpannedValue>::deserialize(d)?;
        let span = match &spanned.value.0 {
            Value::Seq(_) | Value::Map(_) => None,
            _ => Span::of(&spanned),
        };
        Ok(Node {
            pos: pos_of(&spanned),
            span,
            value: spanned.value.0,
        })
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = SpannedValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<SpannedValue, E> {
        Ok(SpannedValue(Value::Null))
    }
    fn visit_none<E>(self) -> Result<SpannedValue, E> {
        Ok(SpannedValue(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<SpannedValue, D::Error> {
        SpannedValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<SpannedValue, E> {
        Ok(SpannedValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<SpannedValue, E> {
        Ok(SpannedValue(Value::Int(v)))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SpannedValue, E> {
        i64::try_from(v)
            .map(|i| SpannedValue(Value::Int(i)))
            .map_err(|_| E::custom(format!("the integer {v} is too large")))
    }
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<SpannedValue, E> {
        i64::try_from(v)
            .map(|i| SpannedValue(Value::Int(i)))
            .map_err(|_| E::custom(format!("the integer {v} is too large")))
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<SpannedValue, E> {
        i64::try_from(v)
            .map(|i| SpannedValue(Value::Int(i)))
            .map_err(|_| E::custom(format!("the integer {v} is too large")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<SpannedValue, E> {
        Ok(SpannedValue(Value::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<SpannedValue, E> {
        Ok(SpannedValue(Value::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<SpannedValue, E> {
        Ok(SpannedValue(Value::Str(v)))
    }
    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<SpannedValue, E> {
        Err(E::custom("binary values are not supported in a spec"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpannedValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(SpannedValue(Value::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpannedValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Node>()?;
            entries.push((
                Key {
                    pos: pos_of(&key),
                    span: Span::of(&key),
                    text: key.value.0,
                },
                value,
            ));
        }
        Ok(SpannedValue(Value::Map(entries)))
    }
}

/// A YAML syntax or budget error with its position, if the parser knew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the parser stopped.
    pub pos: Option<Pos>,
    /// The parser's message, without its own position prefix or snippet.
    pub message: String,
    /// What kind of failure: syntax, a duplicate key, a budget, a value the tree cannot hold.
    pub code: Code,
}

/// The parser's limits: generous for real specs, tight enough that an alias bomb
/// or a pathological nesting is refused quickly and without exhausting the stack.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 64;
    budget.max_nodes = 2_000_000;
    budget.max_events = 4_000_000;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    // An alias bomb is refused after 100k replayed events, in milliseconds.
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = 8 * 1024 * 1024;
    budget.max_reader_input_bytes = Some(crate::spec::source::MAX_SPEC_BYTES);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.strict_booleans = true;
    options.with_snippet = false;
    options
}

/// Parses YAML text into a node tree. An empty document is `Value::Null`.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    serde_saphyr::from_str_with_options::<Node>(text, options()).map_err(|e| {
        let pos = e.location().map(|l| Pos {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            col: u32::try_from(l.column()).unwrap_or(u32::MAX),
        });
        let raw = e.to_string();
        ParseError {
            pos,
            code: classify(&raw),
            message: clean_message(&raw),
        }
    })
}

/// The code of a parser error, from its (unstable, hence matched loosely) text.
fn classify(raw: &str) -> Code {
    if raw.contains("duplicate mapping key") {
        Code::DuplicateKey
    } else if raw.contains("budget breached") || raw.contains("recursion limit") {
        Code::YamlLimit
    } else if raw.contains("is too large") {
        Code::OutOfRange
    } else if raw.contains("binary values") || raw.contains("a map key must be") {
        Code::WrongType
    } else {
        Code::YamlSyntax
    }
}

/// Strips the parser's `error: line L column C:` prefix and any snippet so the
/// message reads as one line; the position is reported separately.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or_default().trim();
    let first = first.strip_prefix("error:").unwrap_or(first).trim();
    let without_pos = match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(first, |(_, msg)| msg),
        None => first,
    };
    let mut msg = without_pos
        .trim()
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    // The position is reported apart; the parser repeats it at the end.
    if let Some(i) = msg.rfind(" at line ") {
        if msg[i..].contains(", column ") {
            msg.truncate(i);
        }
    }
    if msg.contains("budget breached") {
        return if msg.contains("Depth") {
            "the YAML is nested more than 64 levels deep".to_owned()
        } else if msg.contains("Anchor") || msg.contains("Alias") {
            "the YAML expands aliases beyond the limit (an alias bomb?)".to_owned()
        } else {
            "the YAML is too large or too complex to read".to_owned()
        };
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::{parse, Pos, Span, Value};
    use crate::spec::diagnostic::Code;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let doc = parse("version: 1\nlinks:\n  a:\n    name: x\n").expect("valid YAML");
        let Value::Map(entries) = &doc.value else {
            panic!("expected a map")
        };
        assert_eq!(entries[1].0.text, "links");
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
        assert_eq!(doc.pos_at("links.a.name"), Some(Pos { line: 4, col: 11 }));
    }

    #[test]
    fn duplicate_keys_are_errors_with_their_line() {
        let err = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate key");
        assert_eq!(err.pos.map(|p| p.line), Some(3));
        assert_eq!(err.code, Code::DuplicateKey);
        assert!(
            err.message.contains("duplicate mapping key"),
            "{}",
            err.message
        );
    }

    #[test]
    fn yes_and_no_stay_strings() {
        let doc = parse("a: yes\n").expect("valid YAML");
        assert_eq!(
            doc.get("a").map(|n| &n.value),
            Some(&Value::Str("yes".into()))
        );
    }

    #[test]
    fn scalars_keep_where_they_are_written_quotes_included() {
        let text = "a: \"x{e}\"\n\"k\": [1, 'y']\n";
        let doc = parse(text).expect("valid YAML");
        let Value::Map(entries) = &doc.value else {
            panic!("expected a map")
        };
        let slice = |s: Option<Span>| s.map(|s| &text[s.offset..s.offset + s.len]);
        assert_eq!(slice(entries[0].0.span), Some("a"));
        assert_eq!(slice(entries[0].1.span), Some("\"x{e}\""));
        assert_eq!(slice(entries[1].0.span), Some("\"k\""));
        assert_eq!(entries[1].1.span, None, "collections have no scalar span");
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("expected a list")
        };
        assert_eq!(slice(items[1].span), Some("'y'"));
    }

    #[test]
    fn syntax_errors_and_budgets_have_their_codes() {
        assert_eq!(parse("a: [").expect_err("unclosed").code, Code::YamlSyntax);
        // The parser recurses up to its depth budget: more stack than a test
        // thread's default, as much as the main thread has.
        let deep = "[".repeat(100) + &"]".repeat(100);
        let e = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || parse(&deep).expect_err("too deep"))
            .expect("spawn")
            .join()
            .expect("no panic");
        assert_eq!(e.code, Code::YamlLimit, "{}", e.message);
    }

    #[test]
    fn empty_text_is_null() {
        assert_eq!(parse("").expect("empty is fine").value, Value::Null);
    }
}
