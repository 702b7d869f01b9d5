//! The plan formats through the public API: the checked-in plan schema is fresh,
//! a rendered JSON plan validates against it, and a markdown plan of thousands
//! of changes stays under the pull-request comment limit.

use std::path::Path;

use serde_json::json;
use synlink::addr::{Address, ArmId};
use synlink::plan::{Action, Change, Plan, PlanMode, Properties, Warning, PLAN_FORMAT_VERSION};
use synlink::render::plan::{json as render_json, markdown, text, MARKDOWN_LIMIT};

const REGENERATE: &str = "SYNLINK_UPDATE_SCHEMAS=1 cargo test --test it schema";
const SCHEMA_PATH: &str = "schemas/plan.schema.json";

/// A plan touching every action and kind, with unknowns, drift and a warning.
fn sample_plan(creates: usize) -> Plan {
    let props = |pairs: &[(&str, serde_json::Value)]| -> Properties {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    let change = |action: Action, address: &str| {
        Change::new(Address::parse(address).expect("address"), action)
    };
    let mut changes = Vec::new();
    for i in 0..creates {
        let mut c = change(Action::Create, &format!("links.team-{i}"));
        c.after = Some(props(&[
            ("name", json!("synapselink1")),
            ("ml_workspace", json!(format!("mlw-team-{i}"))),
        ]));
        c.after_unknown = vec!["principal_id".to_owned()];
        c.reasons = vec!["not found in Azure".to_owned()];
        changes.push(c);
    }
    let mut update = change(Action::Update, "spark_pools.small");
    update.id = Some(ArmId::new("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/w/bigDataPools/small"));
    update.before = Some(props(&[
        ("node_count", json!(3)),
        ("spark_version", json!("3.4")),
    ]));
    update.after = Some(props(&[
        ("node_count", json!(5)),
        ("spark_version", json!("3.4")),
    ]));
    changes.push(update);
    let mut replace = change(Action::Replace, "attachments.team-0-small");
    replace.before = Some(props(&[("spark_pool", json!("small"))]));
    replace.after = Some(props(&[("spark_pool", json!("large"))]));
    replace.replace_paths = vec!["spark_pool".to_owned()];
    changes.push(replace);
    let mut revoke = change(Action::Delete, "role_grants.old");
    revoke.before = Some(props(&[("role", json!("Synapse Administrator"))]));
    changes.push(revoke);
    let mut read = change(Action::Read, "ml_workspaces.team-0");
    read.after = Some(props(&[("name", json!("mlw-team-0"))]));
    changes.push(read);
    let mut drift = change(Action::Update, "spark_pools.small");
    drift.before = Some(props(&[("auto_pause_minutes", json!(15))]));
    drift.after = Some(props(&[("auto_pause_minutes", json!(60))]));
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        synlink_version: env!("CARGO_PKG_VERSION").to_owned(),
        digest: String::new(),
        spec_path: "synlink.yaml".to_owned(),
        spec_hash: "00".repeat(32),
        state_lineage: "lineage".to_owned(),
        state_serial: 1,
        mode: PlanMode::Normal,
        targets: Vec::new(),
        changes,
        drift: vec![drift],
        warnings: vec![Warning {
            headline: "on the deprecated linked-service path".to_owned(),
            detail: "links create deprecated linked services".to_owned(),
            addresses: vec![Address::parse("links.team-0").expect("address")],
        }],
    };
    plan.seal();
    plan
}

// Named with `schema` so that `SYNLINK_UPDATE_SCHEMAS=1 cargo test --test it schema`
// regenerates it along with the spec schema.
#[test]
fn plan_schema_is_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_PATH);
    let generated = synlink::plan::schema_json();
    if std::env::var_os("SYNLINK_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{SCHEMA_PATH} is stale (or missing); regenerate it with:\n    {REGENERATE}"
    );
}

#[test]
fn rendered_json_plan_validates_against_the_plan_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&synlink::plan::schema_json()).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let rendered = render_json(&sample_plan(2));
    let instance: serde_json::Value = serde_json::from_str(&rendered).expect("plan is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the JSON plan breaks its schema:\n{}",
        errors.join("\n")
    );

    // And the schema is strict enough to notice a broken plan.
    let mut broken = instance.clone();
    broken["changes"][0]["action"] = json!("explode");
    assert!(!validator.is_valid(&broken));
    let mut missing = instance;
    missing.as_object_mut().expect("object").remove("changes");
    assert!(!validator.is_valid(&missing));
}

#[test]
fn markdown_of_3000_changes_stays_under_the_comment_limit() {
    let plan = sample_plan(3000);
    let out = markdown(&plan, Some("tfplan.synlink"));
    assert!(out.len() <= MARKDOWN_LIMIT, "{} bytes", out.len());
    assert!(out
        .contains("The plan was cut at 60,000 characters; the full plan is in `tfplan.synlink`."));
    // The destructive changes lead the table, so they survive the cut.
    assert!(out.contains("| `-/+` | replace | `attachments.team-0-small` |"));
    assert!(out.contains("| `-` | revoke | `role_grants.old` |"));
    // The text plan is never cut.
    let full = text(&plan, false);
    assert_eq!(full.matches("will be created").count(), 3000);
    assert!(full.ends_with("Plan: 3000 to add, 1 to change, 1 to replace, 1 to destroy.\n"));
}
