//! ARM routing: sends a parsed `Target` (target.rs) to what answers it — the shared
//! resource lifecycle (lifecycle.rs) with the resource type of its kind, subscriptions,
//! `checkNameAvailability`, Authorization, or the LRO polling answers. Every handler is
//! synchronous and works on the locked `Store`; the server does the rest (authentication,
//! throttling, faults, headers, logging). This file only lists the parts and dispatches.

pub mod authorization;
pub mod big_data_pools;
pub mod cloud_metadata;
pub mod computes;
pub mod lifecycle;
pub mod linked_services;
pub mod ml_workspaces;
pub mod resource_groups;
pub mod subscriptions;
pub mod synapse_data_plane;
pub mod synapse_workspaces;
pub mod target;

use crate::arm_error::ArmError;
use crate::lro;
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::big_data_pools::BigDataPools;
use crate::routes::computes::Computes;
use crate::routes::lifecycle::{only_get, ResourceType};
use crate::routes::linked_services::LinkedServices;
use crate::routes::ml_workspaces::MlWorkspaces;
use crate::routes::resource_groups::ResourceGroups;
use crate::routes::synapse_workspaces::SynapseWorkspaces;
use crate::routes::target::Target;
use crate::store::{Kind, Store};

/// The resource type that serves a kind.
fn resource_type(kind: Kind) -> &'static dyn ResourceType {
    match kind {
        Kind::ResourceGroup => &ResourceGroups,
        Kind::MlWorkspace => &MlWorkspaces,
        Kind::LinkedService => &LinkedServices,
        Kind::Compute => &Computes,
        Kind::SynapseWorkspace => &SynapseWorkspaces,
        Kind::BigDataPool => &BigDataPools,
    }
}

/// Answers one ARM request.
pub fn handle(store: &mut Store, ctx: &Ctx<'_>, target: &Target) -> Result<Reply, ArmError> {
    match target {
        Target::Subscriptions => subscriptions::list(store, ctx),
        Target::Subscription { sub } => subscriptions::item(store, ctx, sub),
        Target::ResourceGroups { sub } => {
            lifecycle::list(&ResourceGroups, store, ctx, sub, None, None)
        }
        Target::ResourceGroup { sub, rg } => {
            lifecycle::item(&ResourceGroups, store, ctx, sub, None, None, rg)
        }
        Target::SubscriptionList { sub, kind } => {
            lifecycle::list(resource_type(*kind), store, ctx, sub, None, None)
        }
        Target::GroupList { sub, rg, kind } => {
            lifecycle::list(resource_type(*kind), store, ctx, sub, Some(rg), None)
        }
        Target::Item {
            sub,
            rg,
            kind,
            name,
        } => lifecycle::item(resource_type(*kind), store, ctx, sub, Some(rg), None, name),
        Target::ChildList {
            sub,
            rg,
            kind,
            parent,
        } => lifecycle::list(
            resource_type(*kind),
            store,
            ctx,
            sub,
            Some(rg),
            Some(parent),
        ),
        Target::Child {
            sub,
            rg,
            kind,
            parent,
            name,
        } => lifecycle::item(
            resource_type(*kind),
            store,
            ctx,
            sub,
            Some(rg),
            Some(parent),
            name,
        ),
        Target::CheckNameAvailability { .. } => synapse_workspaces::check_name(store, ctx),
        Target::Authorization { scope, what } => authorization::handle(store, ctx, scope, what),
        Target::OperationStatus { op, .. } => {
            only_get(ctx)?;
            require_version(ctx)?;
            lro::status_reply(store, op, ctx.path, ctx.now, ctx.faults)
        }
        Target::OperationResult { op, .. } => {
            only_get(ctx)?;
            require_version(ctx)?;
            let url = format!(
                "{}{}?api-version={}",
                ctx.base_url,
                ctx.path,
                ctx.api_version_or_default()
            );
            lro::result_reply(store, op, &url, ctx.faults)
        }
    }
}

fn require_version(ctx: &Ctx<'_>) -> Result<(), ArmError> {
    if ctx.api_version().is_some_and(|v| !v.is_empty()) {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ))
    }
}
