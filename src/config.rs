//! The user's config file: `KEYWARD_CONFIG`, else `$XDG_CONFIG_HOME/keyward/config.toml`
//! (`~/.config/keyward/config.toml`). A missing file is an empty config. Only commands that need
//! it read it, so `get` never pays for it.
//!
//! ```toml
//! [providers.github]                 # override one field of a built-in provider
//! base_url = "https://github.example.com/api/v3"
//!
//! [providers.acme]                   # or add a provider, with the built-in schema
//! name = "Acme"
//! [[providers.acme.patterns]]
//! kind = "API key"
//! regex = '(?P<prefix>acme_)[a-z0-9]{32}'
//! max_len = 37
//!
//! [rotation]
//! grace = "30d"                      # how long a previous version keeps working
//!
//! [validate]
//! timeout = "10s"                    # per request
//! concurrency = 16
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::parse;
use crate::providers::{ProviderDef, Registry, Source, ordered::Ordered};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    providers: Option<Ordered<ProviderDef>>,
    #[serde(default)]
    rotation: Rotation,
    #[serde(default)]
    validate: Validate,
    #[serde(default)]
    audit: AuditSection,
    #[serde(default)]
    notify: Option<NotifySettings>,
    #[serde(default)]
    exec: ExecSection,
    #[serde(default)]
    members: MembersSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MembersSection {
    /// A vault with new members since this machine last looked is an error until
    /// `keyward member accept`.
    #[serde(default)]
    strict: bool,
    /// The age plugins this user lets keyward run to wrap keys for members whose key is a
    /// plugin's (`age1yubikey1…`): a vault names recipients, the user decides what runs.
    #[serde(default)]
    plugins: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExecSection {
    /// Variables that change how programs start (PATH, BASH_ENV, LD_*, ...) this user allows
    /// keyward to store and hand out.
    #[serde(default)]
    allow_vars: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditSection {
    /// Bytes, or a size such as "10MB".
    max_segment: Option<toml::Value>,
    unused_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rotation {
    grace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Validate {
    timeout: Option<String>,
    concurrency: Option<usize>,
}

/// The config, checked: every duration parsed, every provider compiled.
pub struct Config {
    pub path: PathBuf,
    /// The built-in providers with this config's overrides, compiled.
    registry: Registry,
    /// Seconds a previous version stays usable after a rotation.
    pub grace: u64,
    pub timeout: std::time::Duration,
    pub concurrency: usize,
    /// Audit log segment size, bytes.
    pub max_segment: u64,
    /// Days without use before `audit report` flags a key.
    pub unused_days: u32,
    pub notify: NotifySettings,
    /// `[exec] allow_vars`: start-up variables this user lets keyward store and hand out.
    pub allow_vars: Vec<String>,
    /// `[members] strict`: new members are an error until `keyward member accept`.
    pub strict_members: bool,
    /// `[members] plugins`: the age plugins keyward may run (see `vault::v2::plugin`).
    pub plugins: Vec<String>,
}

pub const DEFAULT_GRACE: u64 = 30 * 86_400;
/// Bytes after which the audit log starts a new segment (`[audit] max_segment`).
pub const DEFAULT_MAX_SEGMENT: u64 = 10 * 1024 * 1024;

/// `[notify]`: where notifications go (see [`crate::notify`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// `slack` (default) or `json`.
    pub format: Option<String>,
    pub command: Option<String>,
}

impl NotifySettings {
    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.command.is_none()
    }

    /// Checks the URLs and the format when the config is loaded.
    pub fn check(&self) -> std::result::Result<(), String> {
        for url in &self.webhooks {
            crate::providers::check::endpoint(url, "")?;
        }
        match self.format.as_deref() {
            None | Some("slack" | "json") => Ok(()),
            Some(other) => Err(format!("format {other:?}: expected \"slack\" or \"json\"")),
        }
    }
}

/// `KEYWARD_CONFIG`, else `$XDG_CONFIG_HOME/keyward/config.toml`.
pub fn path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KEYWARD_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    Ok(crate::paths::config_dir()?.join("config.toml"))
}

/// The config file, if it may be trusted: the user's (or root's), in a directory of the user's,
/// writable by no one else. A config can run commands (`[notify] command`) and send keys to
/// other hosts (`base_url`).
fn checked_path() -> Result<PathBuf> {
    let path = path()?;
    if std::env::var_os("KEYWARD_CONFIG").is_none_or(|p| p.is_empty()) {
        crate::paths::check_own(&crate::paths::config_dir()?)?;
    }
    crate::paths::check_own(&path)?;
    Ok(path)
}

impl Config {
    pub fn load() -> Result<Config> {
        let path = checked_path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(config_error(&path, None, "(file)", "the file is not UTF-8 text"));
            }
            Err(e) => return Err(Error::io("cannot read config", &path, e)),
        };
        Config::parse(path, text)
    }

    pub fn parse(path: PathBuf, text: String) -> Result<Config> {
        let file: File = toml::from_str(&text).map_err(|e| {
            let (line, field) = locate(&text, e.span());
            config_error(&path, line, &field, e.message())
        })?;
        let duration = |field: &str, value: &Option<String>, default: u64| -> Result<u64> {
            match value {
                None => Ok(default),
                Some(v) => parse::duration(v)
                    .map_err(|reason| config_error(&path, find_line(&text, v), field, &format!("{v:?}: {reason}"))),
            }
        };
        let grace = duration("rotation.grace", &file.rotation.grace, DEFAULT_GRACE)?;
        let timeout = duration("validate.timeout", &file.validate.timeout, 10)?;
        let concurrency = file.validate.concurrency.unwrap_or(16);
        if !(1..=256).contains(&concurrency) {
            return Err(config_error(&path, find_line(&text, "concurrency"), "validate.concurrency", "use 1 to 256"));
        }
        let max_segment = match &file.audit.max_segment {
            None => DEFAULT_MAX_SEGMENT,
            Some(v) => size(v).ok_or_else(|| {
                config_error(
                    &path,
                    find_line(&text, "max_segment"),
                    "audit.max_segment",
                    "expected bytes or a size such as \"10MB\"",
                )
            })?,
        };
        for (i, var) in file.exec.allow_vars.iter().enumerate() {
            if let Err(reason) = crate::vault::secret::validate_var(var) {
                return Err(config_error(&path, find_line(&text, var), &format!("exec.allow_vars[{i}]"), reason));
            }
        }
        // Compiled once, here: a bad provider definition is reported now, by file, line and field.
        let providers = file.providers.map(|o| o.0).unwrap_or_default();
        let shown = path.display().to_string();
        let registry = Registry::load(&providers, Some(&Source { path: &shown, text: &text }))?;
        let notify = file.notify.unwrap_or_default();
        notify.check().map_err(|r| config_error(&path, find_line(&text, "[notify]"), "notify", &r))?;
        Ok(Config {
            allow_vars: file.exec.allow_vars,
            strict_members: file.members.strict,
            plugins: file.members.plugins,
            max_segment,
            unused_days: file.audit.unused_days.unwrap_or(30),
            notify,
            registry,
            path,
            grace,
            timeout: std::time::Duration::from_secs(timeout),
            concurrency,
        })
    }

    /// The provider registry: the built-in providers with this config's overrides.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Config {
    /// Refuses a variable that changes how programs start ([`crate::vault::secret::is_startup_var`])
    /// unless this user allowed it, on the command line (`flags`) or in this config. `action` says
    /// what would happen to it ("store", "hand out").
    pub fn check_startup_var(&self, var: &str, flags: &[String], action: &'static str) -> Result<()> {
        let allowed = flags.iter().chain(&self.allow_vars).any(|a| a == var);
        if crate::vault::secret::is_startup_var(var) && !allowed {
            return Err(Error::StartupVar { var: var.to_owned(), action });
        }
        Ok(())
    }
}

impl Config {
    /// The audit segment size, for every audited command: a missing or invalid config gives the
    /// default (a broken config is reported by the commands that need it, not by `get`).
    pub fn load_audit_settings() -> u64 {
        // On every `get`: no registry, just the file's [audit] table when there is a file.
        let Some(text) = checked_path().ok().and_then(|p| std::fs::read_to_string(p).ok()) else {
            return DEFAULT_MAX_SEGMENT;
        };
        toml::from_str::<File>(&text)
            .ok()
            .and_then(|f| f.audit.max_segment.as_ref().and_then(size))
            .unwrap_or(DEFAULT_MAX_SEGMENT)
    }
}

/// `1048576`, `"10MB"`, `"512KB"`, `"1GB"`.
fn size(v: &toml::Value) -> Option<u64> {
    match v {
        toml::Value::Integer(n) if *n > 0 => Some(*n as u64),
        toml::Value::String(s) => {
            let s = s.trim().to_ascii_uppercase();
            let (num, mult) = if let Some(n) = s.strip_suffix("GB") {
                (n, 1 << 30)
            } else if let Some(n) = s.strip_suffix("MB") {
                (n, 1 << 20)
            } else if let Some(n) = s.strip_suffix("KB") {
                (n, 1 << 10)
            } else {
                (s.as_str(), 1)
            };
            num.trim().parse::<u64>().ok().filter(|n| *n > 0).map(|n| n * mult)
        }
        _ => None,
    }
}

fn config_error(path: &Path, line: Option<usize>, field: &str, reason: &str) -> Error {
    Error::Config { path: path.display().to_string(), line, field: field.to_owned(), reason: reason.to_owned() }
}

fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.find(needle).map(|at| text[..at].matches('\n').count() + 1)
}

/// The line of an error span, and the dotted name of the key on that line (`providers.x.name`).
fn locate(text: &str, span: Option<std::ops::Range<usize>>) -> (Option<usize>, String) {
    let Some(span) = span else { return (None, "(file)".into()) };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let mut table = String::new();
    for l in text[..start].lines() {
        let l = l.trim();
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_owned();
        }
    }
    let this_line = text[start..].lines().next().unwrap_or("");
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let whole_line = &text[line_start..start + this_line.len()];
    let key = whole_line.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_owned());
    let field = match (table.is_empty(), key) {
        (_, Some(k)) if whole_line.trim_start().starts_with('[') => k,
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{table}.{k}"),
        (false, None) => table,
        (true, None) => "(file)".into(),
    };
    (Some(line), field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse("/home/u/.config/keyward/config.toml".into(), text.into())
    }

    #[test]
    fn empty_config_has_defaults() {
        let c = parse("").unwrap();
        assert_eq!((c.grace, c.concurrency, c.timeout.as_secs()), (DEFAULT_GRACE, 16, 10));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases = [
            ("[rotation]\ngrace = \"soon\"\n", 2, "rotation.grace"),
            ("[validate]\nconcurrency = 0\n", 2, "validate.concurrency"),
            ("\n[providers.stripe]\nbase_urll = \"https://x\"\n", 3, "providers.stripe.base_urll"),
            ("[providers.acme]\nname = 3\n", 2, "providers.acme.name"),
            ("[providers.acme]\nkeywords = []\n", 1, "providers.acme.name"),
        ];
        for (text, line, field) in cases {
            match parse(text) {
                Err(Error::Config { line: l, field: f, path, .. }) => {
                    assert_eq!((l, f.as_str()), (Some(line), field), "{text}");
                    assert!(path.ends_with("config.toml"));
                }
                Err(other) => panic!("{text}: {other}"),
                Ok(_) => panic!("{text}: accepted"),
            }
        }
    }

    #[test]
    fn user_providers_are_added() {
        let c = parse("[providers.acme]\nname = \"Acme\"\n[[providers.acme.patterns]]\nkind = \"key\"\nregex = '(?P<prefix>acme_)[a-z0-9]{32}'\nmax_len = 37\nexamples = []\nnot = []\n").unwrap();
        let r = c.registry();
        let value = format!("acme_{}", "a1".repeat(16));
        assert_eq!(r.detect(&value).unwrap().0.id, "acme");
    }
}
