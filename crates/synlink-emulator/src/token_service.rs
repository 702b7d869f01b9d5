//! Token issuance, so real credential code runs against the emulator:
//! - the App Service managed-identity protocol: `GET /_identity/msi?resource=…&api-version=2019-08-01`
//!   with header `X-IDENTITY-HEADER` (point `IDENTITY_ENDPOINT` at `{base}/_identity/msi`
//!   and `IDENTITY_HEADER` at the secret); answers `{access_token, expires_on (epoch
//!   seconds as a string), resource, token_type, client_id}` for the bootstrap principal,
//!   or for `principal_id` / `object_id` / `client_id` when given;
//! - Entra client credentials: `POST /{tenant}/oauth2/v2.0/token` (and v1
//!   `/{tenant}/oauth2/token`), the `OpenID` configuration MSAL reads first, and instance
//!   discovery. The client id is taken as the principal's object id. Besides a secret,
//!   the client may authenticate with a federated client assertion
//!   (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`): a
//!   JWT whose `aud` is `api://AzureADTokenExchange` and that has not expired, as
//!   workload identity federation has it (its signature is not checked). These answer
//!   OAuth's own error format (`{error, error_description}`, AADSTS codes), as Entra does;
//! - a stand-in for GitHub Actions' OIDC ID-token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`):
//!   `GET /_github/oidc/token?audience=AUD` with `Authorization: bearer {request token}`
//!   answers `{"value": JWT}`, the JWT issued by `https://token.actions.githubusercontent.com`
//!   for the requested audience, subject `repo:synlink/synlink:ref:refs/heads/main`.

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
        || path == "/_github/oidc/token"
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
        ["_github", "oidc", "token"] => {
            if *method != http::Method::GET {
                return ArmError::method_not_allowed(method.as_str(), "GET").into_reply();
            }
            github_id_token(shared, query, headers)
        }
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

/// The issuer of GitHub Actions' OIDC ID tokens.
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The subject of the ID tokens the stand-in issues (a workflow on `main`).
const GITHUB_SUBJECT: &str = "repo:synlink/synlink:ref:refs/heads/main";
/// Lifetime of GitHub's ID tokens (a few minutes).
const GITHUB_LIFETIME_SECS: u64 = 300;
/// The audience a federated credential on Entra expects by default.
const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The client assertion type of a JWT bearer assertion (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `GET /_github/oidc/token?audience=AUD`: GitHub's ID token, `{"value": JWT}`; 401 for a
/// missing or wrong request token, as GitHub answers.
fn github_id_token(shared: &Shared, query: &Query, headers: &http::HeaderMap) -> Reply {
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("bearer ")
                .or_else(|| v.strip_prefix("Bearer "))
        });
    if presented != Some(shared.github_request_token.as_str()) {
        return Reply::json(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Bad credentials: the request token is missing or wrong."}),
        );
    }
    let audience = query
        .get("audience")
        .filter(|a| !a.is_empty())
        .unwrap_or("https://github.com/synlink");
    let now = now_ms() / 1000;
    let claims = json!({
        "iss": GITHUB_ISSUER,
        "aud": audience,
        "sub": GITHUB_SUBJECT,
        "repository": "synlink/synlink",
        "repository_owner": "synlink",
        "ref": "refs/heads/main",
        "event_name": "push",
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now,
        "nbf": now,
        "exp": now + GITHUB_LIFETIME_SECS,
    });
    Reply::ok(json!({ "value": auth::mint_claims(&claims) }))
}

/// Checks a federated client assertion as Entra does for workload identity federation:
/// a JWT for `api://AzureADTokenExchange` that has not expired (the signature and the
/// issuer/subject pairing of a federated credential are not modelled). The refusal is
/// Entra's `error_description` (an `invalid_client` error).
fn check_assertion(assertion: &str, now: u64) -> Result<(), String> {
    let invalid = Err::<(), String>;
    let Some(claims) = auth::decode_claims(assertion) else {
        return invalid("AADSTS50027: JWT token is invalid or malformed.".to_owned());
    };
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => vec![a.as_str()],
        Some(serde_json::Value::Array(list)) => {
            list.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    };
    if !audiences.contains(&TOKEN_EXCHANGE_AUDIENCE) {
        return invalid(format!(
            "AADSTS700212: No matching federated identity record found for presented assertion audience '{}'.",
            audiences.join(", ")
        ));
    }
    match claims.get("exp").and_then(serde_json::Value::as_u64) {
        Some(exp) if exp > now => Ok(()),
        _ => {
            invalid("AADSTS700024: Client assertion is not within its valid time range.".to_owned())
        }
    }
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
    let now = now_ms() / 1000;
    if let Some(kind) = form.get("client_assertion_type") {
        if kind != JWT_BEARER {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("AADSTS50027: The client assertion type '{kind}' is not supported; use '{JWT_BEARER}'."),
            );
        }
        let assertion = form.get("client_assertion").unwrap_or_default();
        if let Err(description) = check_assertion(assertion, now) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", &description);
        }
    }
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
    Reply::ok(json!({
        "token_type": "Bearer",
        "expires_in": LIFETIME_SECS,
        "ext_expires_in": LIFETIME_SECS,
        "access_token": auth::mint(client_id, &tenant_id, &audience_of(scope), now, LIFETIME_SECS),
    }))
}
