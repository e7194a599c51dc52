//! Your own identity for team vaults: an age X25519 identity whose public key (`age1…`) a
//! teammate adds to a vault as a member (`keyward member add NAME --key age1…`). Only the public
//! key is in the vault; the secret stays here.
//!
//! Where it is kept, in the order the unlock chain looks: `KEYWARD_IDENTITY` (an age identity
//! file, as `age-keygen` writes it), the OS keyring (the entry `identity`, Secret Service or the
//! macOS keychain; never the kernel keyring, which forgets at reboot), then the file
//! `$XDG_CONFIG_HOME/keyward/identity.txt` (0600, the explicit fallback `identity new --file`).

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::keyring::{self, Backend};
use crate::error::{Error, Result};
use crate::sensitive::Key32;
use crate::vault::format::{Slot as V1Slot, SlotKind};
use crate::vault::slots::Identity;
use crate::vault::v2;

/// An age identity file to use instead of the one keyward keeps.
pub const IDENTITY_VAR: &str = "KEYWARD_IDENTITY";
/// The keyring entry's name.
pub const KEYRING_NAME: &str = "identity";
/// The backends an identity may be kept in: the persistent ones.
pub const BACKENDS: [Backend; 2] = [Backend::SecretService, Backend::Keychain];

/// Your identity as the unlock chain tries it: on member slots only.
pub struct PersonalIdentity {
    pub secret: Key32,
}

impl Identity for PersonalIdentity {
    fn fits(&self, kind: SlotKind, _label: &str) -> bool {
        kind == SlotKind::Member
    }

    fn kek(&mut self, _slot: &V1Slot) -> Option<Key32> {
        None
    }

    fn x25519(&mut self, _slot: &v2::text::Slot) -> Option<Key32> {
        Some(self.secret.clone())
    }

    fn describe(&self) -> &'static str {
        "your identity"
    }

    fn boxed(&self) -> Box<dyn Identity> {
        Box::new(PersonalIdentity { secret: self.secret.clone() })
    }
}

/// An age plugin identity (`AGE-PLUGIN-NAME-1…`, a YubiKey's say) from `KEYWARD_IDENTITY`, as the
/// unlock chain tries it: on member slots whose key is its plugin's. Its plugin runs because the
/// user configured this identity; see [`crate::vault::v2::plugin`].
pub struct PluginMember {
    pub identity: std::sync::Arc<v2::plugin::PluginIdentity>,
}

impl Identity for PluginMember {
    fn fits(&self, kind: SlotKind, _label: &str) -> bool {
        kind == SlotKind::Member
    }

    fn kek(&mut self, _slot: &V1Slot) -> Option<Key32> {
        None
    }

    fn x25519(&mut self, _slot: &v2::text::Slot) -> Option<Key32> {
        None
    }

    fn describe(&self) -> &'static str {
        "your plugin identity"
    }

    fn boxed(&self) -> Box<dyn Identity> {
        Box::new(PluginMember { identity: self.identity.clone() })
    }

    fn plugin(&self) -> Option<std::sync::Arc<v2::plugin::PluginIdentity>> {
        Some(self.identity.clone())
    }
}

/// The plugin identity in the identity file at `path`, when its first identity is one
/// (`AGE-PLUGIN-…`); `None` when it is an X25519 identity.
pub fn read_plugin_file(path: &Path) -> Result<Option<v2::plugin::PluginIdentity>> {
    let text = read_private(path, "identity file")?;
    let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')) else {
        return Ok(None);
    };
    if !line.starts_with("AGE-PLUGIN-") {
        return Ok(None);
    }
    // `#    Recipient: age1yubikey1…`, as age-plugin-yubikey writes it in the comment block just
    // above the identity: ties the identity to one slot.
    let above: Vec<&str> = text.lines().map(str::trim).take_while(|l| *l != line).collect();
    let recipient = above.iter().rev().take_while(|l| l.starts_with('#')).find_map(|l| {
        let comment = l.strip_prefix('#')?.trim();
        let (key, value) = comment.split_once(':')?;
        key.trim().eq_ignore_ascii_case("recipient").then(|| value.trim())
    });
    v2::plugin::PluginIdentity::parse(line, recipient)
        .map(Some)
        .map_err(|reason| Error::invalid("identity file", path.display().to_string(), reason))
}

/// Where an identity was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(PathBuf),
    Keyring(Backend),
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env(p) => write!(f, "{} ({IDENTITY_VAR})", p.display()),
            Source::Keyring(b) => write!(f, "the {} keyring", b.name()),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The file `identity new --file` writes.
pub fn default_file() -> Result<PathBuf> {
    Ok(crate::paths::config_dir()?.join("identity.txt"))
}

/// Your identity and where it came from; `None` when there is none. A `KEYWARD_IDENTITY` that
/// cannot be read is an error, not a fall-through.
pub fn load() -> Result<Option<(Key32, Source)>> {
    if let Some(path) = std::env::var_os(IDENTITY_VAR).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return Ok(Some((read_file(&path)?, Source::Env(path))));
    }
    for backend in BACKENDS {
        if let Ok(Some(secret)) = keyring::get(backend, KEYRING_NAME) {
            return Ok(Some((secret, Source::Keyring(backend))));
        }
    }
    let file = default_file()?;
    if std::fs::symlink_metadata(&file).is_ok() {
        return Ok(Some((read_file(&file)?, Source::File(file))));
    }
    Ok(None)
}

/// The most an identity file may hold.
const MAX_FILE: u64 = 16 * 1024;

/// Reads an age identity file: its first `AGE-SECRET-KEY-1…` line. The file is opened once
/// (not through a link, not waiting on a FIFO) and judged by what was opened: a regular file of
/// yours that no one else may read (as ssh judges a key), at most 16 KiB.
pub fn read_file(path: &Path) -> Result<Key32> {
    let text = read_private(path, "identity file")?;
    parse(&text).map_err(|reason| Error::invalid("identity file", path.display().to_string(), reason))
}

/// A private key file's text: opened once (not through a link, not waiting on a FIFO) and judged
/// by what was opened: a regular file of yours that no one else may read, at most 16 KiB.
fn read_private(path: &Path, what: &'static str) -> Result<Zeroizing<String>> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let shown = || path.display().to_string();
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).map_err(
            |e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::invalid(what, shown(), "it is a symbolic link"),
                _ => Error::io("cannot read", path, e),
            },
        )?;
    let meta = file.metadata().map_err(|e| Error::io("cannot read", path, e))?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return Err(Error::invalid(what, shown(), "it is not a regular file of at most 16 KiB"));
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        return Err(Error::invalid(what, shown(), "it belongs to another user"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(Error::invalid(
            what,
            shown(),
            format!("others may read it (mode {:o}): chmod 600 it", meta.mode() & 0o777),
        ));
    }
    let bytes = crate::sensitive::read_bounded(&mut { file }, MAX_FILE as usize, "cannot read", path)?;
    crate::sensitive::into_text(bytes).map_err(|_| Error::invalid(what, shown(), "it is not text"))
}

/// The secret of the first identity in an age identity file's text.
pub fn parse(text: &str) -> std::result::Result<Key32, &'static str> {
    let line =
        text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).ok_or("it holds no identity")?;
    if !line.starts_with("AGE-SECRET-KEY-1") {
        return Err(if line.starts_with("AGE-PLUGIN-") {
            "it is an age plugin identity: those are used from KEYWARD_IDENTITY, and their public key is the plugin's to give"
        } else {
            "its first identity is not an age X25519 identity (AGE-SECRET-KEY-1…)"
        });
    }
    // Bech32, not Bech32m (which `bech32::decode` would also take, and age refuses).
    let checked = bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32>(line)
        .map_err(|_| "its identity is malformed (the checksum does not match)")?;
    if !checked.hrp().as_str().eq_ignore_ascii_case("age-secret-key-") {
        return Err("its identity is malformed");
    }
    let data: Zeroizing<Vec<u8>> = Zeroizing::new(checked.byte_iter().collect());
    Key32::from_slice(&data).ok_or("its identity is malformed")
}

/// An identity file's text, as age-keygen writes one.
#[must_use]
pub fn file_text(secret: &Key32, created: &str) -> Zeroizing<String> {
    let identity = v2::keys::identity(secret);
    let mut text = Zeroizing::new(String::with_capacity(256));
    text.push_str("# created: ");
    text.push_str(created);
    text.push_str("\n# public key: ");
    text.push_str(&v2::keys::recipient(secret));
    text.push('\n');
    {
        use age::secrecy::ExposeSecret as _;
        text.push_str(identity.to_string().expose_secret());
    }
    text.push('\n');
    text
}

/// An SSH ed25519 member key: see [`crate::vault::v2::keys::ssh_member`].
pub fn parse_ssh_member(text: &str) -> std::result::Result<(String, String), &'static str> {
    crate::vault::v2::keys::ssh_member(text)
}

/// The X25519 secret of an SSH ed25519 private key file (OpenSSH format): the first half of
/// SHA-512 of the Ed25519 seed, the scalar the Ed25519 key itself is made from. `ask` gives the
/// key's passphrase when it has one (`None`: nobody to ask). `None` for another kind of key.
pub fn ssh_secret(
    path: &Path,
    ask: &mut dyn FnMut() -> Result<Option<crate::sensitive::Passphrase>>,
) -> Result<Option<Key32>> {
    use sha2::Digest as _;
    let shown = || path.display().to_string();
    let text = read_private(path, "SSH key")?;
    let mut key = ssh_key::PrivateKey::from_openssh(text.as_str())
        .map_err(|_| Error::invalid("SSH key", shown(), "it is not an OpenSSH private key"))?;
    if key.is_encrypted() {
        let Some(passphrase) = ask()? else { return Ok(None) };
        key = key
            .decrypt(passphrase.expose().as_bytes())
            .map_err(|_| Error::WrongSecret { what: "SSH key passphrase", path: path.to_owned() })?;
    }
    let Some(pair) = key.key_data().ed25519() else { return Ok(None) };
    let seed = Zeroizing::new(pair.private.to_bytes());
    let digest = Zeroizing::new(sha2::Sha512::digest(&seed[..]));
    Ok(Key32::from_slice(&digest[..32]))
}

/// Whether `path` holds an OpenSSH private key (rather than an age identity).
pub fn is_ssh_key_file(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut head = [0u8; 36];
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .and_then(|mut f| {
            if !f.metadata()?.is_file() {
                return Err(std::io::Error::other("not a regular file"));
            }
            f.read_exact(&mut head)
        })
        .is_ok_and(|()| head.starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----"))
}

/// The key blob of an OpenSSH public key file (`id_ed25519.pub`): the second field.
pub fn ssh_public_blob(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut fields = text.split_whitespace();
    (fields.next()? == "ssh-ed25519").then(|| fields.next().map(str::to_owned)).flatten()
}

/// A member's key as given to `member add`: an age X25519 recipient (`age1…`).
pub fn parse_recipient(text: &str) -> std::result::Result<String, &'static str> {
    let text = text.trim();
    if text.starts_with("ssh-") {
        return Err("give an SSH key with `member add NAME --key 'ssh-ed25519 AAAA…'`");
    }
    // The Bech32 separator is the last '1' (the data alphabet has none): `age1…` puts it at 3,
    // a plugin's `age1yubikey1…` after its name.
    if text.starts_with("age1") && text.rfind('1').is_some_and(|i| i > 3) {
        return v2::plugin::recipient_plugin(text)
            .map(|_| text.to_owned())
            .ok_or("it is not an age plugin recipient (age1NAME1…) this keyward reads");
    }
    let recipient = text
        .parse::<age::x25519::Recipient>()
        .map(|r| r.to_string())
        .map_err(|_| "it is not an age public key (age1…)")?;
    if !crate::vault::v2::keys::sound_recipient(&recipient) {
        return Err("it is not a usable X25519 public key (a low-order point)");
    }
    Ok(recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_file_round_trips_and_mangling_is_caught() {
        let secret = Key32::random();
        let text = file_text(&secret, "2026-11-29T00:00:00Z");
        assert_eq!(parse(&text).unwrap().expose(), secret.expose());
        // A fixed identity (age-keygen's format) and one character of it changed.
        let fixed = "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33";
        assert!(parse(fixed).is_ok());
        assert_eq!(
            parse(&fixed.replace("GQ97", "GQ98")).err(),
            Some("its identity is malformed (the checksum does not match)")
        );
        assert!(parse("# nothing\n").is_err());
        assert!(parse("AGE-PLUGIN-YUBIKEY-1QQQ").is_err());
    }

    #[test]
    fn recipients_are_age_keys() {
        let secret = Key32::random();
        let public = v2::keys::recipient(&secret);
        assert_eq!(parse_recipient(&format!("  {public}\n")).unwrap(), public);
        assert!(parse_recipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI x").is_err());
        assert!(parse_recipient("age1notakey").is_err());
        // A plugin's recipient with a bad checksum is refused; a well-formed one is taken.
        assert_eq!(
            parse_recipient("age1yubikey1q2w3e4r5t6y7u8i9o0pasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm").err(),
            Some("it is not an age plugin recipient (age1NAME1…) this keyward reads")
        );
        let hrp = bech32::Hrp::parse("age1yubikey").unwrap();
        let plugin = bech32::encode::<bech32::Bech32>(hrp, &[7u8; 33]).unwrap();
        assert_eq!(parse_recipient(&plugin).unwrap(), plugin);
        assert!(parse_recipient("").is_err());
    }
}
