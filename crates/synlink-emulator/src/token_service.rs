//! Token issuance, so real credential code runs against the emulator:
//! - the App Service managed-identity protocol: `GET /_identity/msi?resource=…&api-version=2019-08-01`
//!   with header `X-IDENTITY-HEADER` (point `IDENTITY_ENDPOINT` at `{base}/_identity/msi`
//!   and `IDENTITY_HEADER` at the secret); answers `{access_token, expires_on (epoch
//!   seconds as a string), resource, token_type, client_id}` for the bootstrap principal,
//!   or for `principal_id` / `object_id` / `client_id` when given;
//! - Entra client credentials: `POST /{tenant}/oauth2/v2.0/token` (and v1
//!   `/{tenant}/oauth2/token`), the `OpenID` configuration MSAL reads first, and instance
//!   discovery. The client id is taken as the principal's object id. These answer
//!   OAuth's own error format (`{error, error_description}`), as Entra does.

use http::StatusCode;
use serde_json::json;

use crate::arm_error::ArmError;
use crate::auth;
use crate::clock::now_ms;
use crate::principal::Principal;
use crate::reply::Reply;
use crate::request::Query;
use crate::shared::{lock, Shared};
use crate::store::fold;

/// Lifetime of issued tokens.
const LIFETIME_SECS: u64 = 3600;

/// The audience of a v2 scope or v1 resource (`…/.default` stripped).
pub fn audience_of(scope: &str) -> String {
    let first = scope
        .split_whitespace()
        .find(|s| !matches!(*s, "openid" | "profile" | "offline_access"))
        .unwrap_or(scope);
    first.strip_suffix("/.default").unwrap_or(first).to_owned()
}

/// Registers a principal that authenticated (long replicated) if it is new.
pub fn register(shared: &Shared, oid: &str, principal_type: &str) {
    let mut store = lock(&shared.store);
    store
        .principals
        .entry(fold(oid))
        .or_insert_with(|| Principal {
            object_id: oid.to_owned(),
            display_name: oid.to_owned(),
            principal_type: principal_type.to_owned(),
            created_ms: 0,
        });
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": error, "error_description": description, "error_codes": [], "timestamp": crate::clock::rfc3339(now_ms())}),
    )
}

/// Whether a path belongs to the token service.
pub fn is_token_path(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    path.starts_with("/_identity/")
        || matches!(
            segs.as_slice(),
            [_, "oauth2", "v2.0", "token"]
                | [_, "oauth2", "token"]
                | [_, "v2.0", ".well-known", "openid-configuration"]
                | ["common", "discovery", "instance"]
        )
}

/// Answers a token-service request.
pub fn handle(
    shared: &Shared,
    method: &http::Method,
    path: &str,
    query: &Query,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Reply {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let base = &shared.base_url;
    match segs.as_slice() {
        ["_identity", "msi"] => {
            if *method != http::Method::GET {
                return ArmError::method_not_allowed(method.as_str(), "GET").into_reply();
            }
            managed_identity(shared, query, headers)
        }
        [tenant, "oauth2", "v2.0", "token"] | [tenant, "oauth2", "token"] => {
            if *method != http::Method::POST {
                return ArmError::method_not_allowed(method.as_str(), "POST").into_reply();
            }
            client_credentials(shared, tenant, body)
        }
        [tenant, "v2.0", ".well-known", "openid-configuration"] => Reply::ok(json!({
            "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}/{tenant}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{base}/oidc/userinfo"),
            "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "oid", "tid"],
            "tenant_region_scope": "WW",
            "cloud_instance_name": "emulator",
        })),
        ["common", "discovery", "instance"] => {
            let tenant = "common";
            Reply::ok(json!({
                "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
                "api-version": "1.1",
                "metadata": [],
            }))
        }
        _ => ArmError::no_route(method.as_str(), path).into_reply(),
    }
}

fn managed_identity(shared: &Shared, query: &Query, headers: &http::HeaderMap) -> Reply {
    let secret = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if secret != Some(shared.identity_header.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'resource' query parameter is required.",
        );
    };
    let (tenant, bootstrap) = {
        let store = lock(&shared.store);
        (store.tenant_id.clone(), store.bootstrap.clone())
    };
    let oid = query
        .get("principal_id")
        .or_else(|| query.get("object_id"))
        .or_else(|| query.get("client_id"))
        .map_or(bootstrap, str::to_owned);
    register(shared, &oid, "ServicePrincipal");
    let now = now_ms() / 1000;
    let audience = audience_of(resource);
    Reply::ok(json!({
        "access_token": auth::mint(&oid, &tenant, &audience, now, LIFETIME_SECS),
        "expires_on": (now + LIFETIME_SECS).to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": oid,
    }))
}

fn client_credentials(shared: &Shared, tenant: &str, body: &[u8]) -> Reply {
    let form = Query::parse(std::str::from_utf8(body).ok());
    let grant = form.get("grant_type").unwrap_or_default();
    if grant != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The emulator supports the client_credentials grant only.",
        );
    }
    let Some(client_id) = form.get("client_id").filter(|c| !c.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain 'client_id'.",
        );
    };
    let Some(scope) = form
        .get("scope")
        .or_else(|| form.get("resource"))
        .filter(|s| !s.is_empty())
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain 'scope'.",
        );
    };
    let tenant_id = {
        let store = lock(&shared.store);
        if matches!(tenant, "common" | "organizations") {
            store.tenant_id.clone()
        } else {
            tenant.to_owned()
        }
    };
    register(shared, client_id, "ServicePrincipal");
    let now = now_ms() / 1000;
    Reply::ok(json!({
        "token_type": "Bearer",
        "expires_in": LIFETIME_SECS,
        "ext_expires_in": LIFETIME_SECS,
        "access_token": auth::mint(client_id, &tenant_id, &audience_of(scope), now, LIFETIME_SECS),
    }))
}
