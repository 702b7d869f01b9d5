//! Federated sign-in against the emulator, over real HTTP: the stand-in for GitHub
//! Actions' OIDC ID-token endpoint (`GET /_github/oidc/token`, what
//! `ACTIONS_ID_TOKEN_REQUEST_URL` names) and Entra's token endpoint taking that ID token as
//! a client assertion, with Entra's refusals for a wrong audience, an expired assertion and
//! garbage; and the binary's flags for the request token and the lost-answer rate.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::support::{start, Api, ARM, SUB};
use crate::world::World;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The claims of a JWT (not verified).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// An unsigned JWT with these claims.
fn jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `GET {url}/_github/oidc/token?audience=…` with this request token: (status, body).
async fn github(url: &str, token: Option<&str>, audience: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .get(format!("{url}/_github/oidc/token"))
        .query(&[("audience", audience)]);
    if let Some(t) = token {
        req = req.header("Authorization", format!("bearer {t}"));
    }
    let resp = req.send().await.expect("answered");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Entra's client-assertion grant: (status, body).
async fn exchange(url: &str, client_id: &str, assertion: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/organizations/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .expect("answered");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn a_github_id_token_signs_in_as_the_client_it_is_exchanged_for() {
    let emu = start().await;
    let url = emu.url();
    let (status, body) = github(
        &url,
        Some("synlink-emulator-github"),
        "api://AzureADTokenExchange",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id_token = body["value"].as_str().expect("value").to_owned();
    let c = claims(&id_token);
    assert_eq!(c["iss"], "https://token.actions.githubusercontent.com");
    assert_eq!(c["aud"], "api://AzureADTokenExchange");
    assert_eq!(c["sub"], "repo:synlink/synlink:ref:refs/heads/main");
    assert!(c["exp"].as_u64().is_some_and(|e| e > now()));

    let client = uuid::Uuid::new_v4().to_string();
    let (status, body) = exchange(&url, &client, &id_token).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().expect("access_token");
    assert_eq!(
        claims(access)["oid"],
        client.as_str(),
        "the client id signs in"
    );
    // ARM takes the token: the new principal has no role yet, so 403, not 401.
    let api = Api::bootstrap(&emu).with_token(Some(access.to_owned()));
    let a = api
        .get(&format!(
            "/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (403, "AuthorizationFailed"),
        "{a:?}"
    );
}

#[tokio::test]
async fn github_refuses_a_missing_or_wrong_request_token() {
    let emu = start().await;
    for token in [None, Some("wrong")] {
        let (status, body) = github(&emu.url(), token, "api://AzureADTokenExchange").await;
        assert_eq!(status, 401, "{token:?}: {body}");
        assert!(body.get("value").is_none());
    }
}

#[tokio::test]
async fn entra_refuses_assertions_for_another_audience_expired_or_malformed() {
    let emu = start().await;
    let url = emu.url();
    let client = uuid::Uuid::new_v4().to_string();
    let base = json!({"iss": "https://token.actions.githubusercontent.com", "sub": "repo:o/r:ref:refs/heads/main"});
    let mut other = base.clone();
    other["aud"] = json!(ARM);
    other["exp"] = json!(now() + 300);
    let mut expired = base.clone();
    expired["aud"] = json!("api://AzureADTokenExchange");
    expired["exp"] = json!(now() - 60);
    for (assertion, aadsts) in [
        (jwt(&other), "AADSTS700212"),
        (jwt(&expired), "AADSTS700024"),
        ("not-a-jwt".to_owned(), "AADSTS50027"),
    ] {
        let (status, body) = exchange(&url, &client, &assertion).await;
        assert_eq!(status, 400, "{aadsts}: {body}");
        assert_eq!(body["error"], "invalid_client", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap_or_default()
                .starts_with(aadsts),
            "{body}"
        );
        assert!(body.get("access_token").is_none());
    }
}

#[tokio::test]
async fn the_binary_takes_the_request_token_and_the_lost_answer_rate_as_flags() {
    let w = World::builder()
        .emulator_binary(&[
            "--github-request-token",
            "s3cret",
            "--lost-answer-rate",
            "0.25",
            "--seed",
            "9",
        ])
        .start()
        .await;
    let knobs = w.control("GET", "faults", None).await;
    assert_eq!(knobs["lostAnswerRate"], 0.25);
    assert_eq!(knobs["seed"], 9);
    assert_eq!(
        github(&w.url(), Some("synlink-emulator-github"), "a")
            .await
            .0,
        401
    );
    let (status, body) = github(&w.url(), Some("s3cret"), "a").await;
    assert_eq!(status, 200, "{body}");
}
