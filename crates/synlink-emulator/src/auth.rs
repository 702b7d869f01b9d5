//! Bearer tokens: JWTs read without checking the signature (the `oid`, `tid`, `exp` and
//! `aud` claims), and minted by the emulator as HS256 JWTs with a fixed, public key (the
//! signature only makes them look like tokens; nothing verifies it). Missing, garbage and
//! expired tokens answer 401 `InvalidAuthenticationToken` / `ExpiredAuthenticationToken`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::arm_error::ArmError;

/// The HMAC key of minted tokens: fixed and public on purpose.
const KEY: &[u8] = b"synlink-emulator-tokens-are-not-secret";

/// Who is calling, from the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Object id of the principal.
    pub oid: String,
    /// Tenant id.
    pub tid: String,
    /// Audience, when the token names one.
    pub aud: Option<String>,
}

/// Which audience family a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience<'a> {
    /// ARM (`https://management.azure.com/`, `https://management.core.windows.net/`), or
    /// this emulator's own base URL, given here: ARM accepts its own endpoint URL as an
    /// audience, which sovereign clouds and Azure Stack rely on and azure-ai-ml asks for
    /// (`{resource_manager}/.default`) when pointed at a custom cloud.
    Arm(&'a str),
    /// The Synapse data plane (`https://dev.azuresynapse.net`).
    SynapseDev,
}

/// HMAC-SHA256 of `message` under `key` (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // `new_from_slice` takes a key of any length for HMAC, so it cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Mints a JWT for a principal, valid `lifetime_secs` from `now_secs`.
pub fn mint(oid: &str, tid: &str, audience: &str, now_secs: u64, lifetime_secs: u64) -> String {
    mint_claims(&json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now_secs,
        "nbf": now_secs,
        "exp": now_secs.saturating_add(lifetime_secs),
        "oid": oid,
        "sub": oid,
        "tid": tid,
        "appid": oid,
        "idtyp": "app",
        "ver": "1.0",
    }))
}

/// Mints a JWT with these claims (HS256 under the public key).
pub fn mint_claims(payload: &Value) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "synlink-emulator"});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = hmac_sha256(KEY, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn unauthorized(code: &str, message: &str) -> ArmError {
    ArmError::new(StatusCode::UNAUTHORIZED, code, message).with_header(
        "www-authenticate",
        format!("Bearer error=\"invalid_token\", error_description=\"{message}\""),
    )
}

/// Reads the caller from an `Authorization` header value.
pub fn read_bearer(
    header: Option<&str>,
    default_tid: &str,
    audience: Audience<'_>,
    now_secs: u64,
) -> Result<Caller, ArmError> {
    let Some(header) = header else {
        return Err(unauthorized(
            "InvalidAuthenticationToken",
            "The access token is missing: send an 'Authorization: Bearer <token>' header.",
        ));
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            unauthorized(
                "InvalidAuthenticationToken",
                "The access token is not a Bearer token.",
            )
        })?;
    let claims = decode_claims(token).ok_or_else(|| {
        unauthorized("InvalidAuthenticationToken", "The access token is invalid.")
    })?;
    let oid = claims
        .get("oid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            unauthorized(
                "InvalidAuthenticationToken",
                "The access token has no 'oid' claim.",
            )
        })?;
    if let Some(exp) = claims.get("exp") {
        let exp = exp
            .as_u64()
            .or_else(|| {
                exp.as_f64().map(|f| {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "clamped to non-negative; expiry seconds fit in u64"
                    )]
                    let secs = f.max(0.0).floor() as u64;
                    secs
                })
            })
            .ok_or_else(|| {
                unauthorized(
                    "InvalidAuthenticationToken",
                    "The access token has an invalid 'exp' claim.",
                )
            })?;
        if exp <= now_secs {
            return Err(unauthorized(
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            ));
        }
    }
    let aud = claims.get("aud").and_then(Value::as_str).map(str::to_owned);
    if let Some(a) = &aud {
        let lower = a.to_ascii_lowercase();
        let fits = match audience {
            Audience::Arm(own_url) => {
                lower.contains("management")
                    || lower.trim_end_matches('/')
                        == own_url.trim_end_matches('/').to_ascii_lowercase()
            }
            Audience::SynapseDev => lower.contains("azuresynapse"),
        };
        if !fits {
            return Err(unauthorized(
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource.",
            ));
        }
    }
    Ok(Caller {
        oid: oid.to_owned(),
        tid: claims
            .get("tid")
            .and_then(Value::as_str)
            .unwrap_or(default_tid)
            .to_owned(),
        aud,
    })
}

/// The claims of a JWT, without checking its signature.
pub fn decode_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_read_back_and_expire() {
        let t = mint("o1", "t1", "https://management.azure.com/", 1000, 60);
        let c = read_bearer(
            Some(&format!("Bearer {t}")),
            "x",
            Audience::Arm("https://e"),
            1000,
        )
        .unwrap();
        assert_eq!(c.oid, "o1");
        assert_eq!(c.tid, "t1");
        let e = read_bearer(
            Some(&format!("Bearer {t}")),
            "x",
            Audience::Arm("https://e"),
            2000,
        )
        .unwrap_err();
        assert_eq!(e.code, "ExpiredAuthenticationToken");
        let e =
            read_bearer(Some("Bearer garbage"), "x", Audience::Arm("https://e"), 0).unwrap_err();
        assert_eq!(e.code, "InvalidAuthenticationToken");
        let e = read_bearer(
            Some(&format!("Bearer {t}")),
            "x",
            Audience::SynapseDev,
            1000,
        )
        .unwrap_err();
        assert_eq!(e.status, 401);
    }

    #[test]
    fn the_emulators_own_url_is_an_arm_audience_with_or_without_a_slash() {
        let own = "https://127.0.0.1:4000";
        for aud in ["https://127.0.0.1:4000", "https://127.0.0.1:4000/"] {
            let t = mint("o1", "t1", aud, 1000, 60);
            let c = read_bearer(Some(&format!("Bearer {t}")), "x", Audience::Arm(own), 1000);
            assert!(c.is_ok(), "{aud}");
        }
        let t = mint("o1", "t1", "https://127.0.0.1:4001/", 1000, 60);
        let e = read_bearer(Some(&format!("Bearer {t}")), "x", Audience::Arm(own), 1000);
        assert_eq!(e.unwrap_err().code, "InvalidAuthenticationTokenAudience");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        });
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
