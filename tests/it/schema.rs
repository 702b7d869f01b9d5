//! The checked-in JSON Schemas match the Rust types they are generated from.

use std::path::Path;

const REGENERATE: &str = "SYNLINK_UPDATE_SCHEMAS=1 cargo test --test it schema";

fn check(relative: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("SYNLINK_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, generated).expect("write schema");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{relative} is stale (or missing); regenerate it with:\n    {REGENERATE}"
    );
}

#[test]
fn spec_schema_is_fresh() {
    check(
        "schemas/spec.schema.json",
        &synlink::spec::model::schema_json(),
    );
}

#[test]
fn spec_schema_describes_every_section_and_refuses_unknown_ones() {
    let schema: serde_json::Value =
        serde_json::from_str(&synlink::spec::model::schema_json()).expect("schema is JSON");
    let props = schema["properties"].as_object().expect("properties");
    for section in [
        "version",
        "cloud",
        "defaults",
        "variables",
        "ml_workspaces",
        "synapse_workspaces",
        "spark_pools",
        "links",
        "role_grants",
        "attachments",
    ] {
        assert!(props.contains_key(section), "schema lacks `{section}`");
    }
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
    assert_eq!(schema["required"], serde_json::json!(["version"]));
}

#[test]
fn every_example_points_editors_at_the_schema() {
    for path in crate::world::repo_examples() {
        let text = std::fs::read_to_string(&path).expect("read example");
        assert!(
            text.lines().next()
                == Some("# yaml-language-server: $schema=../schemas/spec.schema.json"),
            "{} must start with the yaml-language-server schema line",
            path.display()
        );
    }
}
