//! Azure naming rules of azure-rest.md §9, checked on PUT: AML workspaces and linked
//! services, AML computes, Synapse workspaces, Spark pools, role assignment GUIDs. A
//! violation answers 400 with Azure's codes.

use crate::arm_error::ArmError;

fn invalid(kind: &str, name: &str, rule: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidResourceName",
        format!("The {kind} name '{name}' is invalid: {rule}"),
    )
}

/// AML workspace (and linked service) names: `^[a-zA-Z0-9][\w-]{2,32}$`.
pub fn check_ml_workspace(kind: &str, name: &str) -> Result<(), ArmError> {
    let ok = (3..=33).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            kind,
            name,
            "it must be 3 to 33 characters of letters, digits, '_' and '-', starting with a letter or digit.",
        ))
    }
}

/// AML compute names: `^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$`.
pub fn check_compute(name: &str) -> Result<(), ArmError> {
    let ok = (2..=16).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "compute",
            name,
            "it must be 2 to 16 characters of letters, digits and '-', start with a letter and end with a letter or digit.",
        ))
    }
}

/// Synapse workspace names: 1–50 lowercase letters, digits and `-`, alphanumeric at both
/// ends, never containing `-ondemand`.
pub fn check_synapse_workspace(name: &str) -> Result<(), ArmError> {
    let ok = (1..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && !name.contains("-ondemand");
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "Synapse workspace",
            name,
            "it must be 1 to 50 lowercase letters, digits and '-', start and end with a letter or digit, and not contain '-ondemand'.",
        ))
    }
}

/// Spark pool names: `^[a-zA-Z][a-zA-Z0-9]{0,14}$`.
pub fn check_spark_pool(name: &str) -> Result<(), ArmError> {
    let ok = (1..=15).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "Spark pool",
            name,
            "it must be 1 to 15 letters and digits and start with a letter.",
        ))
    }
}

/// Resource group names: 1–90 letters, digits, `_-.()`, not ending with `.`.
pub fn check_resource_group(name: &str) -> Result<(), ArmError> {
    let ok = (1..=90).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'))
        && !name.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "InvalidResourceGroupName",
            format!("The resource group name '{name}' is invalid: 1 to 90 letters, digits, '_', '-', '.', '(' and ')', not ending with '.'."),
        ))
    }
}

/// Whether a text is a GUID (8-4-4-4-12 hex digits).
pub fn is_guid(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok() && text.len() == 36
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_rules_follow_azure_rest_section_9() {
        assert!(check_ml_workspace("workspace", "mlw-team_1").is_ok());
        assert!(check_ml_workspace("workspace", "ab").is_err());
        assert!(check_compute("small-spark").is_ok());
        assert!(check_compute("1spark").is_err());
        assert!(check_compute("spark-").is_err());
        assert!(check_synapse_workspace("syn-shared-prod").is_ok());
        assert!(check_synapse_workspace("Syn").is_err());
        assert!(check_synapse_workspace("x-ondemand-y").is_err());
        assert!(check_spark_pool("pool1").is_ok());
        assert!(check_spark_pool("pool-1").is_err());
        assert!(is_guid("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"));
        assert!(!is_guid("owner"));
    }
}
