//! age plugins: members whose key lives in a plugin (`age1yubikey1…` and other
//! `age-plugin-NAME` recipients), and the identities that open their wraps
//! (`AGE-PLUGIN-NAME-1…`), through the `age` crate's plugin support.
//!
//! A plugin is a program on `PATH`, so which ones may run is the user's decision, never a
//! file's: nothing runs until the command-line layer [`enable`]s plugins for this process (the
//! git drivers and completion never do), and then only a plugin the user named — in
//! `KEYWARD_AGE_PLUGINS` / the config, on `member add --key`, or as the plugin of the identity in
//! `KEYWARD_IDENTITY`. A vault that names another plugin's recipient is wrapped for by nobody
//! here: the write stops and says which plugin it needs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::SecretString;

use crate::sensitive::Key32;

/// How a plugin reaches the person at the keyboard (a PIN, "touch your key"): the command-line
/// layer implements it; the core never touches the terminal.
pub trait Prompts: Send + Sync {
    /// A message from the plugin (sanitized by the implementation before it is shown).
    fn message(&self, text: &str);
    /// A secret the plugin asks for (a PIN); `None` when there is nobody to ask.
    fn secret(&self, description: &str) -> Option<zeroize::Zeroizing<String>>;
}

/// The user's allowed plugins, read when a plugin is first wanted (most commands never want
/// one).
type Configured = Box<dyn Fn() -> Vec<String> + Send + Sync>;

struct Settings {
    prompts: Arc<dyn Prompts>,
    configured: Configured,
    allowed: Mutex<Option<BTreeSet<String>>>,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Lets plugins run in this process: those `configured` names (asked for when first needed),
/// and those [`allow`] adds. Without this call no plugin ever runs.
pub fn enable(configured: Configured, prompts: Arc<dyn Prompts>) {
    let _ = SETTINGS.set(Settings { prompts, configured, allowed: Mutex::new(None) });
}

/// The allowed set, filled from the configuration the first time.
fn with_allowed<T>(s: &Settings, f: impl FnOnce(&mut BTreeSet<String>) -> T) -> T {
    let mut allowed = s.allowed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let set = allowed.get_or_insert_with(|| (s.configured)().into_iter().collect());
    f(set)
}

/// Allows one more plugin (the user named it), if plugins are enabled at all.
pub fn allow(name: &str) {
    if let Some(s) = SETTINGS.get() {
        with_allowed(s, |set| set.insert(name.to_owned()));
    }
}

fn allowed(name: &str) -> Option<Callbacks> {
    let s = SETTINGS.get()?;
    (with_allowed(s, |set| set.contains(name)) && path_is_absolute()).then(|| Callbacks(s.prompts.clone()))
}

/// The longest plugin recipient a vault holds (the slot line's limit; a YubiKey's is about 70).
pub const MAX_RECIPIENT: usize = 256;

/// The plugin name of a plugin recipient (`age1NAME1…`, at most [`MAX_RECIPIENT`] characters);
/// `None` for anything else. The one check writers and readers share.
#[must_use]
pub fn recipient_plugin(recipient: &str) -> Option<String> {
    if recipient.len() > MAX_RECIPIENT || !recipient.starts_with("age1") {
        return None;
    }
    recipient.parse::<age::plugin::Recipient>().ok().map(|r| r.plugin().to_owned())
}

/// Whether `PATH` has only absolute entries: a relative one (`.`, an empty entry, `bin`) would
/// resolve in whatever directory keyward runs in — a repository's, say — and let it plant
/// `age-plugin-NAME`, which age looks up on `PATH` itself. With one, no plugin runs at all.
fn path_is_absolute() -> bool {
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).all(|dir| dir.is_absolute())
}

/// Why a wrap for a plugin recipient was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrapError {
    /// The plugin may not run here (not named by the user, or plugins are off in this process).
    NotAllowed(String),
    /// It ran, or could not be found, and failed.
    Failed(String, String),
}

/// The stanzas wrapping `file_key` for a plugin recipient, made by its plugin.
pub fn wrap_stanzas(file_key: &FileKey, recipient: &str) -> Result<Vec<Stanza>, WrapError> {
    use age::Recipient as _;
    let parsed: age::plugin::Recipient =
        recipient.parse().map_err(|_| WrapError::Failed(String::new(), "not a plugin recipient".into()))?;
    let name = parsed.plugin().to_owned();
    let callbacks = allowed(&name).ok_or_else(|| WrapError::NotAllowed(name.clone()))?;
    let plugin = age::plugin::RecipientPluginV1::new(&name, &[parsed], &[], callbacks)
        .map_err(|e| WrapError::Failed(name.clone(), e.to_string()))?;
    let (stanzas, _) = plugin.wrap_file_key(file_key).map_err(|e| WrapError::Failed(name.clone(), e.to_string()))?;
    Ok(stanzas)
}

/// A plugin identity the user configured, with the domain keys it has unwrapped so far (each
/// unwrap runs the plugin, which may want a PIN or a touch: once per wrap is enough).
pub struct PluginIdentity {
    /// age's own type keeps the identity's text in a plain `String` (for a YubiKey it names the
    /// key's slot and holds no secret; a plugin whose identity is a secret leaves that copy, and
    /// the ones age makes while talking to the plugin, unwiped: see the threat model).
    identity: age::plugin::Identity,
    name: String,
    /// Its recipient, when the identity file says it (`# Recipient: age1…`, as
    /// age-plugin-yubikey writes): the one slot this identity is tried on.
    recipient: Option<String>,
    opened: Mutex<Vec<([u8; 32], Key32)>>,
}

impl PluginIdentity {
    /// Parses `AGE-PLUGIN-NAME-1…`, with its recipient if known; the plugin is allowed from now
    /// on (the user chose it).
    pub fn parse(text: &str, recipient: Option<&str>) -> Result<PluginIdentity, &'static str> {
        let identity: age::plugin::Identity = text.trim().parse().map_err(|_| "it is not an age plugin identity")?;
        let name = identity.plugin().to_owned();
        // A comment naming another plugin's recipient says nothing about this identity.
        let recipient = recipient.filter(|r| recipient_plugin(r).as_deref() == Some(name.as_str())).map(str::to_owned);
        allow(&name);
        Ok(PluginIdentity { identity, name, recipient, opened: Mutex::new(Vec::new()) })
    }

    /// Its recipient, if the identity file said it.
    pub fn recipient(&self) -> Option<&str> {
        self.recipient.as_deref()
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.name
    }

    /// Opens an age file's stanzas with the plugin: the file key, or `None`.
    pub fn unwrap_file_key(&self, stanzas: &[Stanza]) -> Option<FileKey> {
        use age::Identity as _;
        let callbacks = allowed(self.plugin())?;
        let plugin =
            age::plugin::IdentityPluginV1::new(self.plugin(), std::slice::from_ref(&self.identity), callbacks).ok()?;
        plugin.unwrap_stanzas(stanzas)?.ok()
    }

    /// A domain key this identity opened before, by the digest of its wrap.
    pub fn remembered(&self, wrap: &[u8]) -> Option<Key32> {
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(wrap).into();
        let opened = self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        opened.iter().find(|(d, _)| *d == digest).map(|(_, k)| k.clone())
    }

    /// Remembers the domain key inside `wrap`.
    pub fn remember(&self, wrap: &[u8], key: &Key32) {
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(wrap).into();
        let mut opened = self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !opened.iter().any(|(d, _)| *d == digest) {
            opened.push((digest, key.clone()));
        }
    }
}

/// The age callbacks a plugin gets: the command-line layer's prompts. A plugin's request for a
/// yes/no or a public value is not supported (answered "no one to ask").
#[derive(Clone)]
struct Callbacks(Arc<dyn Prompts>);

impl age::Callbacks for Callbacks {
    fn display_message(&self, message: &str) {
        self.0.message(message);
    }

    fn confirm(&self, _message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _description: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        let secret = self.0.secret(description)?;
        // Copied once, at its size, into age's own zeroizing type.
        Some(SecretString::from(secret.as_str().to_owned()))
    }
}
