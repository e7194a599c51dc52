//! The registry's schema: a provider and its patterns and checks as written in TOML, in
//! `builtin.toml` and in the user's config, before they are compiled.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One provider as written in TOML. Every field is optional so a config file can override a
/// single field of a built-in provider; a new provider needs at least a name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderDef {
    pub name: Option<String>,
    pub keywords: Option<Vec<String>>,
    pub base_url: Option<String>,
    pub live: Option<Vec<String>>,
    pub test: Option<Vec<String>>,
    pub rotation_hint: Option<String>,
    pub revoke_path: Option<String>,
    pub generate: Option<bool>,
    pub patterns: Option<Vec<PatternDef>>,
    pub checks: Option<Vec<Check>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternDef {
    pub kind: String,
    pub regex: String,
    pub max_len: usize,
    #[serde(default)]
    pub near_keyword: bool,
    /// Found by `scan`, not hidden by `mask` and `exec`: a credential in a file format's own
    /// syntax (`.npmrc`, NuGet.config, Docker's config.json) that logs rarely print, kept out of
    /// the mask engine's literal searches, whose passes over every byte it would add to.
    #[serde(default)]
    pub scan_only: bool,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub not: Vec<String>,
    /// The named group that holds the secret itself (a connection string's `password`), when
    /// the match holds more than the secret: a match whose group is a placeholder is no finding.
    #[serde(default)]
    pub secret_group: Option<String>,
    /// Values of `secret_group` that are defaults or placeholders, not secrets (compared without
    /// case); `{user}` stands for the match's `user` group (`postgres:postgres@`).
    #[serde(default)]
    pub placeholders: Vec<String>,
}

#[cfg(test)]
impl PatternDef {
    /// A pattern as a config file could give it, with no examples.
    pub(crate) fn new(kind: &str, regex: &str, max_len: usize) -> PatternDef {
        PatternDef {
            kind: kind.into(),
            regex: regex.into(),
            max_len,
            near_keyword: false,
            scan_only: false,
            examples: vec![],
            not: vec![],
            secret_group: None,
            placeholders: vec![],
        }
    }
}

/// How a check sends the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// `Authorization: Bearer <key>`
    Bearer,
    /// `<header>: <value>`, where value is a template (default `{key}`)
    Header,
    /// `?<query>=<key>`
    Query,
    /// HTTP Basic with `username` / `password` templates
    Basic,
    /// AWS Signature Version 4 (STS GetCallerIdentity)
    AwsSigv4,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Head,
}

/// One online health check (the seed's "test suites": authentication, read permission, ...).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub method: Method,
    pub path: String,
    pub auth: Auth,
    pub header: Option<String>,
    pub value: Option<String>,
    pub query: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// Only for keys of these pattern kinds (empty: all).
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub valid: Vec<u16>,
    #[serde(default)]
    pub invalid: Vec<u16>,
    /// For APIs that answer 200 to everything: a JSON boolean field that says whether the key worked.
    pub json_ok: Option<String>,
    /// Error codes (the JSON `error` field, or text in the body) that mean the key is invalid.
    #[serde(default)]
    pub invalid_errors: Vec<String>,
    /// A response header listing the key's scopes, copied into the secret's metadata.
    pub scopes_header: Option<String>,
    /// A response header giving the key's expiry, copied into the secret's metadata.
    pub expiry_header: Option<String>,
}

impl Check {
    /// Whether the check needs the value of a paired secret.
    pub fn needs_pair(&self) -> bool {
        self.auth == Auth::AwsSigv4
            || [&self.value, &self.username, &self.password, &self.body]
                .into_iter()
                .flatten()
                .any(|t| t.contains("{paired}"))
    }
}
