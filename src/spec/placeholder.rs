//! The references a spec string can hold, found in one pass: `${name}` (a
//! variable), `{each}`, `{each.key}` and `{each.value}` (the `for_each`
//! placeholders), `$${` (a literal `${`), and near misses of the placeholders
//! (`{ech}`, `{each.kye}`, `{ each }`, `{Each}`), which are reported rather than
//! silently kept as text. Other braces (`{json}`, `{x}`, `{{`) stay text, as they
//! always have. Substitution and the checks of templates in `expand` both read
//! strings through this tokenizer, so they cannot disagree about what a
//! reference is. Also here: where a reference inside a string is written in the
//! file, so that a message can point at it rather than at the string's start.

use crate::spec::diagnostic::closest;
use crate::spec::node::{Pos, Span};

/// The three placeholders.
pub const PLACEHOLDERS: [&str; 3] = ["each", "each.key", "each.value"];

/// The longest text between braces that can be a near miss of a placeholder:
/// longer braced text is prose or data, never a typo of `{each.value}`.
const MAX_NEAR_MISS: usize = 24;

/// Which `for_each` placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EachRef {
    /// `{each}`: the item of a list.
    Item,
    /// `{each.key}`: the key of a map entry.
    Key,
    /// `{each.value}`: the value of a map entry.
    Value,
}

/// One piece of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'s> {
    /// Text kept as written (`$${` gives `${`).
    Text(&'s str),
    /// `${name}`; `name` is trimmed.
    Var {
        /// The variable's name.
        name: &'s str,
        /// Byte offset of `${` in the string.
        at: usize,
        /// Byte length of the whole reference.
        len: usize,
    },
    /// `{each}`, `{each.key}` or `{each.value}`.
    Each {
        /// Which one.
        which: EachRef,
        /// Byte offset of `{` in the string.
        at: usize,
        /// Byte length of the placeholder.
        len: usize,
    },
    /// A braced word that looks like a mistyped placeholder.
    Unknown {
        /// The whole text, braces included.
        text: &'s str,
        /// Byte offset of `{` in the string.
        at: usize,
    },
    /// A `${` with no `}` after it; the rest of the string is not tokenized.
    Unterminated {
        /// Byte offset of `${` in the string.
        at: usize,
    },
}

/// Whether a string can hold a reference at all (the fast path of every string).
pub fn may_hold_references(s: &str) -> bool {
    s.contains("${") || s.contains('{')
}

/// Splits a string into text and references.
pub fn tokens(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        let rest = &s[i..];
        if rest.starts_with("$${") {
            flush(&mut out, s, text_start, i);
            out.push(Token::Text("${"));
            i += 3;
            text_start = i;
        } else if let Some(after) = rest.strip_prefix("${") {
            flush(&mut out, s, text_start, i);
            let Some(end) = after.find('}') else {
                out.push(Token::Unterminated { at: i });
                return out;
            };
            out.push(Token::Var {
                name: after[..end].trim(),
                at: i,
                len: end + 3,
            });
            i += end + 3;
            text_start = i;
        } else if let Some(token) = braced(rest, i) {
            flush(&mut out, s, text_start, i);
            i += match token {
                Token::Each { len, .. } => len,
                Token::Unknown { text, .. } => text.len(),
                _ => unreachable!("braced gives placeholders only"),
            };
            out.push(token);
            text_start = i;
        } else {
            // Advance by one character (never split a UTF-8 sequence).
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    flush(&mut out, s, text_start, s.len());
    out
}

fn flush<'s>(out: &mut Vec<Token<'s>>, s: &'s str, from: usize, to: usize) {
    if to > from {
        out.push(Token::Text(&s[from..to]));
    }
}

/// A placeholder or a near miss at the start of `rest` (which is at `at`).
fn braced(rest: &str, at: usize) -> Option<Token<'_>> {
    let inner = rest.strip_prefix('{')?;
    let end = inner.find(['}', '{'])?;
    if inner.as_bytes()[end] != b'}' {
        return None;
    }
    let word = &inner[..end];
    let len = end + 2;
    let which = match word {
        "each" => Some(EachRef::Item),
        "each.key" => Some(EachRef::Key),
        "each.value" => Some(EachRef::Value),
        _ => None,
    };
    if let Some(which) = which {
        return Some(Token::Each { which, at, len });
    }
    near_miss(word).then(|| Token::Unknown {
        text: &rest[..len],
        at,
    })
}

/// Whether braced text is most likely a mistyped placeholder: it starts with
/// `each` in any case or spacing (`{each.kye}`, `{Each}`, `{ each }`), or it is
/// one word that starts with an `e` and is a small edit away from one
/// (`{ech}`, `{eahc}`). Typos keep the first letter; requiring it keeps words
/// such as `{reach}` or `{teach}` text.
fn near_miss(word: &str) -> bool {
    let trimmed = word.trim();
    if trimmed.is_empty() || word.len() > MAX_NEAR_MISS {
        return false;
    }
    let lower = trimmed.to_lowercase();
    if lower.starts_with("each") {
        return true;
    }
    lower.starts_with('e')
        && lower
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        && closest(&lower, PLACEHOLDERS).is_some()
}

/// Where a reference at byte `at` (of `len` bytes) of the string `value` is
/// written in `source`, given the scalar's own position and span. `None` when
/// it cannot be told for sure (escapes that change the text, or no span): the
/// caller then points at the string's start.
pub fn inner_pos(
    source: &str,
    start: Pos,
    span: Option<Span>,
    value: &str,
    at: usize,
    len: usize,
) -> Option<Pos> {
    let span = span?;
    let raw = source.get(span.offset..span.offset.checked_add(span.len)?)?;
    let needle = value.get(at..at.checked_add(len)?)?;
    // The n-th occurrence in the value is the n-th in the raw text, unless an
    // escape sequence wrote one of them: then the counts differ and we give up.
    let nth = value[..at].matches(needle).count();
    if raw.matches(needle).count() != value.matches(needle).count() {
        return None;
    }
    let (offset, _) = raw.match_indices(needle).nth(nth)?;
    let before = &raw[..offset];
    Some(match before.rfind('\n') {
        None => Pos {
            line: start.line,
            col: start
                .col
                .saturating_add(u32::try_from(before.chars().count()).ok()?),
        },
        Some(nl) => Pos {
            line: start
                .line
                .saturating_add(u32::try_from(before.matches('\n').count()).ok()?),
            col: u32::try_from(before[nl + 1..].chars().count()).ok()? + 1,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::{inner_pos, tokens, EachRef, Token};
    use crate::spec::node::{parse, Pos, Value};

    #[test]
    fn finds_variables_placeholders_and_escapes() {
        assert_eq!(
            tokens("a-${ v }-{each}$${x}"),
            [
                Token::Text("a-"),
                Token::Var {
                    name: "v",
                    at: 2,
                    len: 6
                },
                Token::Text("-"),
                Token::Each {
                    which: EachRef::Item,
                    at: 9,
                    len: 6
                },
                Token::Text("${"),
                Token::Text("x}"),
            ]
        );
        assert_eq!(
            tokens("{each.key}{each.value}")
                .iter()
                .filter(|t| matches!(t, Token::Each { .. }))
                .count(),
            2
        );
        assert_eq!(
            tokens("x${oops"),
            [Token::Text("x"), Token::Unterminated { at: 1 }]
        );
    }

    #[test]
    fn near_misses_of_placeholders_are_unknown_placeholders() {
        for s in [
            "{ech}",
            "{eahc}",
            "{each.kye}",
            "{each_key}",
            "{Each}",
            "{ each }",
            "{each.value.x}",
        ] {
            assert_eq!(
                tokens(s),
                [Token::Unknown { text: s, at: 0 }],
                "{s} is a near miss"
            );
        }
    }

    #[test]
    fn other_braces_stay_text() {
        for s in [
            "{json}",
            "{x}",
            "{}",
            "{reach}",
            "{teach}",
            "{echo}",
            "{{each}}x",
            "{each",
            "a { b } c",
            "{\"k\": 1}",
            "{a very long sentence that starts with each word}",
        ] {
            let unknown = tokens(s)
                .into_iter()
                .any(|t| matches!(t, Token::Unknown { .. }));
            assert!(!unknown, "{s} is text");
        }
        // `{{each}}` is a brace around a placeholder, as it always was.
        assert!(tokens("{{each}}").contains(&Token::Each {
            which: EachRef::Item,
            at: 1,
            len: 6
        }));
    }

    #[test]
    fn points_inside_quoted_plain_and_block_strings() {
        let text = "a: \"mlw-{ech}\"\nb: x-{ech}-{ech}\nc: |\n  one\n  two {ech}\nd: \"\\x7bech} {ech}\"\n";
        let doc = parse(text).expect("yaml");
        let at = |key: &str, nth: usize| {
            let node = doc.get(key).expect("key");
            let Value::Str(s) = &node.value else {
                panic!("a string")
            };
            let offset = s.match_indices("{ech}").nth(nth).expect("occurrence").0;
            inner_pos(text, node.pos, node.span, s, offset, 5)
        };
        assert_eq!(at("a", 0), Some(Pos { line: 1, col: 9 }));
        assert_eq!(at("b", 1), Some(Pos { line: 2, col: 12 }));
        assert_eq!(at("c", 0), Some(Pos { line: 5, col: 7 }));
        // An escape wrote one of the two: which one is ambiguous, so no guess.
        assert_eq!(at("d", 1), None);
    }
}
