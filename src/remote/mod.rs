//! Remote stores: AWS Secrets Manager and HashiCorp Vault / OpenBao KV version 2, kept in step
//! with the local vault by `push`, `pull` and `remote status`.
//!
//! A remote is recorded in the vault as a name and a location that names **no host and no
//! credential**: a vault is written by others, and a location that could point at another server
//! would hand that server the reader's token and values. The server comes from the reader's own
//! environment (`AWS_ENDPOINT_URL`, `VAULT_ADDR`), the credentials from each ecosystem's own
//! conventions (see [`aws`] and [`kv`]). A remote for an environment lives in that environment's
//! settings, sealed under its key: only a holder of the environment reads or changes it.
//!
//! Each keyward secret is one remote secret; its stages map onto the store's (see [`Backend`]).
//! Whether the two sides agree is judged by version ids and, where those cannot tell, by
//! comparing values in memory ([`sync`]); values are never printed or logged.

pub mod aws;
mod http;
pub mod kms;
pub mod kv;
pub mod reference;
pub mod sync;

use std::collections::BTreeMap;

use sha2::Sha256;

use crate::sensitive::SecretValue;
use crate::vault::Vault;
use crate::vault::secret::{Stage, validate_name};

/// The settings key of remote `NAME`: `remote.NAME`.
pub const SETTING_PREFIX: &str = "remote.";

/// Where a remote's secrets are, without the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `aws-sm://REGION/PREFIX`: secret `NAME` is the AWS secret `PREFIX/NAME`.
    AwsSm { region: String, prefix: String },
    /// `vault:MOUNT/PATH`: secret `NAME` is the KV v2 secret `PATH/NAME` of mount `MOUNT`.
    Kv { mount: String, path: String },
}

/// A remote as the vault records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub name: String,
    /// The environment whose secrets it holds (`None`: those with no environment).
    pub env: Option<String>,
    pub location: Location,
}

/// A path of `/`-separated segments of letters, digits, `_-.` and `extra`, none empty, `.` or
/// `..`, at most `max` bytes: a remote's prefix, a reference's secret name.
fn path_segments_ok(path: &str, extra: &str, max: usize) -> bool {
    !path.is_empty()
        && path.len() <= max
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c) || extra.contains(c))
        })
}

impl Location {
    /// Parses `aws-sm://REGION/PREFIX` or `vault:MOUNT/PATH`, with `--prefix` appended to the
    /// path. A URL naming a host (`https://…`, `vault://host/…`) is refused.
    pub fn parse(url: &str, extra: Option<&str>) -> Result<Location, String> {
        let join = |path: &str| match extra {
            Some(p) if !p.is_empty() => format!("{}/{}", path.trim_end_matches('/'), p.trim_matches('/')),
            _ => path.trim_end_matches('/').to_owned(),
        };
        if let Some(rest) = url.strip_prefix("aws-sm://") {
            let (region, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !aws::sound_region(region) {
                return Err(format!("{region:?} is not an AWS region (like eu-west-1)"));
            }
            let prefix = join(prefix);
            // AWS secret names: letters, digits and /_+=.@-
            if !path_segments_ok(&prefix, "+=@", 200) {
                return Err("give a prefix for the secrets: aws-sm://REGION/PREFIX (letters, digits, /_+=.@-)".into());
            }
            return Ok(Location::AwsSm { region: region.to_owned(), prefix });
        }
        if let Some(rest) = url.strip_prefix("vault:") {
            if rest.starts_with("//") {
                return Err("a remote names no server: write vault:MOUNT/PATH; the server is your VAULT_ADDR".into());
            }
            let (mount, path) = rest.split_once('/').unwrap_or((rest, ""));
            let path = join(path);
            if !path_segments_ok(mount, "", 200) || !path_segments_ok(&path, "", 200) {
                return Err("write vault:MOUNT/PATH (letters, digits, _-. between slashes)".into());
            }
            return Ok(Location::Kv { mount: mount.to_owned(), path });
        }
        if url.contains("://") {
            return Err(
                "a remote names no server or credentials: use aws-sm://REGION/PREFIX or vault:MOUNT/PATH".into()
            );
        }
        Err("expected aws-sm://REGION/PREFIX or vault:MOUNT/PATH".into())
    }

    pub fn url(&self) -> String {
        match self {
            Location::AwsSm { region, prefix } => format!("aws-sm://{region}/{prefix}"),
            Location::Kv { mount, path } => format!("vault:{mount}/{path}"),
        }
    }

    /// What the store calls keyward secret `name`.
    pub fn key_of(&self, name: &str) -> String {
        match self {
            Location::AwsSm { prefix, .. } => format!("{prefix}/{name}"),
            Location::Kv { path, .. } => format!("{path}/{name}"),
        }
    }
}

impl Remote {
    /// The remote recorded under settings key `key` with value `url`, in environment `env`; `None`
    /// when the key is not a remote's or the record does not parse (a vault is hostile input).
    pub fn from_setting(key: &str, url: &str, env: Option<&str>) -> Option<Remote> {
        let name = key.strip_prefix(SETTING_PREFIX)?;
        crate::parse::label(name).ok()?;
        Some(Remote { name: name.to_owned(), env: env.map(str::to_owned), location: Location::parse(url, None).ok()? })
    }

    pub fn setting_key(&self) -> String {
        format!("{SETTING_PREFIX}{}", self.name)
    }
}

/// The remotes this key can see: the vault-wide ones and those of every environment it holds
/// (a remote's record that does not parse is left out).
pub fn remotes(vault: &Vault) -> crate::error::Result<Vec<Remote>> {
    let mut out = Vec::new();
    let envs = vault.environments();
    let held = envs.iter().filter(|e| vault.check_holds(Some(e)).is_ok()).map(|e| Some(e.as_str()));
    for env in std::iter::once(None).chain(held) {
        for (key, value) in vault.env_settings(env)? {
            out.extend(Remote::from_setting(&key, &value, env));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Remote `name`, or a not-found error; two of that name (one vault-wide, one in an
/// environment, which no one key may have seen at once) are refused, not guessed between.
pub fn find(vault: &Vault, name: &str) -> crate::error::Result<Remote> {
    let mut found: Vec<Remote> = remotes(vault)?.into_iter().filter(|r| r.name == name).collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(crate::error::Error::Refused(
            format!("no remote {name} in this vault (or not in an environment this key holds)"),
            "see `keyward remote list`",
        )),
        _ => Err(crate::error::Error::Refused(
            format!("two remotes are named {name} (vault-wide and in an environment)"),
            "remove the one you did not add with `keyward remote rm`, after checking the vault's history",
        )),
    }
}

/// Records `remote` in its environment's settings (replacing one of the same name there).
pub fn save(vault: &mut Vault, remote: &Remote) -> crate::error::Result<()> {
    vault.set_env_setting(remote.env.as_deref(), &remote.setting_key(), Some(&remote.location.url()))
}

pub fn remove(vault: &mut Vault, remote: &Remote) -> crate::error::Result<()> {
    vault.set_env_setting(remote.env.as_deref(), &remote.setting_key(), None)
}

/// The key of a vault's version tokens: derived from the key every reader of the vault holds
/// (format 2's `@default`, format 1's data key), so a remote's writer, who does not hold it,
/// cannot make a version look like one keyward pushed.
pub struct TokenKey(zeroize::Zeroizing<[u8; 32]>);

impl TokenKey {
    pub fn of(vault: &Vault) -> crate::error::Result<TokenKey> {
        Ok(TokenKey::from_key(vault.backup_key()?.expose()))
    }

    pub fn from_key(key: &[u8; 32]) -> TokenKey {
        let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(key).expect("any key length");
        hmac::Mac::update(&mut mac, b"keyward/remote-token-key");
        TokenKey(zeroize::Zeroizing::new(hmac::Mac::finalize(mac).into_bytes().into()))
    }
}

/// The `ClientRequestToken` (AWS) and `keyward-*-token` (KV) of `version` of secret `name`: the
/// same for every push of that version (a retried push is idempotent), different for any other
/// value, name or version (a secret removed and added again starts at version 1 again). Keyed, so
/// it says nothing about the value to whoever reads the store's metadata. Shaped as a UUID (AWS
/// asks for 32 to 64 characters).
pub fn version_token(key: &TokenKey, name: &str, version: u32, value: &SecretValue) -> String {
    let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(&key.0[..]).expect("any key length");
    for part in [name.as_bytes(), &version.to_le_bytes(), value.expose().as_bytes()] {
        hmac::Mac::update(&mut mac, &u32::try_from(part.len()).unwrap_or(u32::MAX).to_le_bytes());
        hmac::Mac::update(&mut mac, part);
    }
    let hex = data_encoding::HEXLOWER.encode(&hmac::Mac::finalize(mac).into_bytes()[..16]);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Whether a remote's version id is one this reads (AWS: UUIDs and the like; KV: numbers).
fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// One secret in a remote store, as its listing describes it (no values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The keyward name.
    pub name: String,
    /// The store's id of each staged version (AWS version ids, KV version numbers).
    pub stages: BTreeMap<&'static str, String>,
    /// The keyward token of each staged version keyward wrote (see [`version_token`]).
    pub tokens: BTreeMap<&'static str, String>,
    /// Metadata keyward records (provider, environment, variable, expiry, rotation).
    pub tags: BTreeMap<String, String>,
    /// KV: the version a write must check against (check-and-set). AWS: 0.
    pub cas: u64,
    /// KV: custom metadata of other tools, kept as it is when keyward writes its own.
    pub foreign: BTreeMap<String, String>,
}

impl Entry {
    pub fn id_of(&self, stage: Stage) -> Option<&str> {
        self.stages.get(stage.as_str()).map(String::as_str)
    }

    pub fn current(&self) -> Option<&str> {
        self.id_of(Stage::Current)
    }

    pub fn token_of(&self, stage: Stage) -> Option<&str> {
        self.tokens.get(stage.as_str()).map(String::as_str)
    }

    /// Whether the store already has the keyward version with `token`.
    pub fn has_token(&self, token: &str) -> bool {
        self.tokens.values().any(|t| t == token)
    }
}

/// A version to write: its stage, its keyward token, its value.
pub struct Upload<'a> {
    pub stage: Stage,
    pub token: String,
    pub value: &'a SecretValue,
}

/// What a push writes for one secret.
pub struct Push<'a> {
    pub name: &'a str,
    /// Oldest first: previous, current, pending.
    pub versions: Vec<Upload<'a>>,
    pub tags: Vec<(String, String)>,
    /// The remote's state when the push was planned (`None`: it does not exist there).
    pub seen: Option<&'a Entry>,
    /// Whether the current version is to be written: not when the remote's current already is
    /// this one (a pending version alone is new).
    pub write_current: bool,
}

/// Why a request to a remote failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// No credentials, no server address, an unreadable CA file: the user's setup.
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    Unreachable(String),
    /// Someone else changed the secret since it was read (KV check-and-set).
    #[error("{0}")]
    Conflict(String),
    /// The store kept saying "slow down".
    #[error("{0}")]
    Throttled(String),
    /// Anything else the store said no to.
    #[error("{0}")]
    Refused(String),
}

impl RemoteError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            RemoteError::Setup(_) => "see `keyward remote --help` for where credentials and the server come from",
            RemoteError::Auth(_) => {
                "check your credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, VAULT_TOKEN) and their permissions"
            }
            RemoteError::Unreachable(_) => {
                "check the endpoint (AWS_ENDPOINT_URL, VAULT_ADDR), the network, and VAULT_CACERT for TLS"
            }
            RemoteError::Conflict(_) => {
                "someone changed it meanwhile: run `keyward remote status`, then pull or push again"
            }
            RemoteError::Throttled(_) => "the store is throttling requests: try again later",
            RemoteError::Refused(_) => "see the store's message",
        }
    }

    /// Whether the whole remote is out of reach (stop), rather than one secret.
    pub fn is_fatal(&self) -> bool {
        matches!(self, RemoteError::Setup(_) | RemoteError::Auth(_) | RemoteError::Unreachable(_))
    }
}

/// A remote store: AWS Secrets Manager or a KV v2 mount.
///
/// Stages: keyward's current, pending and previous versions are AWS's `AWSCURRENT`,
/// `AWSPENDING` and `AWSPREVIOUS` labels; in KV they are versions, and the secret's custom
/// metadata says which is which (`keyward-current`, `keyward-pending`, `keyward-previous`).
pub trait Backend: Sync {
    /// Every keyward secret under the remote's prefix.
    fn list(&self) -> Result<Vec<Entry>, RemoteError>;
    /// One secret's entry (`None`: not there).
    fn describe(&self, name: &str) -> Result<Option<Entry>, RemoteError>;
    /// The value of a staged version.
    fn fetch(&self, entry: &Entry, stage: Stage) -> Result<Option<SecretValue>, RemoteError>;
    /// Writes the versions of `push` and its tags; returns the new entry.
    fn push(&self, push: &Push<'_>) -> Result<Entry, RemoteError>;
    /// Takes the pending stage off a secret (a rotation aborted here); the version stays.
    fn drop_pending(&self, entry: &Entry) -> Result<(), RemoteError>;
}

/// `f` over `items` on up to `threads` threads, results in order: requests to a store are
/// mostly waiting.
pub fn parallel<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).into_iter().flatten().collect()
}

/// How many requests run at once.
pub const CONCURRENCY: usize = 16;

/// The backend of `remote`, its server and credentials taken from the environment.
pub fn connect(remote: &Remote) -> Result<Box<dyn Backend>, RemoteError> {
    Ok(match &remote.location {
        Location::AwsSm { region, prefix } => Box::new(aws::SecretsManager::connect(region, prefix)?),
        Location::Kv { mount, path } => Box::new(kv::Kv::connect(mount, path)?),
    })
}

/// Whether `name` is a keyward name (a remote's other entries are left alone).
fn keyward_name(name: &str) -> bool {
    validate_name(name).is_ok()
}

/// Metadata tags keyward writes with each secret.
pub mod tag {
    pub const PROVIDER: &str = "keyward-provider";
    pub const ENVIRONMENT: &str = "keyward-environment";
    pub const VARIABLE: &str = "keyward-variable";
    pub const EXPIRES: &str = "keyward-expires";
    pub const ROTATE_EVERY: &str = "keyward-rotate-every";

    pub fn is_keyward(key: &str) -> bool {
        key.starts_with("keyward-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_print() {
        let aws = Location::parse("aws-sm://eu-west-1/team/app", None).unwrap();
        assert_eq!(aws, Location::AwsSm { region: "eu-west-1".into(), prefix: "team/app".into() });
        assert_eq!(aws.url(), "aws-sm://eu-west-1/team/app");
        assert_eq!(aws.key_of("stripe"), "team/app/stripe");
        let kv = Location::parse("vault:secret/apps/web", Some("prod")).unwrap();
        assert_eq!(kv, Location::Kv { mount: "secret".into(), path: "apps/web/prod".into() });
        assert_eq!(kv.url(), "vault:secret/apps/web/prod");
    }

    #[test]
    fn locations_name_no_host() {
        for bad in [
            "https://vault.example.com/v1/secret",
            "vault://evil.example.com/secret/x",
            "aws-sm://evil.example.com/x",
            "aws-sm://eu-west-1",
            "aws-sm://eu-west-1/../x",
            "vault:secret",
            "vault:secret/a//b",
            "vault:secret/a b",
            "s3://bucket/x",
        ] {
            assert!(Location::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_stable_per_version_and_uuid_shaped() {
        let key = TokenKey::from_key(&[7u8; 32]);
        let v = |s: &str| SecretValue::new(s.into());
        let t = version_token(&key, "stripe", 3, &v("a"));
        assert_eq!(t.len(), 36);
        assert_eq!(t, version_token(&key, "stripe", 3, &v("a")));
        assert_ne!(t, version_token(&key, "stripe", 4, &v("a")));
        assert_ne!(t, version_token(&key, "stripe", 3, &v("b")));
        assert_ne!(t, version_token(&key, "stripf", 3, &v("a")));
        assert_ne!(t, version_token(&TokenKey::from_key(&[8u8; 32]), "stripe", 3, &v("a")));
    }
}
