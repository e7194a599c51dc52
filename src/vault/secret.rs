//! A secret as stored in the vault: its name, variable, environment, metadata and versions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sensitive::SecretValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Current,
    Pending,
    Previous,
    Revoked,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Current => "current",
            Stage::Pending => "pending",
            Stage::Previous => "previous",
            Stage::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub count: u64,
    pub per_secs: u64,
}

/// Keys of [`Metadata::ext`]: metadata added after format version 1, kept in its open map.
pub mod ext {
    /// The secret holding the other half of a two-part credential.
    pub const PAIRED_WITH: &str = "paired_with";
    /// The remote this secret is linked to (`--remote`): `rotate` reaches it too. (Sync records
    /// are `remote.NAME`, see `crate::remote::sync`.)
    pub const REMOTE: &str = "remote";
    /// This secret's grace period after a rotation, in seconds.
    pub const GRACE: &str = "grace";
    /// The last online check: verdict, unix time, one-line detail.
    pub const CHECK_VERDICT: &str = "check.verdict";
    pub const CHECK_AT: &str = "check.at";
    pub const CHECK_DETAIL: &str = "check.detail";
    /// Set when the secret was revoked as compromised: no rollback to a leaked value.
    pub const COMPROMISED: &str = "compromised";
    /// `<unix time> <member>`: a member who could read this secret was removed (or lost its
    /// environment) then. Until the current value is newer, the secret is due for rotation.
    pub const EXPOSED: &str = "exposed";

    /// How version `id` was verified before promotion (online, format, skipped, forced).
    pub fn verified(id: u32) -> String {
        format!("v{id}.verified")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub provider: Option<String>,
    /// Unix seconds.
    pub expires: Option<i64>,
    /// Seconds; `None` means the secret is never due for rotation.
    pub rotate_every: Option<u64>,
    pub scopes: Vec<String>,
    pub allow_ips: Vec<String>,
    pub allow_origins: Vec<String>,
    pub rate_limit: Option<RateLimit>,
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub created: i64,
    pub updated: i64,
    /// Room for later features (last check verdict, paired secret, ...) without a format change.
    pub ext: BTreeMap<String, String>,
}

impl Metadata {
    /// Rotation every 90 days unless the user says otherwise.
    pub const DEFAULT_ROTATE_EVERY: u64 = 90 * 86_400;

    pub fn new(now: i64) -> Self {
        Metadata {
            provider: None,
            expires: None,
            rotate_every: Some(Self::DEFAULT_ROTATE_EVERY),
            scopes: Vec::new(),
            allow_ips: Vec::new(),
            allow_origins: Vec::new(),
            rate_limit: None,
            tags: Vec::new(),
            note: None,
            created: now,
            updated: now,
            ext: Default::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub id: u32,
    pub value: SecretValue,
    pub created: i64,
    pub stage: Stage,
    /// When the version entered its stage.
    pub stage_since: i64,
    /// For a `previous` version: when its grace period ends.
    pub grace_until: Option<i64>,
}

/// The encrypted part of a record: everything but the name, variable and environment, which sit
/// in the record itself so lookups and conflict checks need not decode bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    pub meta: Metadata,
    pub versions: Vec<Version>,
    pub next_version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub var: String,
    pub env: Option<String>,
    pub body: Body,
}

/// Which version `get --version` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Stage(Stage),
    Id(u32),
}

impl std::str::FromStr for VersionSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "current" => VersionSelector::Stage(Stage::Current),
            "previous" => VersionSelector::Stage(Stage::Previous),
            "pending" => VersionSelector::Stage(Stage::Pending),
            _ => VersionSelector::Id(
                s.parse().map_err(|_| "expected current, previous, pending or a version number".to_string())?,
            ),
        })
    }
}

impl std::fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionSelector::Stage(stage) => f.write_str(stage.as_str()),
            VersionSelector::Id(id) => write!(f, "#{id}"),
        }
    }
}

impl Secret {
    pub fn new(name: String, var: String, env: Option<String>, meta: Metadata, value: SecretValue, now: i64) -> Self {
        Secret {
            name,
            var,
            env,
            body: Body {
                meta,
                versions: vec![Version {
                    id: 1,
                    value,
                    created: now,
                    stage: Stage::Current,
                    stage_since: now,
                    grace_until: None,
                }],
                next_version: 2,
            },
        }
    }

    pub fn version(&self, selector: VersionSelector) -> Option<&Version> {
        match selector {
            VersionSelector::Id(id) => self.body.versions.iter().find(|v| v.id == id),
            VersionSelector::Stage(stage) => self.body.versions.iter().rev().find(|v| v.stage == stage),
        }
    }

    pub fn current(&self) -> Option<&Version> {
        self.version(VersionSelector::Stage(Stage::Current))
    }

    /// Whether the secret was revoked as compromised (no rollback to a leaked value).
    pub fn compromised(&self) -> bool {
        self.body.meta.ext.contains_key(ext::COMPROMISED)
    }

    /// The version `selector` names, if its value may leave keyward at `now`. A revoked version
    /// never does (only `mask` and `scan` use revoked values, to hide them), and a secret with no
    /// current version was revoked: both are [`Error::Revoked`](crate::error::Error::Revoked). A
    /// previous version past its grace period is as good as revoked (the next write revokes it).
    pub fn usable(&self, selector: VersionSelector, now: i64) -> crate::error::Result<&Version> {
        use crate::error::Error;
        match self.version(selector) {
            Some(v) if v.stage == Stage::Revoked => {
                Err(Error::Revoked { name: self.name.clone(), compromised: self.compromised(), version: Some(v.id) })
            }
            Some(v) if v.stage == Stage::Previous && v.grace_until.is_some_and(|t| t <= now) => {
                Err(Error::GraceEnded { name: self.name.clone(), version: v.id, at: v.grace_until.unwrap_or(now) })
            }
            Some(v) => Ok(v),
            None if selector == VersionSelector::Stage(Stage::Current)
                && (self.compromised() || self.body.versions.iter().any(|v| v.stage == Stage::Revoked)) =>
            {
                Err(Error::Revoked { name: self.name.clone(), compromised: self.compromised(), version: None })
            }
            None => Err(Error::VersionNotFound { name: self.name.clone(), version: selector.to_string() }),
        }
    }
}

/// Secret names: 1-128 of `[A-Za-z0-9._/-]`, starting with a letter or digit, with no empty, `.`
/// or `..` path segment.
pub fn validate_name(name: &str) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 128 {
        return Err("it must be 1 to 128 characters long");
    }
    // One pass over the bytes (a vault of 100,000 records validates every name it reads): the
    // character set, and each segment between slashes.
    let mut bad_char = false;
    let mut bad_segment = false;
    let mut segment_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        bad_char |= !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
        if b == b'/' {
            bad_segment |= matches!(&bytes[segment_start..i], b"" | b"." | b"..");
            segment_start = i + 1;
        }
    }
    bad_segment |= matches!(&bytes[segment_start..], b"" | b"." | b"..");
    if bad_char {
        return Err("it may only contain letters, digits, '.', '_', '-' and '/'");
    }
    if !bytes[0].is_ascii_alphanumeric() {
        return Err("it must start with a letter or digit");
    }
    if bad_segment {
        return Err("it may not contain an empty, '.' or '..' segment");
    }
    Ok(())
}

/// [`validate_name`] as the crate's error, for commands.
pub fn check_name(name: &str) -> crate::error::Result<()> {
    validate_name(name).map_err(|reason| crate::error::Error::InvalidName { name: name.to_owned(), reason })
}

/// The default environment variable for a secret: its name upper-cased, other characters to `_`.
pub fn default_var(name: &str) -> String {
    let var: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if var.starts_with(|c: char| c.is_ascii_digit()) { format!("_{var}") } else { var }
}

pub fn validate_var(var: &str) -> Result<(), &'static str> {
    let bytes = var.as_bytes();
    let first_ok = bytes.first().is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_');
    if !first_ok || !bytes.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_') || bytes.len() > 128 {
        return Err("an environment variable name is a letter or '_' followed by letters, digits or '_'");
    }
    if var.starts_with("KEYWARD_") {
        return Err("KEYWARD_* variables are reserved for keyward itself");
    }
    Ok(())
}

/// Variables that change how programs start or load code: a value in one of them runs in every
/// program of an `exec`, or in the shell that evals an `export`. Whoever can write a vault must
/// not be able to set one for its readers, so storing one needs the writer's permission and
/// handing one out needs the reader's (`--allow-var`, or `[exec] allow_vars` in one's own config).
pub const STARTUP_VARS: &[&str] = &[
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "BASHOPTS",
    "BASH_ENV",
    "BROWSER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CDPATH",
    "CORECLR_PROFILER_PATH",
    "DOCKER_CONFIG",
    "DOTNET_STARTUP_HOOKS",
    "EDITOR",
    "ENV",
    "GCONV_PATH",
    "GOFLAGS",
    "HOME",
    "HOSTALIASES",
    "IFS",
    "_JAVA_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "KUBECONFIG",
    "LESSCLOSE",
    "LESSOPEN",
    "LUA_INIT",
    "MANPAGER",
    "NODE_OPTIONS",
    "NODE_PATH",
    "NPM_CONFIG_NODE_OPTIONS",
    "NPM_CONFIG_SCRIPT_SHELL",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "PAGER",
    "PATH",
    "PERL5DB",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "PROMPT_COMMAND",
    "PS1",
    "PS4",
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "RUBYLIB",
    "RUBYOPT",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "SHELLOPTS",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "VISUAL",
    "XDG_CONFIG_HOME",
    "ZDOTDIR",
];

/// Prefixes of whole families of such variables (the dynamic loader's, git's, npm's lower-case
/// config, which can name a script shell or node options).
pub const STARTUP_PREFIXES: &[&str] = &["LD_", "DYLD_", "GIT_", "npm_config_"];

/// Whether `var` changes how programs start or load code ([`STARTUP_VARS`], [`STARTUP_PREFIXES`]).
pub fn is_startup_var(var: &str) -> bool {
    STARTUP_VARS.contains(&var) || STARTUP_PREFIXES.iter().any(|p| var.starts_with(p))
}

/// Environments as stored: 1-32 of `[a-z0-9_-]`, starting with a letter (the normal form
/// [`crate::parse::environment`] gives what users type).
pub fn validate_env(env: &str) -> Result<(), &'static str> {
    let ok = !env.is_empty()
        && env.len() <= 32
        && env.starts_with(|c: char| c.is_ascii_lowercase())
        && env.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err("an environment is 1-32 lower-case letters, digits, '-' or '_'") }
}

/// Checks the clear fields of a record read back from a vault: whoever wrote the file may not be
/// whoever reads it, and these fields end up in shell code (`export --format shell`), workflow
/// files and environments. Returns which field is wrong and why.
pub fn validate_record_fields(name: &str, var: &str, env: Option<&str>) -> Result<(), String> {
    validate_name(name).map_err(|r| format!("its name is not valid ({r})"))?;
    validate_var(var).map_err(|r| format!("its variable is not valid ({r})"))?;
    if let Some(env) = env {
        validate_env(env).map_err(|r| format!("its environment is not valid ({r})"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "stripe/live", "A.b_c-d", "9lives", &"x".repeat(128)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "/a", "a/", "a//b", "a/../b", "a/./b", "a b", "a\u{1b}[31m", "é", &"x".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_vars() {
        assert_eq!(default_var("stripe/live-key.v2"), "STRIPE_LIVE_KEY_V2");
        assert_eq!(default_var("1password"), "_1PASSWORD");
        assert!(validate_var(&default_var("9a/b")).is_ok());
        assert!(validate_var("KEYWARD_VAULT_KEY").is_err());
        assert!(validate_var("1A").is_err());
    }

    #[test]
    fn variable_names_are_shell_identifiers_of_at_most_128_characters() {
        for good in ["_", "A", "a1", "STRIPE_KEY", &format!("A{}", "_".repeat(127))] {
            assert_eq!(validate_var(good), Ok(()), "{good}");
        }
        for bad in ["", "A-B", "A B", "É", "_é", &format!("A{}", "_".repeat(128))] {
            assert!(validate_var(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("a b").unwrap_err().to_string().contains("a b"));
    }

    #[test]
    fn a_new_secret_has_one_current_version_and_the_default_policy() {
        let meta = Metadata::new(100);
        assert_eq!((meta.created, meta.updated, meta.rotate_every), (100, 100, Some(90 * 86_400)));
        assert!(meta.provider.is_none() && meta.expires.is_none() && meta.ext.is_empty());
        let secret = Secret::new("a".into(), "A".into(), None, meta, SecretValue::new("v".into()), 200);
        let current = secret.current().unwrap();
        assert_eq!((current.id, current.stage, current.created, current.stage_since), (1, Stage::Current, 200, 200));
        assert_eq!(secret.body.next_version, 2);
        assert_eq!(ext::verified(current.id), "v1.verified");
    }

    #[test]
    fn a_stage_selects_its_latest_version_and_an_id_its_own() {
        let mut secret = Secret::new("a".into(), "A".into(), None, Metadata::new(0), SecretValue::new("v".into()), 0);
        let version = |id, stage| Version {
            id,
            value: SecretValue::new(format!("v{id}")),
            created: 0,
            stage,
            stage_since: 0,
            grace_until: None,
        };
        secret.body.versions =
            vec![version(1, Stage::Previous), version(2, Stage::Previous), version(3, Stage::Current)];
        let id = |selector| secret.version(selector).map(|v| v.id);
        assert_eq!(id(VersionSelector::Stage(Stage::Previous)), Some(2));
        assert_eq!(id(VersionSelector::Stage(Stage::Current)), Some(3));
        assert_eq!(id(VersionSelector::Stage(Stage::Pending)), None);
        assert_eq!(id(VersionSelector::Id(1)), Some(1));
        assert_eq!(id(VersionSelector::Id(4)), None);
        let stages = [Stage::Current, Stage::Pending, Stage::Previous, Stage::Revoked].map(Stage::as_str);
        assert_eq!(stages, ["current", "pending", "previous", "revoked"]);
        assert_eq!(VersionSelector::Id(3).to_string(), "#3");
        assert_eq!(VersionSelector::Stage(Stage::Pending).to_string(), "pending");
    }

    #[test]
    fn version_selectors() {
        assert_eq!("previous".parse(), Ok(VersionSelector::Stage(Stage::Previous)));
        assert_eq!("current".parse(), Ok(VersionSelector::Stage(Stage::Current)));
        assert_eq!("pending".parse(), Ok(VersionSelector::Stage(Stage::Pending)));
        assert_eq!("3".parse(), Ok(VersionSelector::Id(3)));
        assert!("latest".parse::<VersionSelector>().is_err());
    }
}
