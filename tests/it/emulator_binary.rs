//! The real `synlink emulator` binary: the ready line, persistence across a SIGTERM and
//! restart with the same `--data`, refusal of non-loopback addresses, and `--tls` with
//! the printed CA, the managed-identity endpoint and Entra client credentials.

use serde_json::{json, Value};
use synlink_emulator::{Config, Emulator};

use super::support::{fast_faults, synapse_id, Api, ARM, SUB};
use crate::world::World;

#[tokio::test]
async fn state_survives_a_sigterm_and_restart_with_the_same_data_dir() {
    let mut w = World::builder()
        .emulator_binary(&["--lro-ms", "20", "--throttle", "off"])
        .start()
        .await;
    assert!(w.url().starts_with("http://127.0.0.1:"));
    let api = w.api();
    let health: Value = api.get("/_emulator/health").await.body;
    let bootstrap = health["bootstrapPrincipal"]
        .as_str()
        .expect("bootstrap")
        .to_owned();
    api.resource_group("rg").await;
    let ws = api.synapse_workspace("rg", "syn-persist").await;
    let ml = api.ml_workspace("rg", "mlw-persist").await;
    let link = api
        .put(
            &format!(
                "{}/linkedServices/link1?api-version=2020-09-01-preview",
                super::support::ml_id("rg", "mlw-persist")
            ),
            json!({"properties": {"linkedServiceResourceId": synapse_id("rg", "syn-persist")}}),
        )
        .await;
    let mi = link.body["identity"]["principalId"]
        .as_str()
        .expect("mi")
        .to_owned();
    let status = w.stop_emulator();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    assert!(w.emulator_data().join("state.json").exists());

    w.start_emulator().await;
    let api = w.api();
    assert_eq!(
        api.get("/_emulator/health").await.body["bootstrapPrincipal"],
        bootstrap.as_str()
    );
    let ws_again = api
        .get(&format!(
            "{}?api-version=2021-06-01",
            synapse_id("rg", "syn-persist")
        ))
        .await
        .body;
    assert_eq!(ws_again["id"], ws["id"]);
    assert_eq!(
        ws_again["properties"]["workspaceUID"],
        ws["properties"]["workspaceUID"]
    );
    assert_eq!(
        ws_again["properties"]["connectivityEndpoints"]["dev"],
        format!("{}/_synapse/syn-persist", w.url()),
        "the dev endpoint follows the new port"
    );
    let dev = format!("{}/_synapse/syn-persist", w.url());
    let admins = w
        .api_as(None, "https://dev.azuresynapse.net")
        .await
        .get(&format!("{dev}/roleAssignments?api-version=2020-12-01"))
        .await;
    assert_eq!(
        admins.body["value"][0]["principalId"],
        bootstrap.as_str(),
        "Synapse RBAC persists"
    );
    let ml_again = api
        .get(&format!(
            "{}?api-version=2024-10-01",
            super::support::ml_id("rg", "mlw-persist")
        ))
        .await
        .body;
    assert_eq!(
        ml_again["properties"]["workspaceId"],
        ml["properties"]["workspaceId"]
    );
    let link_again = api
        .get(&format!(
            "{}/linkedServices/link1?api-version=2020-09-01-preview",
            super::support::ml_id("rg", "mlw-persist")
        ))
        .await;
    assert_eq!(link_again.body["identity"]["principalId"], mi.as_str());
    assert!(w.stop_emulator().success());
}

#[test]
fn a_non_loopback_address_needs_allow_remote() {
    let out = World::offline()
        .synlink(["emulator", "--listen", "0.0.0.0:0"])
        .run_blocking();
    assert!(out.code != 0);
    let err = &out.stderr;
    assert!(err.contains("--allow-remote"), "{err}");
}

#[tokio::test]
async fn tls_serves_tokens_over_the_managed_identity_and_entra_protocols() {
    let emu = Emulator::start(Config {
        tls: true,
        faults: fast_faults(),
        ..Config::default()
    })
    .await
    .expect("starts");
    assert!(emu.url().starts_with("https://127.0.0.1:"));
    let ca = std::fs::read(emu.tls_ca_file().expect("CA file")).expect("CA readable");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("pem"))
        .build()
        .expect("client");
    // App Service managed identity
    let mi: Value = http
        .get(format!(
            "{}/_identity/msi?api-version=2019-08-01&resource={}",
            emu.url(),
            "https://management.azure.com/"
        ))
        .header("X-IDENTITY-HEADER", "synlink-emulator")
        .send()
        .await
        .expect("mi")
        .json()
        .await
        .expect("json");
    assert_eq!(mi["token_type"], "Bearer");
    assert!(
        mi["expires_on"]
            .as_str()
            .is_some_and(|s| s.parse::<u64>().is_ok()),
        "{mi}"
    );
    let refused = http
        .get(format!(
            "{}/_identity/msi?api-version=2019-08-01&resource=x",
            emu.url()
        ))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status().as_u16(), 401);
    let api = Api {
        base: emu.url(),
        token: mi["access_token"].as_str().map(str::to_owned),
        http: http.clone(),
    };
    assert_eq!(api.resource_group("rg").await.status, 201);
    // Entra client credentials for a new service principal
    let tenant = emu.tenant_id();
    let app = "77777777-7777-7777-7777-777777777777";
    let tok: Value = http
        .post(format!("{}/{tenant}/oauth2/v2.0/token", emu.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", app),
            ("client_secret", "s"),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let sp = Api {
        token: tok["access_token"].as_str().map(str::to_owned),
        ..api.clone()
    };
    let denied = sp
        .get(&format!(
            "/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(denied.status, 403, "a new principal owns nothing");
    let oidc: Value = http
        .get(format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            emu.url()
        ))
        .send()
        .await
        .expect("oidc")
        .json()
        .await
        .expect("json");
    assert_eq!(
        oidc["token_endpoint"],
        format!("{}/{tenant}/oauth2/v2.0/token", emu.url())
    );
    let bad_grant = http
        .post(format!("{}/{tenant}/oauth2/v2.0/token", emu.url()))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .expect("answer");
    assert_eq!(bad_grant.status().as_u16(), 400);
    let _ = ARM;
    emu.shutdown().await.expect("shutdown");
}
