//! Online health checks: one request to the provider, read as a tri-state verdict.
//!
//! `valid` means the provider accepted the key and `invalid` that it rejected it. Everything else —
//! timeouts, DNS or TLS errors, 429, 5xx, redirects, a bare 403 where the provider uses 403 for
//! firewalls, an unexpected answer — is `unknown`, because a scanner that calls those "invalid"
//! tells users to throw away good keys, and one that calls them "valid" hides dead ones.
//!
//! No key ever appears in a verdict: details are built from status codes and fixed texts, and
//! transport errors are described by kind, never by reqwest's text (which includes the URL).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Url, header};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{Auth, Check, Method, Provider, aws};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        }
    }

    /// How bad a verdict is, for picking the worst of several: valid < unknown < invalid.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Valid => 0,
            Verdict::Unknown => 1,
            Verdict::Invalid => 2,
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub check: String,
    pub verdict: Verdict,
    pub detail: String,
    /// Scopes the provider reported for the key (GitHub's `X-OAuth-Scopes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Expiry the provider reported (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

impl Outcome {
    fn new(check: &str, verdict: Verdict, detail: impl Into<String>) -> Outcome {
        Outcome { check: check.to_owned(), verdict, detail: detail.into(), scopes: None, expires: None }
    }
}

/// One HTTP client for a whole run: kept-alive connections, no redirects, a timeout per request.
pub struct Checker {
    client: Client,
    timeout: Duration,
    /// The wall clock, for request signatures (AWS's refuse a skewed time).
    clock: fn() -> i64,
}

impl Checker {
    pub fn new(timeout: Duration, concurrency: usize, clock: fn() -> i64) -> Checker {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(concurrency)
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with static settings");
        Checker { client, timeout, clock }
    }

    /// Runs every check that applies to each key (`(provider id, value, paired value)`),
    /// `concurrency` at a time over one keep-alive client; `done` is called after each check (a
    /// progress bar). Returns `(key index, outcome)` pairs in key order; keys with no provider in
    /// `registry`, or no check for their shape, get none.
    pub fn run_all(
        &self,
        registry: &super::Registry,
        keys: &[(&str, &str, Option<&str>)],
        concurrency: usize,
        done: &(dyn Fn() + Sync),
    ) -> Vec<(usize, Outcome)> {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let jobs: Vec<(usize, &Provider, &Check)> = keys
            .iter()
            .enumerate()
            .filter_map(|(i, (id, value, _))| Some((i, registry.get(id)?, *value)))
            .flat_map(|(i, p, value)| p.checks_for(value).into_iter().map(move |c| (i, p, c)))
            .collect();
        let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; jobs.len()]);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..concurrency.min(jobs.len()) {
                scope.spawn(|| {
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(i, provider, check)) = jobs.get(j) else { break };
                        let (_, value, paired) = keys[i];
                        let outcome = self.run(provider, check, value, paired);
                        results.lock().expect("no worker panics holding the lock")[j] = Some(outcome);
                        done();
                    }
                });
            }
        });
        let results = results.into_inner().expect("workers finished");
        jobs.iter().zip(results).map(|((i, _, _), o)| (*i, o.expect("every job ran"))).collect()
    }

    /// Runs one check of `provider` against `key` (and the paired secret's value when the check
    /// needs two halves).
    pub fn run(&self, provider: &Provider, check: &Check, key: &str, paired: Option<&str>) -> Outcome {
        let Some(base) = provider.base_url() else {
            return Outcome::new(&check.name, Verdict::Unknown, "the provider has no base URL to check against");
        };
        let url = match endpoint(&base, &check.path) {
            Ok(url) => url,
            Err(reason) => return Outcome::new(&check.name, Verdict::Unknown, reason),
        };
        if check.needs_pair() && paired.is_none() {
            return Outcome::new(
                &check.name,
                Verdict::Unknown,
                "this check needs the other half of the credential: set --paired-with",
            );
        }
        // One retry on connection errors (refused, reset, closed before an answer), never on a
        // timeout: a slow provider does not get twice the time.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = match self.request(provider, check, &url, key, paired) {
                Ok(r) => r,
                Err(reason) => return Outcome::new(&check.name, Verdict::Unknown, reason),
            };
            match request.send() {
                Ok(response) => return read(check, response),
                Err(e) if attempt == 1 && !e.is_timeout() && (e.is_connect() || e.is_request()) => continue,
                Err(e) => return Outcome::new(&check.name, Verdict::Unknown, self.describe(&e)),
            }
        }
    }

    fn request(
        &self,
        provider: &Provider,
        check: &Check,
        url: &Url,
        key: &str,
        paired: Option<&str>,
    ) -> Result<RequestBuilder, String> {
        let fill = |template: &str| -> Zeroizing<String> {
            Zeroizing::new(template.replace("{key}", key).replace("{paired}", paired.unwrap_or("")))
        };
        let method = match check.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Head => reqwest::Method::HEAD,
        };
        if check.auth == Auth::AwsSigv4 {
            let (id, secret) = aws::split_pair(provider, key, paired.unwrap_or(""));
            let signed = aws::sign_sts_request(url, id, secret, (self.clock)());
            let mut rb = self.client.post(url.clone()).body(signed.body);
            for (name, value) in signed.headers {
                rb = rb.header(name, value);
            }
            return Ok(rb);
        }
        let mut rb = self.client.request(method, url.clone());
        for (name, value) in &check.headers {
            rb = rb.header(name.as_str(), fill(value).as_str());
        }
        if let Some(body) = &check.body {
            rb = rb.body(fill(body).to_string());
        }
        rb = match check.auth {
            Auth::Bearer => rb.header(header::AUTHORIZATION, sensitive_header(&format!("Bearer {key}"))?),
            Auth::Header => {
                let name = check.header.as_deref().unwrap_or("Authorization");
                let value = fill(check.value.as_deref().unwrap_or("{key}"));
                rb.header(name, sensitive_header(&value)?)
            }
            Auth::Query => rb.query(&[(check.query.as_deref().unwrap_or("key"), key)]),
            Auth::Basic => {
                let user = fill(check.username.as_deref().unwrap_or(""));
                let pass = fill(check.password.as_deref().unwrap_or(""));
                rb.basic_auth(user.as_str(), Some(pass.as_str()))
            }
            Auth::None | Auth::AwsSigv4 => rb,
        };
        Ok(rb)
    }

    fn describe(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            format!("no answer within {} s", self.timeout.as_secs_f64())
        } else if e.is_connect() {
            "could not connect (DNS, TLS or connection refused)".into()
        } else if e.is_body() || e.is_decode() {
            "the answer was cut off".into()
        } else {
            "the request failed before an answer came".into()
        }
    }
}

fn sensitive_header(value: &str) -> Result<header::HeaderValue, String> {
    let mut v = header::HeaderValue::from_str(value)
        .map_err(|_| "the key contains characters that cannot be sent in an HTTP header".to_string())?;
    v.set_sensitive(true);
    Ok(v)
}

/// The check's URL, refusing plain http except to this machine: a key must not cross a network
/// in clear text.
pub fn endpoint(base: &str, path: &str) -> Result<Url, String> {
    let url = Url::parse(&format!("{}{}", base.trim_end_matches('/'), path))
        .map_err(|_| format!("the base URL {base:?} is not a valid URL"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!("refusing to send a key over plain http to {}", url.host_str().unwrap_or("?"))),
        other => Err(format!("unsupported URL scheme {other:?}")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Reads a response into a verdict.
fn read(check: &Check, response: Response) -> Outcome {
    let status = response.status().as_u16();
    let header_text = |name: &Option<String>| {
        name.as_ref().and_then(|n| response.headers().get(n.as_str())).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    let scopes = header_text(&check.scopes_header)
        .map(|s| s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect());
    let expires = header_text(&check.expiry_header).and_then(|s| parse_expiry_header(&s));
    if response.status().is_redirection() {
        let outcome = Outcome::new(&check.name, Verdict::Unknown, format!("HTTP {status}: a redirect (not followed)"));
        return outcome;
    }
    // Bodies are small JSON documents; read at most 64 KiB of them.
    let body = {
        use std::io::Read;
        let mut buf = Vec::new();
        let _ = response.take(64 * 1024).read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    };
    let mut outcome = verdict(check, status, &body);
    if outcome.verdict == Verdict::Valid {
        outcome.scopes = scopes;
        outcome.expires = expires;
    }
    outcome
}

/// The decision table, apart from the transport so it can be tested on its own.
pub fn verdict(check: &Check, status: u16, body: &str) -> Outcome {
    let name = &check.name;
    let error_code = |body: &str| -> Option<String> {
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        json.get("error").and_then(|e| e.as_str().map(str::to_owned))
    };
    if let Some(field) = &check.json_ok
        && check.valid.contains(&status)
    {
        let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
        return match json.as_ref().and_then(|j| j.get(field)).and_then(serde_json::Value::as_bool) {
            Some(true) => Outcome::new(name, Verdict::Valid, format!("HTTP {status}, {field}: true")),
            Some(false) => {
                let code = error_code(body).unwrap_or_else(|| "no error code".into());
                let code = crate::sanitize::sanitize(&code.chars().take(60).collect::<String>());
                if check.invalid_errors.contains(&code) {
                    Outcome::new(name, Verdict::Invalid, format!("HTTP {status}, {field}: false ({code})"))
                } else {
                    Outcome::new(name, Verdict::Unknown, format!("HTTP {status}, {field}: false ({code})"))
                }
            }
            None => Outcome::new(name, Verdict::Unknown, format!("HTTP {status} without a JSON {field:?} field")),
        };
    }
    if check.valid.contains(&status) {
        return Outcome::new(name, Verdict::Valid, format!("HTTP {status}"));
    }
    if check.invalid.contains(&status) {
        return Outcome::new(name, Verdict::Invalid, format!("HTTP {status}"));
    }
    if let Some(code) = check.invalid_errors.iter().find(|e| body.contains(e.as_str())) {
        return Outcome::new(name, Verdict::Invalid, format!("HTTP {status} ({code})"));
    }
    let why = match status {
        429 => "rate limited",
        403 => "forbidden, which this provider also answers for reasons other than the key",
        500..=599 => "the provider had an error",
        _ => "an answer this check does not know",
    };
    Outcome::new(name, Verdict::Unknown, format!("HTTP {status}: {why}"))
}

/// GitHub's `github-authentication-token-expiration`: `2026-12-31 00:00:00 UTC` or with an offset
/// such as `-0800`.
fn parse_expiry_header(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date_time, zone) = s.rsplit_once(' ')?;
    let offset_secs = match zone {
        "UTC" | "GMT" | "Z" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let h: i64 = z[1..3].parse().ok()?;
            let m: i64 = z[3..5].parse().ok()?;
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let t = humantime::parse_rfc3339(&format!("{}Z", date_time.replace(' ', "T"))).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(secs - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Registry;

    fn check(provider: &str) -> Check {
        Registry::builtin().get(provider).unwrap().checks[0].clone()
    }

    #[test]
    fn tri_state_table() {
        let stripe = check("stripe");
        assert_eq!(verdict(&stripe, 200, "{}").verdict, Verdict::Valid);
        assert_eq!(verdict(&stripe, 401, "{}").verdict, Verdict::Invalid);
        for unknown in [403, 404, 429, 500, 502, 503, 418] {
            assert_eq!(verdict(&stripe, unknown, "").verdict, Verdict::Unknown, "{unknown}");
        }
        let slack = check("slack");
        assert_eq!(verdict(&slack, 200, r#"{"ok":true}"#).verdict, Verdict::Valid);
        assert_eq!(verdict(&slack, 200, r#"{"ok":false,"error":"invalid_auth"}"#).verdict, Verdict::Invalid);
        assert_eq!(verdict(&slack, 200, r#"{"ok":false,"error":"token_revoked"}"#).verdict, Verdict::Invalid);
        assert_eq!(verdict(&slack, 200, r#"{"ok":false,"error":"ratelimited"}"#).verdict, Verdict::Unknown);
        assert_eq!(verdict(&slack, 200, "<html>").verdict, Verdict::Unknown);
        let hubspot = check("hubspot");
        assert_eq!(verdict(&hubspot, 403, "").verdict, Verdict::Unknown);
        let google = check("google");
        assert_eq!(verdict(&google, 400, "").verdict, Verdict::Invalid);
        assert_eq!(verdict(&google, 403, "").verdict, Verdict::Unknown);
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(endpoint("http://127.0.0.1:8080", "/v1/x").is_ok());
        assert!(endpoint("http://localhost:1", "/x").is_ok());
        assert!(endpoint("http://[::1]:1", "/x").is_ok());
        assert!(endpoint("https://api.stripe.com", "/v1/account").is_ok());
        assert!(endpoint("http://api.stripe.com", "/v1/account").is_err());
        assert!(endpoint("ftp://x", "/").is_err());
    }

    #[test]
    fn github_expiry_header() {
        assert_eq!(parse_expiry_header("2026-12-31 00:00:00 UTC"), Some(1_798_675_200));
        assert_eq!(parse_expiry_header("2026-12-31 00:00:00 -0100"), Some(1_798_675_200 + 3600));
        assert_eq!(parse_expiry_header("soon"), None);
    }
}
