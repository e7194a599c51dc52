//! AWS Secrets Manager over its JSON API, signed with Signature Version 4, and the standard
//! credential chain: environment variables, a profile in `~/.aws/credentials` / `~/.aws/config`,
//! and web identity (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` → STS
//! `AssumeRoleWithWebIdentity`: GitHub Actions and GitLab OIDC). Not the instance metadata
//! service, ECS or SSO.
//!
//! The signing is the hand-written SigV4 of [`crate::providers::aws`] (checked against AWS's
//! published example): the `aws-sigv4` crate would bring the smithy runtime types and a second
//! `http` crate into a blocking client that needs one function of it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::http::{self, Response};
use super::{Backend, Entry, Push, RemoteError, keyward_name};
use crate::providers::aws::{amz_date, signature};
use crate::sensitive::SecretValue;
use crate::vault::secret::Stage;

/// Credentials for one run.
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
    /// Where they came from, for messages.
    pub source: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    let bytes = crate::sensitive::env_secret(name)?;
    let text = std::str::from_utf8(&bytes).ok()?.trim();
    (!text.is_empty()).then(|| Zeroizing::new(text.to_owned()))
}

/// The endpoint of `service` (`SECRETS_MANAGER`, `STS`, `KMS`): `AWS_ENDPOINT_URL_<SERVICE>`,
/// then `AWS_ENDPOINT_URL`, then AWS's own for the region.
pub fn endpoint(service_env: &str, host_prefix: &str, region: &str) -> Result<reqwest::Url, RemoteError> {
    // The region becomes part of a host name: from a vault (a KMS slot's ARN) it is hostile input.
    if !sound_region(region) {
        return Err(RemoteError::Setup(format!("{:?} is not an AWS region", crate::sanitize::sanitize(region))));
    }
    let (text, from) = match env(&format!("AWS_ENDPOINT_URL_{service_env}")).or_else(|| env("AWS_ENDPOINT_URL")) {
        Some(url) => (url, "AWS_ENDPOINT_URL"),
        None => (format!("https://{host_prefix}.{region}.amazonaws.com/"), "the region"),
    };
    let url = reqwest::Url::parse(&text)
        .map_err(|_| RemoteError::Setup(format!("{from} is not a URL: {}", crate::sanitize::sanitize(&text))))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(RemoteError::Setup(format!("{from} must be an http(s) URL")));
    }
    Ok(url)
}

/// An AWS region as this uses it in host names: `eu-west-1`, `us-gov-west-1`.
pub fn sound_region(region: &str) -> bool {
    (3..=32).contains(&region.len())
        && region.contains('-')
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// A profile's keys from an INI file (`[name]`, or `[profile name]` in the config file).
fn profile_keys(path: &std::path::Path, profile: &str, config: bool) -> Option<BTreeMap<String, Zeroizing<String>>> {
    let bytes = Zeroizing::new(crate::files::read_nofollow(path).ok()?);
    let text = std::str::from_utf8(&bytes).ok()?;
    let wanted = if config && profile != "default" { format!("profile {profile}") } else { profile.to_owned() };
    let mut found: Option<BTreeMap<String, Zeroizing<String>>> = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == wanted;
            if inside {
                found.get_or_insert_with(BTreeMap::new);
            }
            continue;
        }
        if inside && let Some((k, v)) = line.split_once('=') {
            found
                .get_or_insert_with(BTreeMap::new)
                .insert(k.trim().to_ascii_lowercase(), Zeroizing::new(v.trim().to_owned()));
        }
    }
    found
}

fn aws_file(var: &str, name: &str) -> Option<PathBuf> {
    match env(var) {
        Some(p) => Some(PathBuf::from(p)),
        // No home: no files (never a path relative to wherever this runs).
        None => crate::paths::home().ok().map(|h| h.join(".aws").join(name)),
    }
}

/// The credential chain. `client` reaches STS for web identity.
pub fn credentials(client: &reqwest::blocking::Client, region: &str) -> Result<Credentials, RemoteError> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env_secret("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env_secret("AWS_SESSION_TOKEN"),
            source: "AWS_ACCESS_KEY_ID".into(),
        });
    }
    let named = env("AWS_PROFILE").or_else(|| env("AWS_DEFAULT_PROFILE"));
    let profile = named.clone().unwrap_or_else(|| "default".into());
    let mut keys = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .and_then(|p| profile_keys(&p, &profile, false))
        .unwrap_or_default();
    if let Some(config) = aws_file("AWS_CONFIG_FILE", "config").and_then(|p| profile_keys(&p, &profile, true)) {
        for (k, v) in config {
            keys.entry(k).or_insert(v);
        }
    }
    if let (Some(id), Some(secret)) = (keys.get("aws_access_key_id"), keys.get("aws_secret_access_key")) {
        return Ok(Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret.clone(),
            session_token: keys.get("aws_session_token").cloned(),
            source: format!("profile {profile}"),
        });
    }
    // Web identity: the profile's pair, or the environment's (never one of each).
    let pair = |role: Option<String>, file: Option<String>| role.zip(file);
    let from_profile =
        pair(keys.get("role_arn").map(|r| r.to_string()), keys.get("web_identity_token_file").map(|r| r.to_string()));
    if let Some((role, token_file)) =
        from_profile.or_else(|| pair(env("AWS_ROLE_ARN"), env("AWS_WEB_IDENTITY_TOKEN_FILE")))
    {
        return web_identity(client, region, &role, &PathBuf::from(token_file));
    }
    if let Some(name) = named {
        return Err(RemoteError::Setup(format!("the AWS profile {name} has no keys or web identity this can use")));
    }
    Err(RemoteError::Setup(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or AWS_ROLE_ARN with \
         AWS_WEB_IDENTITY_TOKEN_FILE (instance metadata, ECS and SSO are not supported)"
            .into(),
    ))
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (SigV4's rule),
/// straight into `out` (a token passes through here: no temporary strings).
pub fn encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// The text between `<tag>` and `</tag>` in an XML answer.
fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

fn web_identity(
    client: &reqwest::blocking::Client,
    region: &str,
    role: &str,
    token_file: &std::path::Path,
) -> Result<Credentials, RemoteError> {
    let unreadable = || RemoteError::Setup(format!("cannot read the web identity token {}", token_file.display()));
    let mut file = std::fs::File::open(token_file).map_err(|_| unreadable())?;
    let token =
        crate::sensitive::read_bounded(&mut file, 64 * 1024, "cannot read", token_file).map_err(|_| unreadable())?;
    let token = std::str::from_utf8(&token)
        .map_err(|_| RemoteError::Setup(format!("{} is not a token", token_file.display())))?
        .trim();
    let session = env("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| "keyward".into());
    let mut form = Zeroizing::new(String::with_capacity((token.len() + role.len() + session.len()) * 3 + 256));
    form.push_str("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
    encode(role, &mut form);
    form.push_str("&RoleSessionName=");
    encode(&session, &mut form);
    form.push_str("&WebIdentityToken=");
    encode(token, &mut form);
    let body = Arc::new(Zeroizing::new(form.as_bytes().to_vec()));
    let url = endpoint("STS", "sts", region)?;
    let what = "AWS STS AssumeRoleWithWebIdentity";
    let resp = http::send(
        what,
        &mut || {
            Ok(client
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
                .body(http::body(&body)))
        },
        &|r| r.status == 429 || String::from_utf8_lossy(&r.body).contains("Throttling"),
    )?;
    let xml = std::str::from_utf8(&resp.body).unwrap_or("");
    if resp.status != 200 {
        let code = xml_field(xml, "Code").unwrap_or("error");
        return Err(RemoteError::Auth(format!(
            "{what} for {role} was refused ({}, HTTP {})",
            crate::sanitize::sanitize(code),
            resp.status
        )));
    }
    let field = |tag| xml_field(xml, tag).map(|v| Zeroizing::new(v.trim().to_owned()));
    match (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken")) {
        (Some(id), Some(secret), token) => Ok(Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret,
            session_token: token,
            source: format!("web identity ({role})"),
        }),
        _ => Err(RemoteError::Auth(format!("{what} answered without credentials"))),
    }
}

/// A signed AWS JSON-protocol call (`X-Amz-Target: <target>`).
pub struct JsonApi {
    client: reqwest::blocking::Client,
    url: reqwest::Url,
    region: String,
    service: &'static str,
    creds: Credentials,
}

/// An AWS error answer: its type (after any `#`) and message.
fn aws_error(resp: &Response) -> (String, String) {
    #[derive(Deserialize)]
    struct Err {
        #[serde(rename = "__type", default)]
        kind: String,
        #[serde(alias = "Message", default)]
        message: String,
    }
    let e: Err = serde_json::from_slice(&resp.body).unwrap_or(Err { kind: String::new(), message: String::new() });
    let kind = e.kind.rsplit('#').next().unwrap_or_default().to_owned();
    (crate::sanitize::sanitize(&kind), crate::sanitize::sanitize(&e.message))
}

impl JsonApi {
    pub(super) fn connect(service: &'static str, service_env: &str, region: &str) -> Result<JsonApi, RemoteError> {
        let client = http::client(None)?;
        let url = endpoint(service_env, service, region)?;
        let creds = credentials(&client, region)?;
        Ok(JsonApi { client, url, region: region.to_owned(), service, creds })
    }

    /// Calls `target` (`secretsmanager.GetSecretValue`) with a JSON body; an AWS error comes back
    /// as `Err((type, message))` for the caller to judge, a transport or auth failure as a
    /// [`RemoteError`].
    pub(super) fn call(
        &self,
        target: &str,
        body: &Arc<Zeroizing<Vec<u8>>>,
    ) -> Result<Result<Response, (String, String)>, RemoteError> {
        let payload_hash = data_encoding::HEXLOWER.encode(&Sha256::digest(&body[..]));
        let host = match self.url.port() {
            Some(port) => format!("{}:{port}", self.url.host_str().unwrap_or_default()),
            None => self.url.host_str().unwrap_or_default().to_owned(),
        };
        let what = format!("AWS {}", target.rsplit('.').next().unwrap_or(target));
        let resp = http::send(
            &what,
            &mut || {
                // The real time (not the clock tests may set): AWS refuses a skewed signature.
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let date = amz_date(i64::try_from(now).unwrap_or(i64::MAX));
                let content_type = "application/x-amz-json-1.1";
                let mut headers = vec![
                    ("content-type", content_type.to_owned()),
                    ("host", host.clone()),
                    ("x-amz-date", date.clone()),
                ];
                if let Some(t) = &self.creds.session_token {
                    headers.push(("x-amz-security-token", t.to_string()));
                }
                headers.push(("x-amz-target", target.to_owned()));
                let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
                let signed = signed.join(";");
                let mut canonical = format!("POST\n{}\n\n", self.url.path());
                for (k, v) in &headers {
                    canonical.push_str(&format!("{k}:{}\n", v.trim()));
                }
                canonical.push_str(&format!("\n{signed}\n{payload_hash}"));
                let sig = signature(&self.creds.secret_access_key, &date, &self.region, self.service, &canonical);
                let auth = format!(
                    "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, SignedHeaders={signed}, Signature={sig}",
                    self.creds.access_key_id,
                    &date[..8],
                    self.region,
                    self.service
                );
                let mut req = self.client.post(self.url.clone()).header("authorization", auth);
                for (k, v) in headers.into_iter().filter(|(k, _)| *k != "host") {
                    req = req.header(k, v);
                }
                Ok(req.body(http::body(body)))
            },
            &|r| r.status == 429 || (r.status == 400 && aws_error(r).0.contains("Throttling")),
        )?;
        if resp.status == 200 {
            return Ok(Ok(resp));
        }
        let (kind, message) = aws_error(&resp);
        let auth = [
            "UnrecognizedClientException",
            "InvalidSignatureException",
            "AccessDeniedException",
            "ExpiredTokenException",
            "IncompleteSignature",
            "MissingAuthenticationToken",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
        ];
        if auth.contains(&kind.as_str()) || resp.status == 403 {
            return Err(RemoteError::Auth(format!(
                "{what}: {kind} ({message}) with credentials from {}",
                self.creds.source
            )));
        }
        Ok(Err((kind, message)))
    }
}

/// AWS Secrets Manager under one prefix.
pub struct SecretsManager {
    api: JsonApi,
    prefix: String,
}

fn aws_stage(stage: Stage) -> &'static str {
    match stage {
        Stage::Current => "AWSCURRENT",
        Stage::Pending => "AWSPENDING",
        Stage::Previous | Stage::Revoked => "AWSPREVIOUS",
    }
}

#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

#[derive(Serialize)]
struct TagOut<'a> {
    #[serde(rename = "Key")]
    key: &'a str,
    #[serde(rename = "Value")]
    value: &'a str,
}

#[derive(Deserialize)]
struct Described {
    #[serde(rename = "Name")]
    name: String,
    /// ListSecrets calls it this, DescribeSecret `VersionIdsToStages` (moto sends both).
    #[serde(rename = "SecretVersionsToStages", default)]
    listed: Option<BTreeMap<String, Vec<String>>>,
    #[serde(rename = "VersionIdsToStages", default)]
    described: Option<BTreeMap<String, Vec<String>>>,
    #[serde(rename = "Tags", default)]
    tags: Option<Vec<Tag>>,
}

impl SecretsManager {
    pub fn connect(region: &str, prefix: &str) -> Result<SecretsManager, RemoteError> {
        Ok(SecretsManager {
            api: JsonApi::connect("secretsmanager", "SECRETS_MANAGER", region)?,
            prefix: prefix.to_owned(),
        })
    }

    fn entry(&self, d: Described) -> Option<Entry> {
        let name = d.name.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        if !keyward_name(name) {
            return None;
        }
        let mut entry = Entry { name: name.to_owned(), ..Entry::default() };
        for (id, labels) in d.described.or(d.listed).unwrap_or_default() {
            // Ids go into the vault's records and on screen: only what AWS makes (UUIDs).
            if !super::plausible_id(&id) {
                continue;
            }
            for label in labels {
                let stage = match label.as_str() {
                    "AWSCURRENT" => Stage::Current,
                    "AWSPENDING" => Stage::Pending,
                    "AWSPREVIOUS" => Stage::Previous,
                    _ => continue,
                };
                entry.stages.insert(stage.as_str(), id.clone());
            }
        }
        // AWS's version id is the ClientRequestToken keyward gave it.
        entry.tokens = entry.stages.clone();
        entry.tags = d
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter(|t| super::tag::is_keyward(&t.key))
            .map(|t| (t.key, t.value))
            .collect();
        Some(entry)
    }

    fn call(
        &self,
        action: &str,
        body: &impl Serialize,
        room: usize,
    ) -> Result<Result<Response, (String, String)>, RemoteError> {
        let body = http::json_body(body, room);
        self.api.call(&format!("secretsmanager.{action}"), &body)
    }

    fn refused(&self, name: &str, action: &str, (kind, message): (String, String)) -> RemoteError {
        let what = format!("AWS {action} of {}: {kind} ({message})", self.prefix.clone() + "/" + name);
        if kind == "ResourceExistsException" { RemoteError::Conflict(what) } else { RemoteError::Refused(what) }
    }

    fn put(&self, name: &str, up: &super::Upload<'_>, create: bool, tags: &[TagOut<'_>]) -> Result<(), RemoteError> {
        #[derive(Serialize)]
        struct Create<'a> {
            #[serde(rename = "Name")]
            name: &'a str,
            #[serde(rename = "SecretString")]
            value: &'a str,
            #[serde(rename = "ClientRequestToken")]
            token: &'a str,
            #[serde(rename = "Description")]
            description: &'a str,
            #[serde(rename = "Tags")]
            tags: &'a [TagOut<'a>],
        }
        #[derive(Serialize)]
        struct Put<'a> {
            #[serde(rename = "SecretId")]
            id: &'a str,
            #[serde(rename = "SecretString")]
            value: &'a str,
            #[serde(rename = "ClientRequestToken")]
            token: &'a str,
            #[serde(rename = "VersionStages")]
            stages: [&'a str; 1],
        }
        let id = format!("{}/{name}", self.prefix);
        let value = up.value.expose();
        let (action, result) = if create {
            let body = Create { name: &id, value, token: &up.token, description: "managed by keyward", tags };
            ("CreateSecret", self.call("CreateSecret", &body, value.len() * 6)?)
        } else {
            let body = Put { id: &id, value, token: &up.token, stages: [aws_stage(up.stage)] };
            ("PutSecretValue", self.call("PutSecretValue", &body, value.len() * 6)?)
        };
        result.map(drop).map_err(|e| self.refused(name, action, e))
    }
}

impl SecretsManager {
    /// Moves `AWSCURRENT` to version `to` (AWS gives the old current `AWSPREVIOUS`) and takes
    /// `AWSPENDING` off it: a promotion, as AWS's own rotation functions finish one.
    fn promote(&self, name: &str, to: &str, from: Option<&str>) -> Result<(), RemoteError> {
        let id = format!("{}/{name}", self.prefix);
        let mut body = serde_json::json!({"SecretId": id, "VersionStage": "AWSCURRENT", "MoveToVersionId": to});
        if let Some(from) = from {
            body["RemoveFromVersionId"] = serde_json::Value::String(from.to_owned());
        }
        self.call("UpdateSecretVersionStage", &body, 0)?
            .map_err(|e| self.refused(name, "UpdateSecretVersionStage", e))?;
        let body = serde_json::json!({"SecretId": id, "VersionStage": "AWSPENDING", "RemoveFromVersionId": to});
        match self.call("UpdateSecretVersionStage", &body, 0)? {
            Ok(_) => Ok(()),
            // Not labelled pending (any more): nothing to take off.
            Err((kind, _)) if kind == "InvalidParameterException" => Ok(()),
            Err(e) => Err(self.refused(name, "UpdateSecretVersionStage", e)),
        }
    }
}

impl SecretsManager {
    /// The value of secret `id` at `stage` (a reference: any secret, not only keyward's), or the
    /// string at `key` of its JSON.
    pub fn read(&self, id: &str, stage: &str, key: Option<&str>) -> Result<SecretValue, RemoteError> {
        let value = self
            .get_value(id, "VersionStage", stage)?
            .ok_or_else(|| RemoteError::Refused(format!("AWS has no secret {id} (or no {stage} version of it)")))?;
        match key {
            None => Ok(value),
            Some(k) => {
                super::reference::json_field(value.expose(), k).map_err(|r| RemoteError::Refused(format!("{id}: {r}")))
            }
        }
    }

    /// `GetSecretValue` of secret `id` at `VersionId` or `VersionStage` (`by`) `which`: its
    /// string, `None` when there is no such secret or version.
    fn get_value(&self, id: &str, by: &str, which: &str) -> Result<Option<SecretValue>, RemoteError> {
        #[derive(Deserialize)]
        struct Got {
            #[serde(rename = "SecretString")]
            value: Option<http::WireValue>,
        }
        let mut body = serde_json::json!({"SecretId": id});
        body[by] = serde_json::Value::String(which.to_owned());
        match self.call("GetSecretValue", &body, 0)? {
            Ok(resp) => {
                let got: Got = serde_json::from_slice(&resp.body).map_err(|_| {
                    RemoteError::Refused(format!("AWS GetSecretValue of {id}: an answer this cannot read"))
                })?;
                match got.value.map(|w| w.0) {
                    Some(v) if !v.is_empty() && v.len() <= SecretValue::MAX_LEN => Ok(Some(v)),
                    Some(_) => Err(RemoteError::Refused(format!("{id} is empty or larger than 64 KiB"))),
                    None => Err(RemoteError::Refused(format!("{id} is a binary secret, which keyward does not read"))),
                }
            }
            Err((kind, _)) if kind == "ResourceNotFoundException" => Ok(None),
            Err((kind, message)) => {
                Err(RemoteError::Refused(format!("AWS GetSecretValue of {id}: {kind} ({message})")))
            }
        }
    }
}

impl Backend for SecretsManager {
    fn drop_pending(&self, entry: &Entry) -> Result<(), RemoteError> {
        let Some(pending) = entry.id_of(Stage::Pending) else { return Ok(()) };
        let id = format!("{}/{}", self.prefix, entry.name);
        let body = serde_json::json!({"SecretId": id, "VersionStage": "AWSPENDING", "RemoveFromVersionId": pending});
        self.call("UpdateSecretVersionStage", &body, 0)?
            .map(drop)
            .map_err(|e| self.refused(&entry.name, "UpdateSecretVersionStage", e))
    }

    fn list(&self) -> Result<Vec<Entry>, RemoteError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(rename = "SecretList", default)]
            secrets: Vec<Described>,
            #[serde(rename = "NextToken")]
            next: Option<String>,
        }
        let mut entries = Vec::new();
        let mut next: Option<String> = None;
        let filter = format!("{}/", self.prefix);
        for _ in 0..10_000 {
            let mut body = serde_json::json!({
                "Filters": [{"Key": "name", "Values": [filter]}],
                "MaxResults": 100,
            });
            if let Some(t) = &next {
                body["NextToken"] = serde_json::Value::String(t.clone());
            }
            let resp = self.call("ListSecrets", &body, 0)?.map_err(|e| self.refused("*", "ListSecrets", e))?;
            let page: Page = serde_json::from_slice(&resp.body)
                .map_err(|_| RemoteError::Refused("AWS ListSecrets: an answer this cannot read".into()))?;
            entries.extend(page.secrets.into_iter().filter_map(|d| self.entry(d)));
            next = page.next.filter(|t| !t.is_empty());
            if next.is_none() {
                break;
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn describe(&self, name: &str) -> Result<Option<Entry>, RemoteError> {
        let body = serde_json::json!({"SecretId": format!("{}/{name}", self.prefix)});
        match self.call("DescribeSecret", &body, 0)? {
            Ok(resp) => {
                let d: Described = serde_json::from_slice(&resp.body)
                    .map_err(|_| RemoteError::Refused("AWS DescribeSecret: an answer this cannot read".into()))?;
                Ok(self.entry(d))
            }
            Err((kind, _)) if kind == "ResourceNotFoundException" => Ok(None),
            Err(e) => Err(self.refused(name, "DescribeSecret", e)),
        }
    }

    fn fetch(&self, entry: &Entry, stage: Stage) -> Result<Option<SecretValue>, RemoteError> {
        let Some(version) = entry.id_of(stage) else { return Ok(None) };
        // The version the listing labelled, by id: what was judged is what is read (and moto has
        // been seen answering a read by stage with the old value after a stage moved).
        self.get_value(&format!("{}/{}", self.prefix, entry.name), "VersionId", version)
    }

    fn push(&self, push: &Push<'_>) -> Result<Entry, RemoteError> {
        let tags: Vec<TagOut<'_>> = push.tags.iter().map(|(k, v)| TagOut { key: k, value: v }).collect();
        let mut exists = push.seen.is_some();
        for up in &push.versions {
            if up.stage == Stage::Current && !push.write_current {
                continue;
            }
            if let Some(seen) = push.seen {
                // A version the remote has (a pending one promoted here) gets its label moved.
                if up.stage == Stage::Current && seen.has_token(&up.token) && seen.current() != Some(up.token.as_str())
                {
                    self.promote(push.name, &up.token, seen.current())?;
                }
                // What the remote already has, or history it never had, is not written.
                if seen.has_token(&up.token) || up.stage == Stage::Previous {
                    continue;
                }
            }
            self.put(push.name, up, !exists, &tags)?;
            exists = true;
        }
        if push.seen.is_some() {
            #[derive(Serialize)]
            struct Tagging<'a> {
                #[serde(rename = "SecretId")]
                id: String,
                #[serde(rename = "Tags")]
                tags: &'a [TagOut<'a>],
            }
            let body = Tagging { id: format!("{}/{}", self.prefix, push.name), tags: &tags };
            self.call("TagResource", &body, 0)?.map_err(|e| self.refused(push.name, "TagResource", e))?;
        }
        let entry = self
            .describe(push.name)?
            .ok_or_else(|| RemoteError::Refused(format!("{} is not there after writing it", push.name)))?;
        // AWS has no check-and-set: a version someone wrote between keyward's read and its write
        // is AWSPREVIOUS now rather than the one keyward read. Kept there, and reported.
        let moved = push.write_current && entry.current() != push.seen.and_then(Entry::current);
        if moved
            && let Some(was) = push.seen.and_then(Entry::current)
            && entry.id_of(Stage::Previous) != Some(was)
        {
            return Err(RemoteError::Conflict(format!(
                "{} was changed in AWS while this push ran; that version is kept as AWSPREVIOUS",
                push.name
            )));
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_unreserved() {
        let mut out = String::new();
        encode("arn:aws:iam::1:role/x a+b~", &mut out);
        assert_eq!(out, "arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx%20a%2Bb~");
    }

    #[test]
    fn profiles_read_from_ini() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "[default]\nregion = eu-west-1\n[profile ci]\n# c\naws_access_key_id = AKIA1\naws_secret_access_key = s3cr3t\n").unwrap();
        let ci = profile_keys(&path, "ci", true).unwrap();
        assert_eq!(ci["aws_access_key_id"].as_str(), "AKIA1");
        assert_eq!(ci["aws_secret_access_key"].as_str(), "s3cr3t");
        assert!(profile_keys(&path, "ci", false).is_none());
        assert!(profile_keys(&path, "default", true).unwrap().contains_key("region"));
    }

    #[test]
    fn xml_fields() {
        let xml = "<R><Credentials><AccessKeyId>ASIA</AccessKeyId><SessionToken>t</SessionToken></Credentials></R>";
        assert_eq!(xml_field(xml, "AccessKeyId"), Some("ASIA"));
        assert_eq!(xml_field(xml, "Missing"), None);
    }
}
