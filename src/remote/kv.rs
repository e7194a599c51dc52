//! HashiCorp Vault / OpenBao KV version 2. The server is the user's `VAULT_ADDR` (or
//! `BAO_ADDR`), the token `VAULT_TOKEN` (or `BAO_TOKEN`, or `~/.vault-token`), with
//! `VAULT_NAMESPACE` and `VAULT_CACERT` as the `vault` CLI reads them.
//!
//! Secret `NAME` is `PATH/NAME`; its value is the field `value`. Each keyward version is a KV
//! version; the custom metadata says which is current, pending and previous (`keyward-current`
//! …), and carries the keyward token of the current one and keyward's metadata. Every write
//! checks and sets against the version last read: a concurrent change is a conflict, never a
//! lost update.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::http::{self, Response};
use super::{Backend, Entry, Push, RemoteError, keyward_name};
use crate::sensitive::SecretValue;
use crate::vault::secret::Stage;

pub struct Kv {
    client: reqwest::blocking::Client,
    addr: reqwest::Url,
    token: Zeroizing<String>,
    namespace: Option<String>,
    mount: String,
    path: String,
}

fn env(names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()).map(|v| (n.to_string(), v)))
}

/// The key of a stage in the custom metadata.
fn stage_key(stage: Stage) -> &'static str {
    match stage {
        Stage::Current => "keyward-current",
        Stage::Pending => "keyward-pending",
        Stage::Previous | Stage::Revoked => "keyward-previous",
    }
}

enum Method {
    Get,
    List,
    Post,
}

impl Kv {
    pub fn connect(mount: &str, path: &str) -> Result<Kv, RemoteError> {
        let (from, addr) = env(&["VAULT_ADDR", "BAO_ADDR"])
            .ok_or_else(|| RemoteError::Setup("no server for vault: remotes: set VAULT_ADDR (or BAO_ADDR)".into()))?;
        let addr = reqwest::Url::parse(addr.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| RemoteError::Setup(format!("{from} is not an http(s) URL")))?;
        // No home: no token file (never a path relative to wherever this runs).
        let token_file = || {
            let file = crate::paths::home().ok()?.join(".vault-token");
            crate::files::read_nofollow(&file).ok().map(Zeroizing::new)
        };
        let token = crate::sensitive::env_secret("VAULT_TOKEN")
            .filter(|t| !t.is_empty())
            .or_else(|| crate::sensitive::env_secret("BAO_TOKEN").filter(|t| !t.is_empty()))
            .or_else(token_file)
            .ok_or_else(|| {
                RemoteError::Setup(
                    "no Vault token: set VAULT_TOKEN (or BAO_TOKEN), or log in with `vault login`".into(),
                )
            })?;
        let token = std::str::from_utf8(&token)
            .map(|t| Zeroizing::new(t.trim().to_owned()))
            .map_err(|_| RemoteError::Setup("the Vault token is not text".into()))?;
        let ca = env(&["VAULT_CACERT", "BAO_CACERT"]).map(|(_, p)| std::path::PathBuf::from(p));
        Ok(Kv {
            client: http::client(ca.as_deref())?,
            addr,
            token,
            namespace: env(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]).map(|(_, n)| n),
            mount: mount.to_owned(),
            path: path.to_owned(),
        })
    }

    fn url(&self, kind: &str, name: Option<&str>) -> reqwest::Url {
        let mut url = self.addr.clone();
        let base = self.addr.path().trim_end_matches('/');
        let tail = name.map(|n| format!("/{n}")).unwrap_or_default();
        url.set_path(&format!("{base}/v1/{}/{kind}/{}{tail}", self.mount, self.path));
        url
    }

    fn request(
        &self,
        what: &str,
        method: Method,
        url: reqwest::Url,
        body: Option<&Arc<Zeroizing<Vec<u8>>>>,
    ) -> Result<Response, RemoteError> {
        let resp = http::send(
            what,
            &mut || {
                let m = match method {
                    Method::Get => reqwest::Method::GET,
                    Method::List => reqwest::Method::from_bytes(b"LIST").expect("a method name"),
                    Method::Post => reqwest::Method::POST,
                };
                let mut req = self
                    .client
                    .request(m, url.clone())
                    .header("X-Vault-Token", self.token.as_str())
                    .header("X-Vault-Request", "true");
                if let Some(ns) = &self.namespace {
                    req = req.header("X-Vault-Namespace", ns);
                }
                if let Some(b) = body {
                    req = req.header("content-type", "application/json").body(http::body(b));
                }
                Ok(req)
            },
            &|r| r.status == 429,
        )?;
        match resp.status {
            200..=299 | 404 => Ok(resp),
            401 | 403 => Err(RemoteError::Auth(format!(
                "{what}: permission denied by {} (HTTP {})",
                self.addr.host_str().unwrap_or_default(),
                resp.status
            ))),
            _ => {
                let message = errors(&resp);
                if message.contains("check-and-set") {
                    Err(RemoteError::Conflict(format!("{what}: changed by someone else meanwhile ({message})")))
                } else {
                    Err(RemoteError::Refused(format!("{what}: HTTP {} ({message})", resp.status)))
                }
            }
        }
    }

    fn metadata(&self, name: &str) -> Result<Option<Entry>, RemoteError> {
        #[derive(Deserialize)]
        struct Meta {
            current_version: u64,
            #[serde(default)]
            custom_metadata: Option<BTreeMap<String, String>>,
            #[serde(default)]
            versions: BTreeMap<String, VersionMeta>,
        }
        #[derive(Deserialize)]
        struct VersionMeta {
            #[serde(default)]
            deletion_time: String,
            #[serde(default)]
            destroyed: bool,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Meta,
        }
        let what = format!("Vault metadata of {}/{name}", self.path);
        let resp = self.request(&what, Method::Get, self.url("metadata", Some(name)), None)?;
        if resp.status == 404 {
            return Ok(None);
        }
        let meta: Meta = serde_json::from_slice::<Answer>(&resp.body)
            .map_err(|_| RemoteError::Refused(format!("{what}: an answer this cannot read")))?
            .data;
        let custom = meta.custom_metadata.unwrap_or_default();
        let live =
            |v: u64| meta.versions.get(&v.to_string()).is_some_and(|m| m.deletion_time.is_empty() && !m.destroyed);
        let number = |key: &str| {
            custom.get(key).and_then(|v| v.parse::<u64>().ok()).filter(|v| *v >= 1 && *v <= meta.current_version)
        };
        let mut entry = Entry { name: name.to_owned(), cas: meta.current_version, ..Entry::default() };
        let ours = number(stage_key(Stage::Current));
        let newest_ours = ours.max(number(stage_key(Stage::Pending)));
        if newest_ours == Some(meta.current_version) {
            // Keyward wrote the latest version: the stages are as it recorded them.
            for stage in [Stage::Current, Stage::Pending, Stage::Previous] {
                if let Some(v) = number(stage_key(stage)).filter(|v| live(*v)) {
                    entry.stages.insert(stage.as_str(), v.to_string());
                    if let Some(t) = custom.get(&format!("{}-token", stage_key(stage))) {
                        entry.tokens.insert(stage.as_str(), t.clone());
                    }
                }
            }
        } else if live(meta.current_version) {
            // Someone else wrote after keyward: their version is current.
            entry.stages.insert(Stage::Current.as_str(), meta.current_version.to_string());
            if let Some(v) = ours.filter(|v| live(*v)) {
                entry.stages.insert(Stage::Previous.as_str(), v.to_string());
            }
        }
        let stage_keys = ["keyward-current", "keyward-pending", "keyward-previous"];
        let (ours, foreign): (BTreeMap<_, _>, BTreeMap<_, _>) =
            custom.into_iter().partition(|(k, _)| super::tag::is_keyward(k));
        entry.tags = ours.into_iter().filter(|(k, _)| !stage_keys.iter().any(|s| k.starts_with(s))).collect();
        entry.foreign = foreign;
        Ok(Some(entry))
    }
}

/// The `errors` of a Vault error answer, on one line.
fn errors(resp: &Response) -> String {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    let e: Errors = serde_json::from_slice(&resp.body).unwrap_or(Errors { errors: Vec::new() });
    crate::sanitize::sanitize(&e.errors.join("; "))
}

impl Kv {
    /// The string `field` of the secret at this client's path (a reference: any secret), at
    /// `version` or the latest.
    pub fn read(&self, field: &str, version: Option<u64>) -> Result<SecretValue, RemoteError> {
        #[derive(Deserialize)]
        struct Data {
            data: Option<BTreeMap<String, serde_json::Value>>,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Data,
        }
        let mut url = self.url("data", None);
        if let Some(v) = version {
            url.set_query(Some(&format!("version={v}")));
        }
        let what = format!("Vault read of {}/{}", self.mount, self.path);
        let resp = self.request(&what, Method::Get, url, None)?;
        if resp.status == 404 {
            return Err(RemoteError::Refused(format!("{what}: not found")));
        }
        let answer: Answer = serde_json::from_slice(&resp.body)
            .map_err(|_| RemoteError::Refused(format!("{what}: an answer this cannot read")))?;
        match answer.data.data.as_ref().and_then(|d| d.get(field)) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(SecretValue::new(s.clone())),
            Some(_) => Err(RemoteError::Refused(format!("{what}: the field {field} is not a string"))),
            None => Err(RemoteError::Refused(format!("{what}: no field {field}"))),
        }
    }
}

impl Backend for Kv {
    fn drop_pending(&self, entry: &Entry) -> Result<(), RemoteError> {
        if entry.id_of(Stage::Pending).is_none() {
            return Ok(());
        }
        let mut custom = entry.foreign.clone();
        custom.extend(entry.tags.clone());
        for stage in [Stage::Current, Stage::Previous] {
            if let Some(v) = entry.id_of(stage) {
                custom.insert(format!("keyward-{}", stage.as_str()), v.to_owned());
            }
            if let Some(t) = entry.token_of(stage) {
                custom.insert(format!("keyward-{}-token", stage.as_str()), t.to_owned());
            }
        }
        let what = format!("Vault metadata of {}/{}", self.path, entry.name);
        let body = http::json_body(&serde_json::json!({ "custom_metadata": custom }), 0);
        self.request(&what, Method::Post, self.url("metadata", Some(&entry.name)), Some(&body)).map(drop)
    }

    fn list(&self) -> Result<Vec<Entry>, RemoteError> {
        #[derive(Deserialize)]
        struct Keys {
            keys: Vec<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Keys,
        }
        let what = format!("Vault list of {}", self.path);
        let resp = self.request(&what, Method::List, self.url("metadata", None), None)?;
        if resp.status == 404 {
            return Ok(Vec::new());
        }
        let keys = serde_json::from_slice::<Answer>(&resp.body)
            .map_err(|_| RemoteError::Refused(format!("{what}: an answer this cannot read")))?
            .data
            .keys;
        let names: Vec<String> = keys.into_iter().filter(|k| keyward_name(k)).collect();
        let mut entries = Vec::with_capacity(names.len());
        for r in super::parallel(&names, super::CONCURRENCY, |n| self.metadata(n)) {
            entries.extend(r?);
        }
        Ok(entries)
    }

    fn describe(&self, name: &str) -> Result<Option<Entry>, RemoteError> {
        self.metadata(name)
    }

    fn fetch(&self, entry: &Entry, stage: Stage) -> Result<Option<SecretValue>, RemoteError> {
        #[derive(Deserialize)]
        struct Fields {
            value: Option<http::WireValue>,
        }
        #[derive(Deserialize)]
        struct Data {
            data: Option<Fields>,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Data,
        }
        let Some(version) = entry.id_of(stage) else { return Ok(None) };
        let mut url = self.url("data", Some(&entry.name));
        url.set_query(Some(&format!("version={version}")));
        let what = format!("Vault read of {}/{}", self.path, entry.name);
        let resp = self.request(&what, Method::Get, url, None)?;
        if resp.status == 404 {
            return Ok(None);
        }
        let answer: Answer = serde_json::from_slice(&resp.body)
            .map_err(|_| RemoteError::Refused(format!("{what}: an answer this cannot read")))?;
        match answer.data.data.and_then(|f| f.value).map(|w| w.0) {
            Some(v) if !v.is_empty() && v.len() <= SecretValue::MAX_LEN => Ok(Some(v)),
            Some(_) => Err(RemoteError::Refused(format!("{what}: the value is empty or larger than 64 KiB"))),
            None => {
                Err(RemoteError::Refused(format!("{what}: no field `value` (keyward reads and writes that field)")))
            }
        }
    }

    fn push(&self, push: &Push<'_>) -> Result<Entry, RemoteError> {
        #[derive(Serialize)]
        struct Options {
            cas: u64,
        }
        #[derive(Serialize)]
        struct Fields<'a> {
            value: &'a str,
        }
        #[derive(Serialize)]
        struct Write<'a> {
            options: Options,
            data: Fields<'a>,
        }
        #[derive(Deserialize)]
        struct Written {
            version: u64,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Written,
        }
        let what = format!("Vault write of {}/{}", self.path, push.name);
        let mut cas = push.seen.map_or(0, |e| e.cas);
        let mut stages: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
        for up in &push.versions {
            if up.stage == Stage::Current && !push.write_current {
                continue;
            }
            // A version the store has (a pending one promoted here) is only re-labelled.
            let had = push.seen.and_then(|s| {
                [Stage::Current, Stage::Pending, Stage::Previous]
                    .into_iter()
                    .find(|st| s.token_of(*st) == Some(up.token.as_str()))
                    .and_then(|st| s.id_of(st))
            });
            if let Some(version) = had {
                stages.insert(up.stage.as_str(), (version.to_owned(), up.token.clone()));
                continue;
            }
            // History the store never had is not written.
            if push.seen.is_some() && up.stage == Stage::Previous {
                continue;
            }
            let body = http::json_body(
                &Write { options: Options { cas }, data: Fields { value: up.value.expose() } },
                up.value.len() * 6,
            );
            let resp = self.request(&what, Method::Post, self.url("data", Some(push.name)), Some(&body))?;
            cas = serde_json::from_slice::<Answer>(&resp.body)
                .map_err(|_| RemoteError::Refused(format!("{what}: an answer this cannot read")))?
                .data
                .version;
            stages.insert(up.stage.as_str(), (cas.to_string(), up.token.clone()));
        }
        if let Some(seen) = push.seen {
            let kept =
                |stage: Stage| seen.id_of(stage).map(|v| (v.to_owned(), seen.token_of(stage).unwrap_or("").to_owned()));
            let moved = stages.get(Stage::Current.as_str()).map(|(v, _)| v.as_str()) != seen.current();
            match stages.contains_key(Stage::Current.as_str()) {
                // A new current: the old one is previous, and an old pending is gone.
                true if moved => {
                    if let Some(old) = kept(Stage::Current) {
                        stages.insert(Stage::Previous.as_str(), old);
                    }
                }
                true => {
                    for stage in [Stage::Previous, Stage::Pending] {
                        if let Some(k) = kept(stage) {
                            stages.entry(stage.as_str()).or_insert(k);
                        }
                    }
                }
                false => {
                    for stage in [Stage::Current, Stage::Previous, Stage::Pending] {
                        if let Some(k) = kept(stage) {
                            stages.entry(stage.as_str()).or_insert(k);
                        }
                    }
                }
            }
        }
        // The whole map is replaced by a write: other tools' keys are written back as they were.
        let mut custom: BTreeMap<String, String> = push.seen.map(|s| s.foreign.clone()).unwrap_or_default();
        custom.extend(push.tags.iter().cloned());
        for (stage, (version, token)) in &stages {
            custom.insert(format!("keyward-{stage}"), version.clone());
            if !token.is_empty() {
                custom.insert(format!("keyward-{stage}-token"), token.clone());
            }
        }
        let body = http::json_body(&serde_json::json!({ "custom_metadata": custom }), 0);
        self.request(&what, Method::Post, self.url("metadata", Some(push.name)), Some(&body))?;
        self.metadata(push.name)?.ok_or_else(|| RemoteError::Refused(format!("{what}: not there after writing it")))
    }
}
