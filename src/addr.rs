//! Shared vocabulary of every layer: resource kinds, addresses (`section.key`) and
//! ARM ids compared case-insensitively. Nothing here does I/O.

use std::fmt;

/// The six kinds of resource a spec can describe, one per spec section.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// An Azure Machine Learning workspace.
    MlWorkspace,
    /// A Synapse Analytics workspace.
    SynapseWorkspace,
    /// A Synapse Spark pool (`bigDataPools`).
    SparkPool,
    /// An AML linked service to a Synapse workspace.
    Link,
    /// A Synapse data-plane role assignment.
    RoleGrant,
    /// A Spark pool attached to an AML workspace as `SynapseSpark` compute.
    Attachment,
}

impl ResourceKind {
    /// Every kind, in the order the spec's sections are read.
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::MlWorkspace,
        ResourceKind::SynapseWorkspace,
        ResourceKind::SparkPool,
        ResourceKind::Link,
        ResourceKind::RoleGrant,
        ResourceKind::Attachment,
    ];

    /// The spec section (and address prefix) of this kind.
    pub fn section(self) -> &'static str {
        match self {
            ResourceKind::MlWorkspace => "ml_workspaces",
            ResourceKind::SynapseWorkspace => "synapse_workspaces",
            ResourceKind::SparkPool => "spark_pools",
            ResourceKind::Link => "links",
            ResourceKind::RoleGrant => "role_grants",
            ResourceKind::Attachment => "attachments",
        }
    }

    /// The kind whose section is `section`.
    pub fn from_section(section: &str) -> Option<ResourceKind> {
        ResourceKind::ALL
            .into_iter()
            .find(|k| k.section() == section)
    }

    /// A short human name, as used in messages ("a Spark pool").
    pub fn noun(self) -> &'static str {
        match self {
            ResourceKind::MlWorkspace => "AML workspace",
            ResourceKind::SynapseWorkspace => "Synapse workspace",
            ResourceKind::SparkPool => "Spark pool",
            ResourceKind::Link => "link",
            ResourceKind::RoleGrant => "role grant",
            ResourceKind::Attachment => "attachment",
        }
    }
}

impl ResourceKind {
    /// The noun with its article ("an AML workspace", "a link").
    pub fn a_noun(self) -> String {
        let noun = self.noun();
        let article = if noun.starts_with(['A', 'a', 'E', 'e', 'I', 'i', 'O', 'o', 'U', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {noun}")
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.section())
    }
}

/// The address of a resource: its kind and its logical key after expansion,
/// written `section.key` (e.g. `links.team-fraud`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// The kind (the section the resource is declared in).
    pub kind: ResourceKind,
    /// The logical key inside the section.
    pub key: String,
}

impl Address {
    /// Builds an address.
    pub fn new(kind: ResourceKind, key: impl Into<String>) -> Address {
        Address {
            kind,
            key: key.into(),
        }
    }

    /// Parses `section.key`; `None` when the section is unknown or the key empty.
    pub fn parse(text: &str) -> Option<Address> {
        let (section, key) = text.split_once('.')?;
        let kind = ResourceKind::from_section(section)?;
        (!key.is_empty()).then(|| Address::new(kind, key))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.section(), self.key)
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Address::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not an address (section.key)"))
        })
    }
}

/// The properties of a resource, flattened to dotted paths (`autoscale.min`),
/// in a stable order. Values are JSON. Plans, the state and providers share it.
pub type Properties = indexmap::IndexMap<String, serde_json::Value>;

/// An Azure Resource Manager id (`/subscriptions/{s}/resourceGroups/{g}/providers/
/// {namespace}/{type}/{name}[/{child type}/{child name}]…`). Azure compares ids
/// case-insensitively and may answer in another casing than the one sent, so
/// equality, hashing and ordering fold case; the text keeps the casing first given.
/// A Synapse role assignment is addressed the same way, as a child
/// `roleAssignments/{id}` of its workspace.
#[derive(Debug, Clone, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ArmId(String);

/// Why a text is not an ARM id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an ARM id: {why}")]
pub struct ArmIdError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl ArmId {
    /// Wraps an id as given (a trailing `/` dropped), without checking its shape.
    pub fn new(id: impl Into<String>) -> ArmId {
        let mut id = id.into();
        while id.len() > 1 && id.ends_with('/') {
            id.pop();
        }
        ArmId(id)
    }

    /// Parses an id: `/subscriptions/{s}` followed by name/value pairs.
    pub fn parse(text: &str) -> Result<ArmId, ArmIdError> {
        let fail = |why| ArmIdError {
            text: text.to_owned(),
            why,
        };
        let id = ArmId::new(text.trim());
        let segments: Vec<&str> = id.segments().collect();
        if !id.0.starts_with('/')
            || segments.first().map(|s| s.to_ascii_lowercase()) != Some("subscriptions".into())
        {
            return Err(fail("it must start with /subscriptions/"));
        }
        if segments.iter().any(|s| s.is_empty()) {
            return Err(fail("it has an empty segment"));
        }
        if !segments.len().is_multiple_of(2) {
            return Err(fail("its segments do not pair up as type/name"));
        }
        Ok(id)
    }

    /// The id of a resource group.
    pub fn resource_group_id(subscription: &str, group: &str) -> ArmId {
        ArmId::new(format!(
            "/subscriptions/{subscription}/resourceGroups/{group}"
        ))
    }

    /// The id of a top-level resource: `{namespace_type}` is `Namespace/type`.
    pub fn resource(subscription: &str, group: &str, namespace_type: &str, name: &str) -> ArmId {
        ArmId::new(format!(
            "/subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace_type}/{name}"
        ))
    }

    /// A child of this resource: `{self}/{collection}/{name}`.
    #[must_use]
    pub fn child(&self, collection: &str, name: &str) -> ArmId {
        ArmId::new(format!("{}/{collection}/{name}", self.0))
    }

    /// The id as first given (its casing kept).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id in lower case, for properties and messages that compare ids as text.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.strip_prefix('/').unwrap_or(&self.0).split('/')
    }

    /// The value following a segment named `key` (case-insensitive).
    fn after(&self, key: &str) -> Option<&str> {
        let mut segments = self.segments();
        while let Some(s) = segments.next() {
            if s.eq_ignore_ascii_case(key) {
                return segments.next();
            }
        }
        None
    }

    /// The last path segment (the resource's own name).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The subscription id.
    pub fn subscription(&self) -> Option<&str> {
        self.after("subscriptions")
    }

    /// The resource group name.
    pub fn resource_group(&self) -> Option<&str> {
        self.after("resourceGroups")
    }

    /// The resource type, e.g. `Microsoft.Synapse/workspaces/bigDataPools`
    /// (`None` for a subscription or a resource group).
    pub fn resource_type(&self) -> Option<String> {
        let rest = self
            .0
            .split_once("/providers/")
            .or_else(|| {
                let lower = self.folded();
                lower
                    .find("/providers/")
                    .map(|i| (&self.0[..i], &self.0[i + 11..]))
            })?
            .1;
        let parts: Vec<&str> = rest.split('/').collect();
        let namespace = parts.first()?;
        let types: Vec<&str> = parts[1..].iter().step_by(2).copied().collect();
        (!types.is_empty()).then(|| format!("{namespace}/{}", types.join("/")))
    }

    /// The resource this one lives under: a child's parent resource, a
    /// top-level resource's resource group, a group's subscription.
    pub fn parent(&self) -> Option<ArmId> {
        let segments: Vec<&str> = self.segments().collect();
        if segments.len() <= 2 {
            return None;
        }
        // `/providers/{namespace}` is one step of three segments, not a type/name pair.
        let mut cut = segments.len() - 2;
        if cut >= 2 && segments[cut - 2].eq_ignore_ascii_case("providers") {
            cut -= 2;
        }
        Some(ArmId::new(format!("/{}", segments[..cut].join("/"))))
    }

    /// Whether `self` is `other` or lies below it.
    pub fn is_within(&self, other: &ArmId) -> bool {
        let (me, them) = (self.folded(), other.folded());
        me == them || me.starts_with(&format!("{them}/"))
    }
}

impl PartialEq for ArmId {
    fn eq(&self, other: &ArmId) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl std::hash::Hash for ArmId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl PartialOrd for ArmId {
    fn partial_cmp(&self, other: &ArmId) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ArmId {
    fn cmp(&self, other: &ArmId) -> std::cmp::Ordering {
        self.0
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(other.0.bytes().map(|b| b.to_ascii_lowercase()))
    }
}

impl fmt::Display for ArmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Address, ArmId, ResourceKind};

    #[test]
    fn address_round_trips_through_text() {
        let a = Address::parse("links.team-fraud").expect("valid address");
        assert_eq!(a.kind, ResourceKind::Link);
        assert_eq!(a.key, "team-fraud");
        assert_eq!(a.to_string(), "links.team-fraud");
        assert_eq!(Address::parse("link.x"), None);
        assert_eq!(Address::parse("links."), None);
    }

    #[test]
    fn arm_ids_compare_without_case() {
        let a = ArmId::new(
            "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn1",
        );
        let b = ArmId::new(
            "/subscriptions/s/resourcegroups/RG/providers/microsoft.synapse/workspaces/SYN1",
        );
        assert_eq!(a, b);
        let mut set = std::collections::HashSet::new();
        set.insert(a);
        assert!(set.contains(&b));
        assert_eq!(b.name(), "SYN1");
    }

    #[test]
    fn arm_ids_know_their_parts() {
        let pool = ArmId::parse(
            "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn1/bigDataPools/small/",
        )
        .expect("an id");
        assert_eq!(pool.subscription(), Some("S"));
        assert_eq!(pool.resource_group(), Some("rg"));
        assert_eq!(pool.name(), "small");
        assert_eq!(
            pool.resource_type().as_deref(),
            Some("Microsoft.Synapse/workspaces/bigDataPools")
        );
        let ws = pool.parent().expect("a parent");
        assert_eq!(
            ws.as_str(),
            "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn1"
        );
        assert_eq!(
            ws.resource_type().as_deref(),
            Some("Microsoft.Synapse/workspaces")
        );
        let group = ws.parent().expect("the group");
        assert_eq!(group.as_str(), "/subscriptions/S/resourceGroups/rg");
        assert_eq!(group.resource_type(), None);
        assert_eq!(
            group.parent().map(|p| p.to_string()),
            Some("/subscriptions/S".into())
        );
        assert!(pool.is_within(&ws) && !ws.is_within(&pool));
        assert_eq!(ws.child("bigDataPools", "small"), pool);
        assert!(ArmId::parse("/resourceGroups/rg").is_err());
        assert!(ArmId::parse("/subscriptions/S/resourceGroups").is_err());
        assert!(ArmId::parse("/subscriptions/S//x").is_err());
    }
}
