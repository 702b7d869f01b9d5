//! `Ctx`: what a route handler sees of a request — method, decoded path, query
//! parameters (names compared case-insensitively), body bytes, the authenticated caller,
//! the emulator's base URL, a snapshot of the knobs, and the current instant.

use http::Method;
use percent_encoding::percent_decode_str;

use crate::auth::Caller;
use crate::faults::Faults;

/// Query parameters in order.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string or form body (`a=1&b=x%20y`, `+` as a space).
    pub fn parse(raw: Option<&str>) -> Query {
        let Some(raw) = raw else {
            return Query::default();
        };
        Query(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of a parameter (name compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-decodes a URL path (a `+` stays a `+`; a `%` not followed by two hex digits
/// stays as it is; invalid UTF-8 becomes U+FFFD).
pub fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// One request as handlers see it.
pub struct Ctx<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Decoded path, without a trailing slash.
    pub path: &'a str,
    /// Query parameters.
    pub query: &'a Query,
    /// Raw body.
    pub body: &'a [u8],
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// `http(s)://host:port` of the emulator.
    pub base_url: &'a str,
    /// The knobs at the time of the request.
    pub faults: &'a Faults,
    /// Now, epoch ms.
    pub now: u64,
    /// Served on AML's regional `/rp/workspaces/…` path (what azureml-core reads computes
    /// through), not on ARM's.
    pub regional: bool,
}

impl Ctx<'_> {
    /// The `api-version` parameter.
    pub fn api_version(&self) -> Option<&str> {
        self.query.get("api-version")
    }

    /// The api-version to echo in polling URLs.
    pub fn api_version_or_default(&self) -> String {
        self.api_version().unwrap_or("2021-06-01").to_owned()
    }

    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Duration of a long-running operation now (scaled).
    pub fn lro_ms(&self) -> u64 {
        self.faults.scaled(self.faults.lro_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_and_ignores_name_case() {
        let q = Query::parse(Some(
            "Api-Version=2021-06-01&%24filter=principalId%20eq%20'x'&bad=%zz",
        ));
        assert_eq!(q.get("api-version"), Some("2021-06-01"));
        assert_eq!(q.get("$filter"), Some("principalId eq 'x'"));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("a%2"), "a%2");
    }
}
