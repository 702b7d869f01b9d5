//! Reading request bodies: JSON parsing and typed field access that turns every
//! malformed or wrongly shaped body into a 400 `InvalidRequestContent` answer instead of
//! a panic. Handlers never index into raw JSON without these.

use serde_json::{Map, Value};

use crate::arm_error::ArmError;

/// A JSON object (a request body or a nested part of one).
pub type Object = Map<String, Value>;

/// Parses a body that must be a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<Object, ArmError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ArmError::invalid_content(
            "The request content was invalid and could not be deserialized: the body is empty.",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ArmError::invalid_content(format!(
            "The request content was invalid and could not be deserialized: expected a JSON object, found {}.",
            kind_of(&other)
        ))),
        Err(e) => Err(ArmError::invalid_content(format!(
            "The request content was invalid and could not be deserialized: '{e}'."
        ))),
    }
}

/// Parses a body that may be empty (then an empty object).
pub fn parse_optional_object(bytes: &[u8]) -> Result<Object, ArmError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(Object::new())
    } else {
        parse_object(bytes)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong(path: &str, expected: &str, found: &Value) -> ArmError {
    ArmError::invalid_content(format!(
        "The request content was invalid: '{path}' must be {expected}, found {}.",
        kind_of(found)
    ))
}

/// An optional nested object (`null` counts as absent).
pub fn opt_object<'a>(
    map: &'a Object,
    key: &str,
    path: &str,
) -> Result<Option<&'a Object>, ArmError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(wrong(path, "an object", other)),
    }
}

/// An optional string.
pub fn opt_str<'a>(map: &'a Object, key: &str, path: &str) -> Result<Option<&'a str>, ArmError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong(path, "a string", other)),
    }
}

/// A required, non-empty string.
pub fn req_str<'a>(map: &'a Object, key: &str, path: &str) -> Result<&'a str, ArmError> {
    match opt_str(map, key, path)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(ArmError::bad_request(
            "MissingRequiredProperty",
            format!("The required property '{path}' is missing from the request."),
        )),
    }
}

/// An optional boolean.
pub fn opt_bool(map: &Object, key: &str, path: &str) -> Result<Option<bool>, ArmError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong(path, "a boolean", other)),
    }
}

/// An optional integer.
pub fn opt_i64(map: &Object, key: &str, path: &str) -> Result<Option<i64>, ArmError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong(path, "an integer", &Value::Number(n.clone()))),
        Some(other) => Err(wrong(path, "an integer", other)),
    }
}

/// Optional `tags`: an object of string values; absent gives `{}`.
pub fn tags(map: &Object) -> Result<Value, ArmError> {
    match opt_object(map, "tags", "tags")? {
        None => Ok(Value::Object(Object::new())),
        Some(t) => {
            for (k, v) in t {
                if !v.is_string() {
                    return Err(wrong(&format!("tags.{k}"), "a string", v));
                }
            }
            Ok(Value::Object(t.clone()))
        }
    }
}

/// `value` without the object members that are `null`, at every depth: Azure's answers
/// omit a property that has no value where its definition has no `x-nullable`, rather
/// than send `null` (array items are kept as they are).
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// A value of a closed enum (`modelAsString: false` in the definition): one of `allowed`,
/// spelled exactly so. Anything else is refused as Azure's deserializer refuses it, 400
/// `InvalidRequestContent`.
pub fn closed_enum<'a>(value: &'a str, allowed: &[&str], path: &str) -> Result<&'a str, ArmError> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(ArmError::invalid_content(format!(
            "The request content was invalid and could not be deserialized: Requested value '{value}' was not found for '{path}'; the allowed values are {}.",
            allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_dropped_at_every_depth_but_not_from_arrays() {
        let v =
            without_nulls(json!({"a": null, "b": {"c": null, "d": 1}, "e": [null, {"f": null}]}));
        assert_eq!(v, json!({"b": {"d": 1}, "e": [null, {}]}));
    }

    #[test]
    fn closed_enums_take_exact_spellings_only() {
        assert!(closed_enum("Basic", &["Free", "Basic"], "sku.tier").is_ok());
        let e = closed_enum("basic", &["Free", "Basic"], "sku.tier").unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code.as_str()),
            (400, "InvalidRequestContent")
        );
        assert!(e.message.contains("'basic'") && e.message.contains("sku.tier"));
    }
}
