//! Typed decoding of the node tree: a serde `Deserializer` over `Node` whose
//! errors carry the position of the value that failed, and which reports every
//! unknown field of a map at once (with a "did you mean" hint).

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::spec::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::spec::node::{Key, Node, Pos, Value};

/// A decoding error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    /// Where the offending value (or key) is.
    pub pos: Option<Pos>,
    /// What is wrong.
    pub message: String,
    /// A hint, when there is one.
    pub hint: Option<String>,
    /// What kind of problem it is.
    pub code: Code,
    /// The fields the map accepts, for an unknown field.
    expected: Option<&'static [&'static str]>,
    /// Further unknown fields of the same map, reported together.
    pub also: Vec<DeError>,
}

impl DeError {
    /// It and the errors reported with it, as diagnostics of `section` (or
    /// address).
    pub fn diagnostics(&self, section: &str) -> impl Iterator<Item = Diagnostic> + '_ {
        let section = section.to_owned();
        std::iter::once(self).chain(&self.also).map(move |err| {
            Diagnostic::error(err.pos, err.message.clone())
                .code(err.code)
                .at(&section)
                .maybe_hint(err.hint.clone())
        })
    }

    fn new(message: String) -> DeError {
        DeError {
            pos: None,
            message,
            hint: None,
            code: Code::WrongType,
            expected: None,
            also: Vec::new(),
        }
    }

    fn with_code(mut self, code: Code) -> DeError {
        self.code = code;
        self
    }

    fn or_pos(mut self, pos: Pos) -> DeError {
        self.pos.get_or_insert(pos);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// Serde names types after Rust; users write YAML.
fn friendly_expected(exp: &str) -> String {
    match exp {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "an integer".into()
        }
        "a boolean" | "a string" | "an integer" => exp.into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        other => other.into(),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> DeError {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> DeError {
        let found = match unexp {
            de::Unexpected::Str(s) => format!("the string \"{s}\""),
            de::Unexpected::Float(f) => format!("the number {f:?}"),
            de::Unexpected::Signed(i) => format!("the integer {i}"),
            de::Unexpected::Unsigned(i) => format!("the integer {i}"),
            de::Unexpected::Bool(b) => format!("the boolean {b}"),
            de::Unexpected::Unit | de::Unexpected::Option => "nothing (null)".into(),
            de::Unexpected::Seq => "a list".into(),
            de::Unexpected::Map => "a map".into(),
            other => other.to_string(),
        };
        let wanted = friendly_expected(&exp.to_string());
        let mut e = DeError::new(format!("expected {wanted}, found {found}"));
        if wanted == "a string"
            && matches!(
                unexp,
                de::Unexpected::Float(_) | de::Unexpected::Signed(_) | de::Unexpected::Unsigned(_)
            )
        {
            e.hint = Some("quote the value to make it a string, e.g. \"3.4\"".into());
        }
        e
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> DeError {
        let mut e = DeError::new(format!("unknown field `{field}`")).with_code(Code::UnknownField);
        let visible: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|f| *f != "for_each")
            .collect();
        e.hint = did_you_mean(field, visible.iter().copied())
            .or_else(|| Some(format!("the fields here are: {}", visible.join(", "))));
        e.expected = Some(expected);
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> DeError {
        let mut e =
            DeError::new(format!("unknown value `{variant}`")).with_code(Code::UnknownValue);
        e.hint = did_you_mean(variant, expected.iter().copied())
            .or_else(|| Some(format!("expected one of: {}", expected.join(", "))));
        e
    }

    fn missing_field(field: &'static str) -> DeError {
        DeError::new(format!("missing required field `{field}`")).with_code(Code::MissingField)
    }

    fn duplicate_field(field: &'static str) -> DeError {
        DeError::new(format!("field `{field}` is given twice")).with_code(Code::DuplicateKey)
    }
}

/// Decodes a node into `T`.
pub fn decode<'de, T: de::Deserialize<'de>>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe { node })
}

/// The deserializer over one node.
struct NodeDe<'a> {
    node: &'a Node,
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let pos = self.node.pos;
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
            }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries,
                next: 0,
                value: None,
            }),
        };
        result.map_err(|e| e.or_pos(pos))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let pos = self.node.pos;
        let result = match &self.node.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(EnumDe { key, value })
            }
            other => Err(DeError::new(format!(
                "expected a name or a map with one key, found {}",
                other.type_name()
            ))),
        };
        result.map_err(|e| e.or_pos(pos))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.items
            .next()
            .map(|node| seed.deserialize(NodeDe { node }))
            .transpose()
    }
}

struct MapDe<'a> {
    entries: &'a [(Key, Node)],
    next: usize,
    value: Option<&'a Node>,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        self.value = Some(value);
        let key_node = Node {
            pos: key.pos,
            span: key.span,
            value: Value::Str(key.text.clone()),
        };
        seed.deserialize(NodeDe { node: &key_node })
            .map(Some)
            .map_err(|mut e| {
                if let Some(expected) = e.expected {
                    e.also = self
                        .entries
                        .iter()
                        .filter(|(k, _)| k.text != key.text && !expected.contains(&k.text.as_str()))
                        .map(|(k, _)| {
                            <DeError as de::Error>::unknown_field(&k.text, expected).or_pos(k.pos)
                        })
                        .collect();
                }
                e.or_pos(key.pos)
            })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| DeError::new("a map value was read before its key".into()))?;
        seed.deserialize(NodeDe { node })
    }
}

struct EnumDe<'a> {
    key: &'a Key,
    value: &'a Node,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let key_node = Node {
            pos: self.key.pos,
            span: self.key.span,
            value: Value::Str(self.key.text.clone()),
        };
        let variant = seed
            .deserialize(NodeDe { node: &key_node })
            .map_err(|e| e.or_pos(self.key.pos))?;
        Ok((variant, NodeDe { node: self.value }))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.node.value {
            Value::Null => Ok(()),
            _ => Err(DeError::new("this value takes no settings".into()).or_pos(self.node.pos)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::spec::diagnostic::Code;
    use crate::spec::model::{Identity, SparkPool};
    use crate::spec::node::{parse, Pos};

    #[test]
    fn reports_every_unknown_field_of_a_map_with_positions() {
        let node =
            parse("synapse_workspace: s\nnode_sise: Small\nspark_verison: '3.4'\n").expect("yaml");
        let err = decode::<SparkPool>(&node).expect_err("unknown fields");
        assert_eq!(err.message, "unknown field `node_sise`");
        assert_eq!(err.pos, Some(Pos { line: 2, col: 1 }));
        assert_eq!(err.hint.as_deref(), Some("did you mean `node_size`?"));
        assert_eq!(err.code, Code::UnknownField);
        assert_eq!(err.also.len(), 1);
        assert_eq!(err.also[0].message, "unknown field `spark_verison`");
        assert_eq!(err.also[0].pos, Some(Pos { line: 3, col: 1 }));
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let node = parse("synapse_workspace: s\nnode_count: three\n").expect("yaml");
        let err = decode::<SparkPool>(&node).expect_err("bad type");
        assert_eq!(
            err.message,
            "expected an integer, found the string \"three\""
        );
        assert_eq!(err.pos, Some(Pos { line: 2, col: 13 }));
    }

    #[test]
    fn enums_read_names_and_single_key_maps() {
        let node = parse("system_assigned").expect("yaml");
        assert_eq!(decode::<Identity>(&node), Ok(Identity::SystemAssigned));
        let node = parse("user_assigned: [/x/y]").expect("yaml");
        assert_eq!(
            decode::<Identity>(&node),
            Ok(Identity::UserAssigned(vec!["/x/y".into()]))
        );
    }
}
