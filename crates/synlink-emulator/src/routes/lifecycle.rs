//! The ARM resource lifecycle every emulated resource type shares (azure-rest.md §1): list
//! under a scope, and GET (HEAD), PUT, PATCH and DELETE of one item — the api-version
//! check, finding the resource group or parent, the RBAC check, 404s in ARM's wording,
//! `Deleting` refusals, storing, and starting the long-running operation with its polling
//! headers. It is written once here; a resource type says only what is its own through
//! `ResourceType`: a `Lifecycle` table (status codes, which methods poll and how) and
//! hooks for its rules (naming, validation, bodies, extra checks). It knows no type by name.

use http::{Method, StatusCode};
use serde_json::Value;

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_object, opt_str, parse_object, tags, without_nulls, Object};
use crate::clock::rfc3339;
use crate::lro;
use crate::operation::OpAction;
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::store::{set_state, state_of, Kind, Resource, Store};

/// Where the resources of a type live, which decides their ids and list scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Directly in a subscription (`/subscriptions/{sub}/resourceGroups/{name}`).
    Subscription,
    /// In a resource group (`{group}/providers/{type}/{name}`); lists also per subscription.
    ResourceGroup,
    /// Under a parent of `kind` (`{parent id}/{segment}/{name}`); a missing parent is 404
    /// `ParentResourceNotFound`.
    Parent {
        /// The parent's kind (a resource-group-level type).
        kind: Kind,
        /// The URL segment of the children.
        segment: &'static str,
    },
}

/// Which polling URLs a long-running answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// `Azure-AsyncOperation` (`…/operationStatuses/{id}`).
    pub async_operation: bool,
    /// `Location` (`…/operationResults/{id}`).
    pub location: bool,
}

/// `Azure-AsyncOperation` only.
pub const ASYNC: Polling = Polling {
    async_operation: true,
    location: false,
};
/// `Azure-AsyncOperation` and `Location`.
pub const ASYNC_AND_LOCATION: Polling = Polling {
    async_operation: true,
    location: true,
};
/// `Location` only.
pub const LOCATION: Polling = Polling {
    async_operation: false,
    location: true,
};

/// A PUT that the type finishes as a long-running operation.
#[derive(Debug, Clone, Copy)]
pub struct PutLro {
    /// What the operation does when it ends.
    pub action: OpAction,
    /// Its polling headers.
    pub polling: Polling,
    /// Answer with the resource as stored once the operation had its chance to end at
    /// once (a zero duration), rather than as the PUT wrote it.
    pub answer_settled: bool,
}

/// What PATCH does.
#[derive(Debug, Clone, Copy)]
pub enum Patch {
    /// 405, like any method the type does not take.
    NotAllowed,
    /// 400 `BadRequest` with this message, before any RBAC check.
    Refused(&'static str),
    /// Merges the request into the stored body (tags, then `ResourceType::merge`).
    Merge {
        /// Stamps `systemData` as a modification.
        system_data: bool,
        /// Marks the resource `Updating` and answers as a long-running operation.
        lro: Option<Polling>,
    },
}

/// What DELETE of an existing resource does.
#[derive(Debug, Clone, Copy)]
pub enum Delete {
    /// Removes it (and everything under it) at once; 200 without a body.
    Immediate,
    /// Marks it `Deleting` and removes it when the operation ends; 202.
    Lro {
        /// Its polling headers.
        polling: Polling,
        /// Answers with the `Deleting` body.
        with_body: bool,
    },
}

/// DELETE of a resource that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absent {
    /// 204, as most resource providers answer.
    NoContent,
    /// The type's 404 (`ResourceType::missing`).
    NotFound,
}

/// The lifecycle table of one resource type.
#[derive(Debug)]
pub struct Lifecycle {
    /// The kind it serves.
    pub kind: Kind,
    /// The API family whose versions it accepts.
    pub api: Api,
    /// Where its resources live.
    pub container: Container,
    /// The prefix of the RBAC actions named in 403s (`{prefix}/read`, `/write`, `/delete`).
    pub actions: &'static str,
    /// The methods an item takes (the 405 `Allow` header).
    pub allow: &'static str,
    /// HEAD answers 204 for an existing item.
    pub head: bool,
    /// The status of a PUT that creates (an overwrite answers 200).
    pub created: StatusCode,
    /// How PUT ends: at once (`None`) or as a long-running operation.
    pub put: Option<PutLro>,
    /// What PATCH does.
    pub patch: Patch,
    /// What DELETE does.
    pub delete: Delete,
    /// What DELETE answers when there is nothing to delete.
    pub absent: Absent,
}

/// A request's resource, found in the store.
#[derive(Debug)]
pub struct Located<'a> {
    /// The id in its stored casing, or as the URL spells it when the resource is new.
    pub id: String,
    /// The stored resource, if there is one.
    pub existing: Option<Resource>,
    /// The parent resource (children only).
    pub parent: Option<Resource>,
    /// The name in the URL.
    pub name: &'a str,
    /// The resource group in the URL (for a resource group, its own name).
    pub rg: &'a str,
    /// The parent's name in the URL (children only).
    pub parent_name: Option<&'a str>,
}

impl Located<'_> {
    /// The stored body, if any.
    pub fn previous(&self) -> Option<&Value> {
        self.existing.as_ref().map(|r| &r.body)
    }
}

/// One resource type: its lifecycle table, and the rules that are its own.
pub trait ResourceType: Sync {
    /// Its lifecycle table.
    fn lifecycle(&self) -> &'static Lifecycle;

    /// Checks a PUT (after the RBAC check) and builds the body to store. Refusing a
    /// resource being deleted (`refuse_if_deleting`) is part of the rules, in their order.
    fn put(&self, store: &mut Store, ctx: &Ctx<'_>, at: &Located<'_>) -> Result<Value, ArmError>;

    /// Merges a PATCH request into `body`, a copy of the stored one (tags are already
    /// merged).
    fn merge(
        &self,
        _store: &mut Store,
        _ctx: &Ctx<'_>,
        _at: &Located<'_>,
        _request: &Object,
        _body: &mut Value,
    ) -> Result<(), ArmError> {
        Ok(())
    }

    /// The body as answers show it, after `present` dropped its nulls.
    fn shown(&self, body: Value, _ctx: &Ctx<'_>) -> Value {
        body
    }

    /// How a PUT that creates answers: its status, and whether the resource comes with
    /// it (the api-version may decide: definitions change the codes they allow).
    fn created(&self, _ctx: &Ctx<'_>) -> (StatusCode, bool) {
        (self.lifecycle().created, true)
    }

    /// The 404 for a resource that does not exist.
    fn missing(&self, at: &Located<'_>) -> ArmError {
        let name = match at.parent_name {
            Some(parent) => format!("{parent}/{}", at.name),
            None => at.name.to_owned(),
        };
        ArmError::resource_not_found(self.lifecycle().kind.type_name(), &name, at.rg)
    }

    /// Checks a DELETE request before looking for the resource.
    fn check_delete_request(&self, _ctx: &Ctx<'_>) -> Result<(), ArmError> {
        Ok(())
    }

    /// Checks the DELETE of an existing resource.
    fn check_delete(
        &self,
        _store: &Store,
        _ctx: &Ctx<'_>,
        _at: &Located<'_>,
        _stored: &Resource,
    ) -> Result<(), ArmError> {
        Ok(())
    }
}

/// `GET` of the resources of a type under a subscription, a resource group (`rg`) or a
/// parent (`parent`, in `rg`).
pub fn list(
    t: &dyn ResourceType,
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: Option<&str>,
    parent: Option<&str>,
) -> Result<Reply, ArmError> {
    let l = t.lifecycle();
    only_get(ctx)?;
    l.api.check(ctx.api_version(), l.kind.type_name())?;
    let scope = match (l.container, rg, parent) {
        (Container::Parent { kind, .. }, Some(rg), Some(parent)) => {
            existing_parent(store, kind, sub, rg, parent)?.id
        }
        (_, Some(rg), _) => existing_group(store, sub, rg)?,
        _ => format!("/subscriptions/{sub}"),
    };
    rbac::require(
        store,
        &ctx.caller.oid,
        &scope,
        Access::Read,
        &format!("{}/read", l.actions),
    )?;
    Ok(list_reply(
        store
            .under(&scope, l.kind)
            .into_iter()
            .map(|r| present(t, r.body.clone(), ctx))
            .collect(),
    ))
}

/// One item: `{…}/{name}` in resource group `rg` (none for a resource group itself),
/// under `parent` for children.
pub fn item(
    t: &dyn ResourceType,
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: Option<&str>,
    parent: Option<&str>,
    name: &str,
) -> Result<Reply, ArmError> {
    let l = t.lifecycle();
    l.api.check(ctx.api_version(), l.kind.type_name())?;
    let at = locate(store, l, sub, rg, parent, name)?;
    let oid = ctx.caller.oid.as_str();
    let action = |verb: &str| format!("{}/{verb}", l.actions);
    match *ctx.method {
        Method::GET => {
            rbac::require(store, oid, &at.id, Access::Read, &action("read"))?;
            let r = at.existing.clone().ok_or_else(|| t.missing(&at))?;
            Ok(Reply::ok(present(t, r.body, ctx)))
        }
        Method::HEAD if l.head => {
            rbac::require(store, oid, &at.id, Access::Read, &action("read"))?;
            at.existing.as_ref().ok_or_else(|| t.missing(&at))?;
            Ok(Reply::empty(StatusCode::NO_CONTENT))
        }
        Method::PUT => {
            rbac::require(store, oid, &at.id, Access::Write, &action("write"))?;
            put(t, store, ctx, &at)
        }
        Method::PATCH => patch(t, store, ctx, &at, &action("write")),
        Method::DELETE => {
            rbac::require(store, oid, &at.id, Access::Delete, &action("delete"))?;
            delete(t, store, ctx, &at)
        }
        _ => Err(ArmError::method_not_allowed(ctx.method.as_str(), l.allow)),
    }
}

fn put(
    t: &dyn ResourceType,
    store: &mut Store,
    ctx: &Ctx<'_>,
    at: &Located<'_>,
) -> Result<Reply, ArmError> {
    let l = t.lifecycle();
    let body = t.put(store, ctx, at)?;
    store.put(Resource {
        id: at.id.clone(),
        kind: l.kind,
        body: body.clone(),
    });
    let (status, with_body) = if at.existing.is_some() {
        (StatusCode::OK, true)
    } else {
        t.created(ctx)
    };
    let Some(op) = l.put else {
        return Ok(Reply::json(status, present(t, body, ctx)));
    };
    let duration = ctx.lro_ms();
    let op_id = lro::start(store, op.action, &at.id, ctx.now, duration);
    let body = if op.answer_settled {
        store.get(&at.id).map_or(body, |r| r.body.clone())
    } else {
        body
    };
    let mut reply = if with_body {
        Reply::json(status, present(t, body, ctx))
    } else {
        Reply::empty(status)
    };
    reply.headers = polling_headers(ctx, &at.id, &op_id, op.polling);
    Ok(reply)
}

fn patch(
    t: &dyn ResourceType,
    store: &mut Store,
    ctx: &Ctx<'_>,
    at: &Located<'_>,
    write_action: &str,
) -> Result<Reply, ArmError> {
    let l = t.lifecycle();
    let (stamp, lro) = match l.patch {
        Patch::NotAllowed => {
            return Err(ArmError::method_not_allowed(ctx.method.as_str(), l.allow))
        }
        Patch::Refused(message) => return Err(ArmError::bad_request("BadRequest", message)),
        Patch::Merge { system_data, lro } => (system_data, lro),
    };
    let oid = ctx.caller.oid.as_str();
    rbac::require(store, oid, &at.id, Access::Write, write_action)?;
    let request = parse_object(ctx.body)?;
    let r = at.existing.clone().ok_or_else(|| t.missing(at))?;
    refuse_if_deleting(&r.body, &r.id)?;
    let mut body = r.body.clone();
    if request.contains_key("tags") {
        body["tags"] = tags(&request)?;
    }
    t.merge(store, ctx, at, &request, &mut body)?;
    if lro.is_some() {
        set_state(&mut body, "Updating");
    }
    if stamp {
        body["systemData"] = system_data(Some(&r.body), oid, ctx.now);
    }
    store.put(Resource {
        id: r.id.clone(),
        kind: l.kind,
        body: body.clone(),
    });
    let mut reply = Reply::ok(present(t, body, ctx));
    if let Some(polling) = lro {
        let duration = ctx.lro_ms();
        let op_id = lro::start(store, OpAction::Provision, &r.id, ctx.now, duration);
        reply.headers = polling_headers(ctx, &r.id, &op_id, polling);
    }
    Ok(reply)
}

fn delete(
    t: &dyn ResourceType,
    store: &mut Store,
    ctx: &Ctx<'_>,
    at: &Located<'_>,
) -> Result<Reply, ArmError> {
    let l = t.lifecycle();
    t.check_delete_request(ctx)?;
    let Some(r) = at.existing.clone() else {
        return match l.absent {
            Absent::NoContent => Ok(Reply::empty(StatusCode::NO_CONTENT)),
            Absent::NotFound => Err(t.missing(at)),
        };
    };
    t.check_delete(store, ctx, at, &r)?;
    match l.delete {
        Delete::Immediate => {
            store.remove_tree(&r.id);
            Ok(Reply::empty(StatusCode::OK))
        }
        Delete::Lro { polling, with_body } => {
            let mut body = r.body.clone();
            set_state(&mut body, "Deleting");
            store.put(Resource {
                id: r.id.clone(),
                kind: l.kind,
                body: body.clone(),
            });
            let duration = ctx.lro_ms();
            let op_id = lro::start(store, OpAction::Delete, &r.id, ctx.now, duration);
            let mut reply = if with_body {
                Reply::json(StatusCode::ACCEPTED, present(t, body, ctx))
            } else {
                Reply::empty(StatusCode::ACCEPTED)
            };
            reply.headers = polling_headers(ctx, &r.id, &op_id, polling);
            Ok(reply)
        }
    }
}

fn polling_headers(
    ctx: &Ctx<'_>,
    id: &str,
    op_id: &str,
    polling: Polling,
) -> Vec<(String, String)> {
    lro::headers(
        ctx.base_url,
        id,
        op_id,
        &ctx.api_version_or_default(),
        ctx.faults,
        polling.async_operation,
        polling.location,
    )
}

/// A stored body as an answer shows it: without nulls, then the type's own `shown`.
fn present(t: &dyn ResourceType, body: Value, ctx: &Ctx<'_>) -> Value {
    t.shown(without_nulls(body), ctx)
}

/// Finds a request's resource (and its parent); 404 for a missing resource group or
/// parent.
fn locate<'a>(
    store: &Store,
    l: &Lifecycle,
    sub: &str,
    rg: Option<&'a str>,
    parent_name: Option<&'a str>,
    name: &'a str,
) -> Result<Located<'a>, ArmError> {
    let (id, parent) = match (l.container, rg, parent_name) {
        (Container::Parent { kind, segment }, Some(rg), Some(parent_name)) => {
            let parent = existing_parent(store, kind, sub, rg, parent_name)?;
            (format!("{}/{segment}/{name}", parent.id), Some(parent))
        }
        (_, Some(rg), _) => {
            let group = existing_group(store, sub, rg)?;
            (
                format!("{group}/providers/{}/{name}", l.kind.type_name()),
                None,
            )
        }
        _ => {
            // A new resource group takes the subscription's casing as first used.
            let shown = store
                .subscriptions
                .get(&sub.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| sub.to_owned());
            (group_id(&shown, name), None)
        }
    };
    let existing = store.get(&id).filter(|r| r.kind == l.kind).cloned();
    Ok(Located {
        id: existing.as_ref().map_or(id, |r| r.id.clone()),
        existing,
        parent,
        name,
        rg: rg.unwrap_or(name),
        parent_name,
    })
}

/// The parent (a resource-group-level resource of `kind`) of a child request, or 404
/// (`ResourceGroupNotFound`, `ParentResourceNotFound`).
fn existing_parent(
    store: &Store,
    kind: Kind,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Resource, ArmError> {
    let group = existing_group(store, sub, rg)?;
    let type_name = kind.type_name();
    store
        .get(&format!("{group}/providers/{type_name}/{name}"))
        .filter(|r| r.kind == kind)
        .cloned()
        .ok_or_else(|| {
            let last = type_name.rsplit('/').next().unwrap_or(type_name);
            ArmError::parent_not_found(&format!("{last}/{name}"))
        })
}

/// The canonical id of a resource group.
pub fn group_id(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

/// The resource group a request works in, in its stored casing, or 404.
pub fn existing_group(store: &Store, sub: &str, rg: &str) -> Result<String, ArmError> {
    store
        .get(&group_id(sub, rg))
        .filter(|r| r.kind == Kind::ResourceGroup)
        .map(|r| r.id.clone())
        .ok_or_else(|| ArmError::resource_group_not_found(rg))
}

/// 405 unless the method is GET (or HEAD).
pub fn only_get(ctx: &Ctx<'_>) -> Result<(), ArmError> {
    if *ctx.method == Method::GET || *ctx.method == Method::HEAD {
        Ok(())
    } else {
        Err(ArmError::method_not_allowed(ctx.method.as_str(), "GET"))
    }
}

/// `{value:[…]}`.
pub fn list_reply(items: Vec<Value>) -> Reply {
    Reply::ok(Value::Object(serde_json::Map::from_iter([(
        "value".to_owned(),
        Value::Array(items),
    )])))
}

/// `systemData`, keeping the creation fields of the stored body.
pub fn system_data(previous: Option<&Value>, oid: &str, now: u64) -> Value {
    let stamp = rfc3339(now);
    let prev = previous.and_then(|p| p.get("systemData"));
    let keep = |k: &str, default: Value| prev.and_then(|p| p.get(k)).cloned().unwrap_or(default);
    serde_json::json!({
        "createdBy": keep("createdBy", serde_json::json!(oid)),
        "createdByType": "Application",
        "createdAt": keep("createdAt", serde_json::json!(stamp)),
        "lastModifiedBy": oid,
        "lastModifiedByType": "Application",
        "lastModifiedAt": stamp,
    })
}

/// 409 when a resource is being deleted.
pub fn refuse_if_deleting(body: &Value, id: &str) -> Result<(), ArmError> {
    if state_of(body) == "Deleting" {
        Err(ArmError::conflict(
            "AnotherOperationInProgress",
            format!("Another operation is in progress on '{id}': it is being deleted."),
        ))
    } else {
        Ok(())
    }
}

/// A required `properties` object of a request.
pub fn required_properties(request: &Object) -> Result<&Object, ArmError> {
    opt_object(request, "properties", "properties")?.ok_or_else(|| {
        ArmError::bad_request(
            "MissingRequiredProperty",
            "The required property 'properties' is missing from the request.",
        )
    })
}

/// The location of a request, or else its parent's.
pub fn location_or_parent(request: &Object, at: &Located<'_>) -> Result<Option<String>, ArmError> {
    Ok(opt_str(request, "location", "location")?
        .map(str::to_owned)
        .or_else(|| {
            at.parent
                .as_ref()
                .and_then(|p| p.body.get("location"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        }))
}
