//! Credentials: where bearer tokens come from. Against Azure, a chain built on
//! `azure_identity` 1.x types (which has no default chain of its own), in this
//! order: service principal secret (`AZURE_CLIENT_ID`/`AZURE_TENANT_ID`/
//! `AZURE_CLIENT_SECRET`), workload identity (`AZURE_FEDERATED_TOKEN_FILE`),
//! GitHub Actions OIDC (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`: GitHub's ID
//! token exchanged as a client assertion, so no `azure/login` step is needed),
//! managed identity (`IDENTITY_ENDPOINT`, else IMDS), the Azure CLI. Against the
//! local cloud, a token minted by the emulator for its bootstrap principal.
//! One token per audience, cached until shortly before it expires. A token is a
//! `Secret`: it has no `Debug` or `Display` that shows it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{TokenCredential, TokenRequestOptions};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::cloud::error::CloudError;

/// The ARM audience.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The Synapse data-plane audience.
pub const SYNAPSE_SCOPE: &str = "https://dev.azuresynapse.net/.default";

/// A bearer token. Never printed, logged or stored.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(token: String) -> Secret {
        Secret(token)
    }

    /// The token text, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A token and when it expires.
#[derive(Debug, Clone)]
pub struct Token {
    /// The bearer token.
    pub secret: Secret,
    /// Expiry.
    pub expires_on: OffsetDateTime,
}

/// A source of tokens.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// A token for `scope`.
    async fn token(&self, scope: &str) -> Result<Token, CloudError>;
    /// The name of the credential that answered last, for `-v`.
    fn answered_by(&self) -> Option<String>;
}

/// Tokens handed in from outside (the in-process emulator mints them).
pub struct StaticTokens {
    mint: Box<dyn Fn(&str) -> String + Send + Sync>,
    name: String,
}

impl StaticTokens {
    /// A source that asks `mint` for each audience.
    pub fn new(name: &str, mint: impl Fn(&str) -> String + Send + Sync + 'static) -> StaticTokens {
        StaticTokens {
            mint: Box::new(mint),
            name: name.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl TokenSource for StaticTokens {
    async fn token(&self, scope: &str) -> Result<Token, CloudError> {
        Ok(Token {
            secret: Secret::new((self.mint)(scope)),
            expires_on: OffsetDateTime::now_utc() + time::Duration::hours(1),
        })
    }

    fn answered_by(&self) -> Option<String> {
        Some(self.name.clone())
    }
}

/// The credential chain, with a token cache per audience.
pub struct Chain {
    links: Vec<(String, Arc<dyn TokenCredential>)>,
    skipped: Vec<(String, String)>,
    cache: Mutex<HashMap<String, Token>>,
    answered: std::sync::Mutex<Option<String>>,
}

/// How long before expiry a cached token is refreshed.
const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);
/// How long one credential may take (IMDS on a machine without it would hang).
const PER_CREDENTIAL_TIMEOUT: Duration = Duration::from_secs(20);

impl Chain {
    /// Builds the chain from the environment. Credentials that cannot be
    /// configured are recorded as skipped, with why, for the failure message.
    pub fn from_env(
        env: &HashMap<String, String>,
        transport: Option<&azure_core::http::Transport>,
    ) -> Chain {
        let client_options = || azure_core::http::ClientOptions {
            transport: transport.cloned(),
            ..Default::default()
        };
        let mut links: Vec<(String, Arc<dyn TokenCredential>)> = Vec::new();
        let mut skipped = Vec::new();
        let var = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();

        match (
            var("AZURE_TENANT_ID"),
            var("AZURE_CLIENT_ID"),
            var("AZURE_CLIENT_SECRET"),
        ) {
            (Some(tenant), Some(client), Some(secret)) => {
                let options = azure_identity::ClientSecretCredentialOptions {
                    client_options: client_options(),
                };
                match azure_identity::ClientSecretCredential::new(
                    &tenant,
                    client,
                    secret.into(),
                    Some(options),
                ) {
                    Ok(c) => {
                        links.push(("service principal secret (AZURE_CLIENT_SECRET)".into(), c));
                    }
                    Err(e) => skipped.push(("service principal secret".into(), e.to_string())),
                }
            }
            _ => skipped.push((
                "service principal secret".into(),
                "AZURE_TENANT_ID, AZURE_CLIENT_ID or AZURE_CLIENT_SECRET not set".into(),
            )),
        }
        if var("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            let mut options = azure_identity::WorkloadIdentityCredentialOptions::default();
            options.credential_options.client_options = client_options();
            match azure_identity::WorkloadIdentityCredential::new(Some(options)) {
                Ok(c) => links.push(("workload identity (AZURE_FEDERATED_TOKEN_FILE)".into(), c)),
                Err(e) => skipped.push(("workload identity".into(), e.to_string())),
            }
        } else {
            skipped.push((
                "workload identity".into(),
                "AZURE_FEDERATED_TOKEN_FILE not set".into(),
            ));
        }
        match github_oidc(&var, client_options()) {
            Ok(c) => links.push((
                "GitHub Actions OIDC (ACTIONS_ID_TOKEN_REQUEST_URL)".into(),
                c,
            )),
            Err(why) => skipped.push(("GitHub Actions OIDC".into(), why)),
        }
        let mi_name = if var("IDENTITY_ENDPOINT").is_some() {
            "managed identity (IDENTITY_ENDPOINT)"
        } else {
            "managed identity (IMDS)"
        };
        let options = azure_identity::ManagedIdentityCredentialOptions {
            client_options: client_options(),
            ..Default::default()
        };
        match azure_identity::ManagedIdentityCredential::new(Some(options)) {
            Ok(c) => links.push((mi_name.into(), c)),
            Err(e) => skipped.push(("managed identity".into(), e.to_string())),
        }
        match azure_identity::AzureCliCredential::new(None) {
            Ok(c) => links.push(("Azure CLI".into(), c)),
            Err(e) => skipped.push(("Azure CLI".into(), e.to_string())),
        }
        Chain {
            links,
            skipped,
            cache: Mutex::new(HashMap::new()),
            answered: std::sync::Mutex::new(None),
        }
    }
}

/// The audience GitHub's ID token is asked for: what Entra expects of a
/// federated credential's assertion.
pub const GITHUB_ID_TOKEN_AUDIENCE: &str = "api://AzureADTokenExchange";

/// GitHub Actions sign-in: GitHub's OIDC ID token (from the URL and request
/// token a job with `permissions: id-token: write` gets) as the client
/// assertion of the app `AZURE_CLIENT_ID` in `AZURE_TENANT_ID`, at
/// `AZURE_AUTHORITY_HOST` (default Entra's public cloud). Why it cannot be
/// used, otherwise.
fn github_oidc(
    var: &dyn Fn(&str) -> Option<String>,
    mut client_options: azure_core::http::ClientOptions,
) -> Result<Arc<dyn TokenCredential>, String> {
    let (Some(url), Some(request_token)) = (
        var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        return Err("ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN not set (a GitHub job sets them with `permissions: id-token: write`)".into());
    };
    let (Some(tenant), Some(client)) = (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) else {
        return Err("AZURE_TENANT_ID or AZURE_CLIENT_ID not set".into());
    };
    let mut url = azure_core::http::Url::parse(&url)
        .map_err(|e| format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"))?;
    // GitHub's URL already carries a query (`?api-version=…`): append to it.
    url.query_pairs_mut()
        .append_pair("audience", GITHUB_ID_TOKEN_AUDIENCE);
    if let Some(host) = var("AZURE_AUTHORITY_HOST") {
        let mut custom = azure_core::cloud::CustomConfiguration::default();
        custom.authority_host = host;
        client_options.cloud = Some(Arc::new(custom.into()));
    }
    let assertion = GithubIdToken {
        url,
        request_token: Secret::new(request_token),
        pipeline: azure_core::http::Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            client_options.clone(),
            Vec::new(),
            Vec::new(),
            None,
        ),
    };
    let options = azure_identity::ClientAssertionCredentialOptions { client_options };
    azure_identity::ClientAssertionCredential::new(tenant, client, assertion, Some(options))
        .map(|c| c as Arc<dyn TokenCredential>)
        .map_err(|e| first_line(&e.to_string()))
}

/// Fetches GitHub's OIDC ID token for Entra's token exchange. Neither the
/// request token nor the ID token ever reaches a message.
struct GithubIdToken {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` with the audience added.
    url: azure_core::http::Url,
    request_token: Secret,
    pipeline: azure_core::http::Pipeline,
}

impl fmt::Debug for GithubIdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubIdToken")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl azure_identity::ClientAssertion for GithubIdToken {
    async fn secret(
        &self,
        options: Option<azure_core::http::ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        use azure_core::error::{Error, ErrorKind};
        use azure_core::http::headers::{ACCEPT, AUTHORIZATION};

        /// GitHub's answer: `{"value": "<JWT>"}`.
        #[derive(serde::Deserialize)]
        struct Answer {
            value: String,
        }
        let mut request =
            azure_core::http::Request::new(self.url.clone(), azure_core::http::Method::Get);
        request.insert_header(
            AUTHORIZATION,
            format!("bearer {}", self.request_token.expose()),
        );
        request.insert_header(ACCEPT, "application/json");
        let options = options.unwrap_or_default();
        let answer = self
            .pipeline
            .send(
                &options.context.to_borrowed(),
                &mut request,
                Some(azure_core::http::PipelineSendOptions {
                    skip_checks: true,
                    ..Default::default()
                }),
            )
            .await?;
        let status = answer.status();
        if !status.is_success() {
            // The body is not shown: only the status says what went wrong.
            return Err(Error::with_message(
                ErrorKind::Credential,
                format!(
                    "GitHub's OIDC token endpoint answered HTTP {}",
                    u16::from(status)
                ),
            ));
        }
        let answer: Answer = answer.into_body().json().map_err(|_| {
            Error::with_message(
                ErrorKind::Credential,
                "GitHub's OIDC token endpoint answered without an ID token (`value`)",
            )
        })?;
        Ok(answer.value)
    }
}

/// Shortens a credential's error to its first line, so one message lists all.
fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

#[async_trait::async_trait]
impl TokenSource for Chain {
    async fn token(&self, scope: &str) -> Result<Token, CloudError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.get(scope) {
            if t.expires_on - REFRESH_MARGIN > OffsetDateTime::now_utc() {
                return Ok(t.clone());
            }
        }
        let mut tried = self.skipped.clone();
        for (name, cred) in &self.links {
            let attempt = tokio::time::timeout(
                PER_CREDENTIAL_TIMEOUT,
                cred.get_token(&[scope], None::<TokenRequestOptions<'_>>),
            )
            .await;
            match attempt {
                Ok(Ok(t)) => {
                    let token = Token {
                        secret: Secret::new(t.token.secret().to_owned()),
                        expires_on: t.expires_on,
                    };
                    cache.insert(scope.to_owned(), token.clone());
                    *self
                        .answered
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(name.clone());
                    return Ok(token);
                }
                Ok(Err(e)) => tried.push((name.clone(), first_line(&e.to_string()))),
                Err(_) => tried.push((
                    name.clone(),
                    format!("no answer within {}s", PER_CREDENTIAL_TIMEOUT.as_secs()),
                )),
            }
        }
        Err(CloudError::Credential {
            audience: scope.to_owned(),
            tried,
        })
    }

    fn answered_by(&self) -> Option<String> {
        self.answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Carries `azure_identity`'s requests over synlink's own reqwest client, so
/// one client (rustls, TLS verification on) makes every call.
#[derive(Debug)]
pub struct ReqwestTransport(pub reqwest::Client);

#[async_trait::async_trait]
impl azure_core::http::HttpClient for ReqwestTransport {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
        use azure_core::error::{Error, ErrorKind};
        let method = reqwest::Method::from_bytes(request.method().to_string().as_bytes())
            .map_err(|e| Error::with_message(ErrorKind::Other, e.to_string()))?;
        let mut builder = self.0.request(method, request.url().as_str());
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let azure_core::http::Body::Bytes(bytes) = request.body() {
            builder = builder.body(bytes.to_vec());
        }
        let response = builder
            .send()
            .await
            .map_err(|e| Error::with_message(ErrorKind::Io, e.to_string()))?;
        let status = azure_core::http::StatusCode::from(response.status().as_u16());
        let mut headers = azure_core::http::headers::Headers::new();
        for (name, value) in response.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(name.as_str().to_owned(), v.to_owned());
            }
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::with_message(ErrorKind::Io, e.to_string()))?;
        Ok(azure_core::http::AsyncRawResponse::from_bytes(
            status, headers, body,
        ))
    }
}

/// The `oid` claim of a JWT (the caller's object id), read without checking
/// the signature: used only to find the caller's own role assignments.
pub fn object_id_of(token: &Secret) -> Option<String> {
    use base64::Engine as _;
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("oid")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::Chain;

    fn chain(vars: &[(&str, &str)]) -> Chain {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let transport = azure_core::http::Transport::new(std::sync::Arc::new(
            super::ReqwestTransport(reqwest::Client::new()),
        ));
        Chain::from_env(&env, Some(&transport))
    }

    fn names(chain: &Chain) -> Vec<&str> {
        chain.links.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn a_github_job_signs_in_after_a_token_file_and_before_managed_identity() {
        let github = [
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://example.invalid/token?api-version=2.0",
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token"),
            ("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa"),
            ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000bb"),
        ];
        let c = chain(&github);
        let names = names(&c);
        let at = names
            .iter()
            .position(|n| n.starts_with("GitHub Actions OIDC"))
            .expect("the GitHub link");
        assert!(names[at + 1].starts_with("managed identity"), "{names:?}");
        assert!(!format!("{:?}", c.skipped).contains("request-token"));

        // Without the app to sign in as, it says why it was skipped.
        let c = chain(&github[..2]);
        assert!(!super::tests::names(&c)
            .iter()
            .any(|n| n.starts_with("GitHub")));
        let why = c
            .skipped
            .iter()
            .find(|(n, _)| n == "GitHub Actions OIDC")
            .map(|(_, w)| w.as_str());
        assert_eq!(why, Some("AZURE_TENANT_ID or AZURE_CLIENT_ID not set"));
        let c = chain(&[]);
        assert!(c
            .skipped
            .iter()
            .any(|(n, w)| n == "GitHub Actions OIDC" && w.contains("id-token: write")));
    }
}
