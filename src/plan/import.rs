//! `synlink import`: adopts one existing resource under an address of the
//! spec. An address owns exactly one id, the one its settings give it, so the
//! id given must be that one (for a role assignment, whose id Azure's client
//! chose, it must lie in the spec's workspace and hold the spec's scope, role
//! and principal), and no other address may already own it. Reads the resource
//! through its provider and gives the state's record for it.

use serde_json::Value;

use crate::addr::{Address, ArmId};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::provider::{self, Known, Lookup};
use crate::spec::LoadedSpec;
use crate::state::{ResourceState, State};

/// Why an import is refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The id given is not the one the spec gives the address.
    #[error("`{given}` is not the id of {} at {address}: the spec gives {address} {expected}", address.kind.a_noun())]
    WrongId {
        /// The address.
        address: Address,
        /// The id given.
        given: ArmId,
        /// The id (or, for a role assignment, the place) the spec gives it.
        expected: String,
    },
    /// The resource at the id holds other settings than the spec's.
    #[error("`{given}` is not the resource {address} describes: {why}")]
    Mismatch {
        /// The address.
        address: Address,
        /// The id given.
        given: ArmId,
        /// What differs.
        why: String,
    },
    /// Another address already owns the id.
    #[error("`{given}` is already in the state as {owner}; one address owns one resource")]
    Taken {
        /// The id given.
        given: ArmId,
        /// The address that owns it.
        owner: String,
    },
    /// Nothing exists at the id.
    #[error("{0}: not found in Azure")]
    NotFound(ArmId),
    /// Reading failed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
}

/// Outputs of addresses the state already records, for a role grant whose
/// principal is a link or an attachment.
struct FromState<'a>(&'a State);

impl Lookup for FromState<'_> {
    fn id(&self, address: &Address) -> Option<ArmId> {
        self.0
            .resources
            .get(&address.to_string())
            .map(|r| r.id.clone())
    }

    fn body(&self, _address: &Address) -> Option<&Value> {
        None
    }

    fn output(&self, address: &Address, key: &str) -> Known {
        self.0
            .resources
            .get(&address.to_string())
            .and_then(|r| r.outputs.get(key))
            .cloned()
            .map_or(Known::Absent, Known::Now)
    }
}

/// Checks that `given` is the id the spec gives `address` (for a kind whose
/// ids Azure's clients choose: an id in the place the spec gives it). Pure.
pub fn check(spec: &LoadedSpec, address: &Address, given: &ArmId) -> Result<(), ImportError> {
    let wrong = |expected: String| ImportError::WrongId {
        address: address.clone(),
        given: given.clone(),
        expected,
    };
    let Some(r) = spec.resources.get(address) else {
        return Err(wrong("nothing: the address is not in the spec".into()));
    };
    let p = provider::of(address.kind);
    match (p.id(r, spec), p.parent_id(r, spec)) {
        (Some(expected), _) if &expected != given => Err(wrong(format!("the id {expected}"))),
        (None, Some(parent)) if given.parent().as_ref() != Some(&parent) => {
            Err(wrong(format!("an id under {parent}/{}/", p.collection())))
        }
        _ => Ok(()),
    }
}

/// Checks and reads the resource `given` for `address`; returns its record.
pub async fn read(
    client: &Client,
    spec: &LoadedSpec,
    state: &State,
    address: &Address,
    given: &ArmId,
    dependencies: Vec<Address>,
) -> Result<ResourceState, ImportError> {
    check(spec, address, given)?;
    let Some(r) = spec.resources.get(address) else {
        return Err(ImportError::NotFound(given.clone()));
    };
    let p = provider::of(address.kind);
    let parent_id = p.parent_id(r, spec);
    if let Some((owner, _)) = state
        .resources
        .iter()
        .find(|(a, rs)| rs.id == *given && a.as_str() != address.to_string())
    {
        return Err(ImportError::Taken {
            given: given.clone(),
            owner: owner.clone(),
        });
    }
    let parent = match (&parent_id, p.parent_kind()) {
        (Some(id), Some(kind)) => provider::of(kind).read(client, id, None).await?,
        _ => None,
    };
    let body = p
        .read(client, given, parent.as_ref())
        .await?
        .ok_or_else(|| ImportError::NotFound(given.clone()))?;
    let desired = p.desired(r, spec, &FromState(state));
    if p.id(r, spec).is_none() {
        // Found by settings, not by name: the resource must hold the spec's.
        let observed = p.observed(&body, Some(&desired.properties));
        let differing: Vec<String> = desired
            .properties
            .iter()
            .filter(|(k, v)| observed.get(*k) != Some(*v))
            .map(|(k, v)| {
                format!(
                    "`{k}` is {} in Azure, {v} in the spec",
                    observed
                        .get(k)
                        .map_or_else(|| "absent".to_owned(), ToString::to_string)
                )
            })
            .collect();
        if !differing.is_empty() {
            return Err(ImportError::Mismatch {
                address: address.clone(),
                given: given.clone(),
                why: differing.join("; "),
            });
        }
    }
    Ok(ResourceState {
        kind: address.kind,
        id: given.clone(),
        existing: r.existing,
        properties: p.observed(&body, Some(&desired.properties)),
        outputs: p.outputs(&body),
        dependencies,
    })
}
