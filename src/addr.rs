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

/// An Azure Resource Manager id. Azure compares ids case-insensitively and may
/// return another casing than the one sent, so equality and hashing fold case.
#[derive(Debug, Clone, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ArmId(String);

impl ArmId {
    /// Wraps an id as given.
    pub fn new(id: impl Into<String>) -> ArmId {
        ArmId(id.into())
    }

    /// The id as first given (its casing kept).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last path segment (the resource's own name).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
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
}
