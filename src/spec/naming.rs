//! Azure's naming rules for the resources synlink creates (azure-rest.md §9),
//! and for where a remote state is kept (a blob service URL, a container, a
//! blob name). Each check returns the broken rule as a message, or `None` when
//! the name is fine.

/// AML workspace (and linked service): 3–33 characters, `^[a-zA-Z0-9][\w-]{2,32}$`.
pub fn ml_workspace(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(3..=33).contains(&len) {
        return Some(format!("must be 3 to 33 characters long, not {len}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must start with a letter or a digit".into());
    }
    bad_char(name, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        .map(|c| format!("may contain only letters, digits, `-` and `_`, not `{c}`"))
}

/// AML linked service: the workspace rule (azureml-core checks it client-side).
pub fn link(name: &str) -> Option<String> {
    ml_workspace(name)
}

/// AML compute: 2–16 characters, `^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$`.
pub fn compute(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(2..=16).contains(&len) {
        return Some(format!("must be 2 to 16 characters long, not {len}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("must start with a letter".into());
    }
    if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must end with a letter or a digit".into());
    }
    bad_char(name, |c| c.is_ascii_alphanumeric() || c == '-')
        .map(|c| format!("may contain only letters, digits and `-`, not `{c}`"))
}

/// Synapse workspace: 1–50 lowercase letters, digits and `-`, starting and
/// ending alphanumeric, never containing `-ondemand`.
pub fn synapse_workspace(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(1..=50).contains(&len) {
        return Some(format!("must be 1 to 50 characters long, not {len}"));
    }
    if let Some(c) = bad_char(name, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
    }) {
        return Some(if c.is_ascii_uppercase() {
            "must be lowercase".into()
        } else {
            format!("may contain only lowercase letters, digits and `-`, not `{c}`")
        });
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Some("must start and end with a letter or a digit".into());
    }
    name.contains("-ondemand")
        .then(|| "must not contain `-ondemand` (reserved by Synapse)".into())
}

/// Spark pool: 1–15 letters and digits, starting with a letter.
pub fn spark_pool(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(1..=15).contains(&len) {
        return Some(format!("must be 1 to 15 characters long, not {len}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("must start with a letter".into());
    }
    bad_char(name, |c| c.is_ascii_alphanumeric())
        .map(|c| format!("may contain only letters and digits, not `{c}`"))
}

/// Synapse managed resource group: ≤ 90 of letters, digits, `-_().`, not ending in `.`.
pub fn managed_resource_group(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(1..=90).contains(&len) {
        return Some(format!("must be 1 to 90 characters long, not {len}"));
    }
    if name.ends_with('.') {
        return Some("must not end with `.`".into());
    }
    bad_char(name, |c| c.is_alphanumeric() || "-_().".contains(c))
        .map(|c| format!("may contain only letters, digits and `-_().`, not `{c}`"))
}

/// Resource group: 1–90 of letters, digits, `-_().`, not ending in `.`.
pub fn resource_group(name: &str) -> Option<String> {
    managed_resource_group(name)
}

/// Blob container: 3–63 lower-case letters, digits and `-`, starting and
/// ending with a letter or a digit, no `--` (Azure Storage's container rule).
pub fn container(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        return Some(format!("must be 3 to 63 characters long, not {len}"));
    }
    if let Some(c) = bad_char(name, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
    }) {
        return Some(if c.is_ascii_uppercase() {
            "must be lowercase".into()
        } else {
            format!("may contain only lowercase letters, digits and `-`, not `{c}`")
        });
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must start and end with a letter or a digit".into());
    }
    name.contains("--")
        .then(|| "must not contain `--` (every `-` stands between letters or digits)".into())
}

/// Blob name (the state's `key`): 1–1024 characters, `/` between non-empty
/// parts, none of them `.` or `..`, not ending with `.` (Azure Storage's blob
/// naming guidance: such names do not round-trip through every client).
pub fn blob_name(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(1..=1024).contains(&len) {
        return Some(format!("must be 1 to 1024 characters long, not {len}"));
    }
    if name.starts_with('/') || name.ends_with('/') {
        return Some("must not start or end with `/`".into());
    }
    if name
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Some("must not have an empty, `.` or `..` part between `/`".into());
    }
    if name.ends_with('.') {
        return Some("must not end with `.`".into());
    }
    bad_char(name, |c| !c.is_control() && c != '\\')
        .map(|c| format!("must not contain `{}`", c.escape_default()))
}

/// A blob service endpoint: an `https://host[:port][/path]` URL without a
/// query or fragment (a SAS there would end up in messages). Plain `http` is
/// refused whatever the host: a SAS or a token is never sent in the clear
/// (Azurite serves https with `--cert` and `--key`).
pub fn blob_service_url(url: &str) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("it must start with https://".into());
    };
    if scheme == "http" {
        return Some(
            "plain http would send the SAS or token in the clear; use https (Azurite serves it with --cert and --key)"
                .into(),
        );
    }
    if scheme != "https" {
        return Some("it must start with https://".into());
    }
    if url.contains(['?', '#']) {
        return Some("it must have no query or fragment".into());
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Some("it has no host".into()),
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if let Some(p) = port.filter(|p| p.parse::<u16>().is_err()) {
        return Some(format!("`{p}` is not a port"));
    }
    (host.is_empty() || host.contains('@')).then(|| "it has no host".into())
}

/// Whether the text is a GUID (8-4-4-4-12 hex digits).
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn bad_char(name: &str, ok: impl Fn(char) -> bool) -> Option<char> {
    name.chars().find(|c| !ok(*c))
}

#[cfg(test)]
mod tests {
    use super::{
        blob_name, blob_service_url, compute, container, is_guid, ml_workspace, spark_pool,
        synapse_workspace,
    };

    #[test]
    fn state_locations_accept_good_names_and_reject_bad_ones() {
        assert_eq!(container("synlink-state"), None);
        for bad in ["ab", "State", "-state", "state-", "a--b", "st_ate"] {
            assert!(container(bad).is_some(), "{bad}");
        }
        assert_eq!(blob_name("prod/teams.json"), None);
        for bad in ["", "/a", "a/", "a//b", "a/../b", "a.", "a\u{7}b"] {
            assert!(blob_name(bad).is_some(), "{bad:?}");
        }
        for good in [
            "https://acct.blob.core.windows.net",
            "https://acct.blob.core.windows.net/",
            "https://azurite.test:10000/devstoreaccount1",
            "https://[2001:db8::1]:10000/devstoreaccount1",
        ] {
            assert_eq!(blob_service_url(good), None, "{good}");
        }
        for bad in [
            "http://azurite.test:10000/devstoreaccount1",
            "http://[2001:db8::1]:10000/devstoreaccount1",
            "acct.blob.core.windows.net",
            "ftp://acct",
            "http://acct.blob.core.windows.net",
            "https://acct.blob.core.windows.net?sv=1&sig=x",
            "https://",
            "https://h:port",
        ] {
            assert!(blob_service_url(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn rules_accept_good_names_and_reject_bad_ones() {
        assert_eq!(ml_workspace("mlw-fraud_1"), None);
        assert!(ml_workspace("ab").is_some());
        assert!(ml_workspace("-abc").is_some());
        assert_eq!(compute("small-spark"), None);
        assert!(compute("1spark").is_some());
        assert!(compute("spark-").is_some());
        assert!(compute("a-very-long-compute-name").is_some());
        assert_eq!(synapse_workspace("syn-shared-prod"), None);
        assert_eq!(
            synapse_workspace("Syn").as_deref(),
            Some("must be lowercase")
        );
        assert!(synapse_workspace("syn-ondemand-x").is_some());
        assert_eq!(spark_pool("small1"), None);
        assert!(spark_pool("small-pool").is_some());
        assert!(spark_pool("1small").is_some());
        assert!(is_guid("c3a6d2f1-a26f-4810-9b0f-591308d5cbf1"));
        assert!(!is_guid("c3a6d2f1-a26f-4810-9b0f"));
    }
}
