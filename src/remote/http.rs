//! What both stores' clients share: a blocking HTTP client with timeouts, retries of throttled
//! and failed requests with backoff, bodies that hold secrets in wiped buffers, and one-line
//! errors.

use std::io::Read;
use std::time::Duration;

use zeroize::Zeroizing;

use super::RemoteError;

/// Responses larger than this are refused (a secret is at most 64 KiB; a page of a listing far
/// less).
const MAX_RESPONSE: u64 = 4 << 20;
const ATTEMPTS: u32 = 6;

pub(super) fn client(ca_file: Option<&std::path::Path>) -> Result<reqwest::blocking::Client, RemoteError> {
    let mut builder = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(16);
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| RemoteError::Setup(format!("cannot read the CA file {}: {e}", path.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|_| RemoteError::Setup(format!("{} is not a PEM certificate", path.display())))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| RemoteError::Setup(format!("cannot set up HTTPS: {e}")))
}

/// A response: its status and body (wiped on drop: it may hold a value).
pub(super) struct Response {
    pub status: u16,
    pub body: Zeroizing<Vec<u8>>,
}

/// Sends the request `make` builds (again on each attempt: a signature carries the time),
/// retrying what `throttled` says is throttling, 5xx answers and dropped connections, with
/// exponential backoff and jitter.
pub(super) fn send(
    what: &str,
    make: &mut dyn FnMut() -> Result<reqwest::blocking::RequestBuilder, RemoteError>,
    throttled: &dyn Fn(&Response) -> bool,
) -> Result<Response, RemoteError> {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        let last = attempt == ATTEMPTS;
        let result = make()?.send();
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = read_body(resp, what)?;
                let response = Response { status, body };
                let retry = status >= 500 || throttled(&response);
                if !retry || last {
                    if retry && status < 500 {
                        return Err(RemoteError::Throttled(format!("{what}: still throttled after {ATTEMPTS} tries")));
                    }
                    return Ok(response);
                }
            }
            // A refused connection is tried three times, not six: nobody is listening.
            Err(e)
                if last
                    || (e.is_connect() && attempt >= 3)
                    || !(e.is_connect() || e.is_timeout() || e.is_request()) =>
            {
                return Err(RemoteError::Unreachable(describe(what, &e)));
            }
            Err(_) => {}
        }
        std::thread::sleep(delay + jitter(delay));
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    unreachable!("the last attempt returns")
}

fn read_body(resp: reqwest::blocking::Response, what: &str) -> Result<Zeroizing<Vec<u8>>, RemoteError> {
    let len = resp.content_length().unwrap_or(0).min(MAX_RESPONSE);
    // Sized once from the declared length (plus room): a growing Vec would leave copies behind.
    let mut body = Zeroizing::new(Vec::with_capacity(usize::try_from(len).unwrap_or(0) + 64 * 1024 + 1));
    let mut limited = resp.take(MAX_RESPONSE + 1);
    let mut chunk = Zeroizing::new([0u8; 16 * 1024]);
    loop {
        let n = limited
            .read(&mut chunk[..])
            .map_err(|e| RemoteError::Unreachable(format!("{what}: the answer broke off ({e})")))?;
        if n == 0 {
            break;
        }
        if body.len() + n > body.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity((body.capacity() * 2).max(body.len() + n)));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if body.len() as u64 > MAX_RESPONSE {
        return Err(RemoteError::Refused(format!("{what}: the answer is larger than {MAX_RESPONSE} bytes")));
    }
    Ok(body)
}

fn jitter(delay: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    delay.mul_f64(f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0)
}

/// One line for a transport failure: timeout, TLS, refused connection.
fn describe(what: &str, e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut deepest = String::new();
    while let Some(s) = source {
        deepest = s.to_string();
        source = s.source();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if deepest.to_ascii_lowercase().contains("certificate") || deepest.contains("tls") {
        "TLS failed"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    crate::sanitize::sanitize(&format!("{what}: {kind} ({deepest})"))
}

/// A JSON body built into a buffer sized once and wiped on drop (it may hold a value), shared by
/// the attempts of one request.
pub(super) fn json_body<T: serde::Serialize>(value: &T, room: usize) -> std::sync::Arc<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(room + 4096));
    serde_json::to_writer(&mut *buf, value).expect("a JSON value serializes");
    std::sync::Arc::new(buf)
}

/// A request body read from `bytes` (no unwiped copy of our own: hyper's buffers are its own).
pub(super) fn body(bytes: &std::sync::Arc<Zeroizing<Vec<u8>>>) -> reqwest::blocking::Body {
    let len = bytes.len() as u64;
    reqwest::blocking::Body::sized(Shared { bytes: bytes.clone(), at: 0 }, len)
}

struct Shared {
    bytes: std::sync::Arc<Zeroizing<Vec<u8>>>,
    at: usize,
}

impl Read for Shared {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.bytes[self.at..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// A secret value in a JSON answer, escaped or not (the vault's own decoder borrows only),
/// copied once into a buffer of its size. serde_json's scratch buffer for escaped strings is its
/// own.
pub(super) struct WireValue(pub crate::sensitive::SecretValue);

impl<'de> serde::Deserialize<'de> for WireValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = WireValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireValue, E> {
                let mut owned = String::with_capacity(v.len());
                owned.push_str(v);
                Ok(WireValue(crate::sensitive::SecretValue::new(owned)))
            }
        }
        d.deserialize_str(Visitor)
    }
}
