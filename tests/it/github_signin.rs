//! GitHub Actions sign-in through the real binary, end to end against
//! `synlink emulator --tls`: the emulator stands in for GitHub's OIDC
//! ID-token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`) and for Entra's token
//! endpoint (the client-assertion grant at `AZURE_AUTHORITY_HOST`), and the
//! binary trusts the emulator's CA through `SSL_CERT_FILE`. No `azure/login`
//! step, no secret: what a workflow with `permissions: id-token: write` has.

use serde_json::json;

use crate::emulator::support::SUB;
use crate::world::{quickstart, World};

/// GitHub's request token as the emulator expects it by default.
const REQUEST_TOKEN: &str = "synlink-emulator-github";

/// The variables a GitHub job has, pointed at the emulator, for the app `client`.
fn github_env(w: &World, tenant: &str, client: &str, request_token: &str) -> Vec<(String, String)> {
    let url = w.url();
    vec![
        ("AZURE_TENANT_ID".into(), tenant.to_owned()),
        ("AZURE_CLIENT_ID".into(), client.to_owned()),
        ("AZURE_AUTHORITY_HOST".into(), url.clone()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
            format!("{url}/_github/oidc/token"),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            request_token.to_owned(),
        ),
        (
            "SSL_CERT_FILE".into(),
            w.emulator_data().join("tls/ca.pem").display().to_string(),
        ),
    ]
}

#[tokio::test]
async fn a_github_job_signs_in_with_its_oidc_token_and_applies() {
    let w = World::builder()
        .emulator_binary(&["--tls", "--time-scale", "0.01"])
        .start()
        .await
        .spec(&quickstart());
    assert!(w.url().starts_with("https://"));
    let health = w.control("GET", "health", None).await;
    let tenant = health["tenantId"].as_str().expect("tenant").to_owned();
    // The app the workflow signs in as, with the role its pipeline needs.
    let client = uuid::Uuid::new_v4().to_string();
    w.control(
        "POST",
        "role-assignments",
        Some(json!({"plane": "arm", "scope": format!("/subscriptions/{SUB}"), "role": "Owner", "principalId": client})),
    )
    .await;
    let env = github_env(&w, &tenant, &client, REQUEST_TOKEN);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    w.clear_log().await;
    let run = w
        .synlink(["apply", "--auto-approve", "-vv"])
        .envs(&env)
        .run()
        .await;
    run.success()
        .stderr_contains("credential: GitHub Actions OIDC (ACTIONS_ID_TOKEN_REQUEST_URL)")
        .stderr_contains("Apply complete: 5 created");
    // GitHub was asked for an ID token for Entra's token exchange, Entra
    // exchanged it, and every call to Azure was made as that app.
    let log = w.log().await;
    let path = |r: &serde_json::Value| r["path"].as_str().unwrap_or_default().to_owned();
    let (sign_in, calls): (Vec<_>, Vec<_>) = log.iter().partition(|r| {
        let p = path(r);
        p.starts_with("/_github/") || p.contains("/oauth2/")
    });
    assert!(
        sign_in.iter().any(|r| r["method"] == "GET"
            && path(r) == "/_github/oidc/token?audience=api%3A%2F%2FAzureADTokenExchange"
            && r["status"] == 200),
        "{sign_in:#?}"
    );
    assert!(
        sign_in.iter().any(|r| r["method"] == "POST"
            && path(r) == format!("/{tenant}/oauth2/v2.0/token")
            && r["status"] == 200),
        "{sign_in:#?}"
    );
    assert!(!calls.is_empty());
    for r in &calls {
        assert_eq!(r["principal"], client.as_str(), "{r}");
    }
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(REQUEST_TOKEN), "the request token shows");
        assert!(!text.contains("eyJ"), "a token shows: {text}");
    }
    w.synlink(["plan", "--detailed-exitcode"])
        .envs(&env)
        .run()
        .await
        .no_changes("signed in again");
}

#[tokio::test]
async fn a_refused_github_request_token_is_named_without_showing_it() {
    let w = World::builder()
        .emulator_binary(&["--tls", "--time-scale", "0.01"])
        .start()
        .await
        .spec(&quickstart());
    let health = w.control("GET", "health", None).await;
    let tenant = health["tenantId"].as_str().expect("tenant").to_owned();
    let wrong = "not-the-request-token-4f1c";
    let env = github_env(&w, &tenant, &uuid::Uuid::new_v4().to_string(), wrong);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // No other credential answers (the world's managed identity is out of reach).
    env.push(("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi"));
    let run = w.synlink(["plan"]).envs(&env).run().await;
    run.exit(1)
        .stderr_contains("GitHub Actions OIDC")
        .stderr_contains("GitHub's OIDC token endpoint answered HTTP 401");
    assert!(!run.stderr.contains(wrong), "{}", run.stderr);
}
