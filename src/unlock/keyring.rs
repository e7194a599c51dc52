//! The OS keyring backends, through the keyring-core family of crates.
//!
//! One entry per vault (service `keyward`, user `vault-<vault id>`, or `vault2-<vault id>` for
//! format 2) holds a random 256-bit slot secret: in format 1 the vault's `keyring` slot wraps the
//! data key under a key derived from it, in format 2 it is the slot's X25519 secret. The keyring
//! never holds a vault key itself, and removing a slot from the vault revokes it even if a copy of
//! the keyring entry survives.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use crate::error::{Error, Result};
use crate::sensitive::Key32;

const SERVICE: &str = "keyward";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The freedesktop Secret Service over D-Bus (gnome-keyring, KWallet, KeePassXC).
    SecretService,
    /// The Linux kernel key retention service, through the user's persistent keyring.
    Keyutils,
    /// The macOS login keychain.
    Keychain,
}

/// This machine's keyring entry for a vault, as a way in: it opens the keyring slot of its
/// backend.
#[derive(Clone)]
pub struct KeyringIdentity {
    pub backend: Backend,
    pub secret: Key32,
}

impl super::Identity for KeyringIdentity {
    fn fits(&self, kind: crate::vault::format::SlotKind, label: &str) -> bool {
        kind == crate::vault::format::SlotKind::Keyring && Backend::of_label(label) == Some(self.backend)
    }

    fn x25519(&mut self, _: &crate::vault::v2::text::Slot) -> Option<Key32> {
        Some(self.secret.clone())
    }

    fn kek(&mut self, slot: &crate::vault::format::Slot) -> Option<Key32> {
        (slot.kdf == crate::vault::format::Kdf::HkdfSha256)
            .then(|| crate::vault::crypto::hkdf_kek(self.secret.expose(), &slot.salt))
    }

    fn describe(&self) -> &'static str {
        "keyring"
    }

    fn boxed(&self) -> Box<dyn super::Identity> {
        Box::new(self.clone())
    }
}

/// Which keyring to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Secret Service when a session bus offers it, else the kernel keyring (Linux), else the
    /// keychain (macOS).
    Auto,
    SecretService,
    Keyutils,
    Keychain,
    /// No keyring: unlock only with a passphrase, the recovery key or tokens.
    None,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::SecretService, Backend::Keyutils, Backend::Keychain];

    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::Keyutils => "keyutils",
            Backend::Keychain => "keychain",
        }
    }

    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// How long a key stored there lives, for `key status` and the warning at `init`.
    pub fn persistence(self) -> &'static str {
        match self {
            Backend::SecretService => "persistent (the Secret Service's login collection, on disk)",
            Backend::Keyutils => {
                "kernel memory only: lost at reboot and after 3 days unused; keep the recovery key or a passphrase"
            }
            Backend::Keychain => "persistent (the login keychain)",
        }
    }

    /// A keyring slot's label: backend and host, so `key status` can tell machines apart.
    pub fn slot_label(self) -> String {
        format!("{}@{}", self.name(), crate::host::hostname())
    }

    /// The backends a vault's keyring slots name, each once, in the order of the slots (the
    /// order the unlock chain tries them); with `this_machine`, only slots labelled with this
    /// machine's host name.
    pub fn of_slots(slots: &[crate::vault::slots::SlotInfo], this_machine: bool) -> Vec<Backend> {
        let mut backends = Vec::new();
        for slot in slots.iter().filter(|s| s.kind == crate::vault::format::SlotKind::Keyring) {
            let Some(backend) = Backend::of_label(&slot.label) else { continue };
            if (!this_machine || backend.slot_label() == slot.label) && !backends.contains(&backend) {
                backends.push(backend);
            }
        }
        backends
    }

    /// The backend a keyring slot label names.
    pub fn of_label(label: &str) -> Option<Backend> {
        Backend::from_name(label.split('@').next().unwrap_or_default())
    }
}

fn unavailable(backend: Backend, reason: impl Into<String>) -> Error {
    Error::KeyringUnavailable { backend: backend.name(), reason: reason.into() }
}

/// Describes a keyring error without ever echoing data the store returned.
fn describe(e: &keyring_core::Error) -> String {
    use keyring_core::Error as K;
    match e {
        K::NoStorageAccess(inner) => format!("access refused: {inner}"),
        K::PlatformFailure(inner) => inner.to_string(),
        K::BadEncoding(_) | K::BadDataFormat(..) => "the stored entry is not a keyward key".into(),
        K::NoEntry => "no entry".into(),
        K::NotSupportedByStore(what) => format!("not supported: {what}"),
        _ => "the keyring store failed".into(),
    }
}

fn open_store(backend: Backend) -> Result<Arc<CredentialStore>> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::Keyutils => {
            join_session_keyring()?;
            let store = linux_keyutils_keyring_store::Store::new().map_err(|e| unavailable(backend, describe(&e)))?;
            Ok(store)
        }
        #[cfg(target_os = "linux")]
        Backend::SecretService => {
            if !session_bus_plausible() {
                return Err(unavailable(backend, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"));
            }
            let store =
                zbus_secret_service_keyring_store::Store::new().map_err(|e| unavailable(backend, describe(&e)))?;
            Ok(store)
        }
        #[cfg(target_os = "macos")]
        Backend::Keychain => {
            let store =
                apple_native_keyring_store::keychain::Store::new().map_err(|e| unavailable(backend, describe(&e)))?;
            Ok(store)
        }
        #[allow(unreachable_patterns)]
        _ => Err(unavailable(backend, "not available on this operating system")),
    }
}

/// A process started outside a login session (CI, cron, `sh -c` in a container) has no session
/// keyring, and the kernel refuses to link keys from the user-session keyring into the persistent
/// one. Joining (creating) a session keyring first makes the keyutils store work there too.
#[cfg(target_os = "linux")]
fn join_session_keyring() -> Result<()> {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};
    KeyRing::from_special_id(KeyRingIdentifier::Session, true).map(|_| ()).map_err(|e| {
        unavailable(
            Backend::Keyutils,
            format!("cannot join a session keyring ({e:?}); a container's seccomp profile may block keyctl"),
        )
    })
}

#[cfg(target_os = "linux")]
fn session_bus_plausible() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
}

/// The entry `name` (a vault's [`keyring_name`](crate::vault::Locked::keyring_name)) in the
/// `keyward` service.
fn entry(backend: Backend, store: &Arc<CredentialStore>, name: &str) -> Result<Entry> {
    Entry::new_in_store(store, SERVICE, name).map_err(|e| unavailable(backend, describe(&e)))
}

/// Reads this vault's slot secret; `Ok(None)` when the keyring has no entry for it.
pub fn get(backend: Backend, name: &str) -> Result<Option<Key32>> {
    let store = open_store(backend)?;
    match entry(backend, &store, name)?.get_secret() {
        Ok(bytes) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            Ok(Key32::from_slice(&bytes))
        }
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(e) => Err(unavailable(backend, describe(&e))),
    }
}

pub fn set(backend: Backend, name: &str, secret: &Key32) -> Result<()> {
    let store = open_store(backend)?;
    entry(backend, &store, name)?.set_secret(secret.expose()).map_err(|e| unavailable(backend, describe(&e)))
}

/// Removes this vault's entry; `Ok(false)` when there was none.
pub fn delete(backend: Backend, name: &str) -> Result<bool> {
    let store = open_store(backend)?;
    match entry(backend, &store, name)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring_core::Error::NoEntry) => Ok(false),
        Err(e) => Err(unavailable(backend, describe(&e))),
    }
}

/// Checks that a backend answers, by looking up an entry that does not exist.
pub fn probe(backend: Backend) -> Result<()> {
    get(backend, "probe").map(|_| ())
}

/// Picks the backend `--keyring` asks for and checks that it answers; `Ok(None)` for `none`.
pub fn choose(choice: Choice) -> Result<Option<Backend>> {
    let wanted = match choice {
        Choice::None => return Ok(None),
        Choice::SecretService => Backend::SecretService,
        Choice::Keyutils => Backend::Keyutils,
        Choice::Keychain => Backend::Keychain,
        Choice::Auto => return auto().map(Some),
    };
    probe(wanted)?;
    Ok(Some(wanted))
}

fn auto() -> Result<Backend> {
    let candidates: &[Backend] =
        if cfg!(target_os = "macos") { &[Backend::Keychain] } else { &[Backend::SecretService, Backend::Keyutils] };
    let mut reasons = Vec::new();
    for &backend in candidates {
        match probe(backend) {
            Ok(()) => return Ok(backend),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    Err(Error::KeyringUnavailable { backend: "auto", reason: format!("no keyring answered ({})", reasons.join("; ")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_labels_name_their_backend() {
        for backend in Backend::ALL {
            assert_eq!(Backend::from_name(backend.name()), Some(backend));
            let label = backend.slot_label();
            assert!(label.starts_with(&format!("{}@", backend.name())), "{label}");
            assert_eq!(Backend::of_label(&label), Some(backend));
            assert_eq!(Backend::of_label(backend.name()), Some(backend), "a label without a host");
        }
        for label in ["", "@host", "keyring@host", "secret-service-2@host", "keyutils @host"] {
            assert_eq!(Backend::of_label(label), None, "{label:?}");
        }
        assert!(Backend::Keyutils.persistence().contains("reboot"), "the kernel keyring's loss at reboot is stated");
        assert!(Backend::SecretService.persistence().starts_with("persistent"));
    }

    #[test]
    fn backends_of_slots_are_listed_once_in_slot_order() {
        use crate::vault::format::SlotKind;
        let slot = |kind, label: &str| crate::vault::slots::SlotInfo {
            kind,
            label: label.into(),
            created: 0,
            access: crate::vault::slots::Access::All,
            argon2: None,
            recipient: None,
            added_by: None,
            ssh: None,
        };
        let here = Backend::Keyutils.slot_label();
        let slots = [
            slot(SlotKind::Keyring, "keyutils@other-host"),
            slot(SlotKind::Token, "secret-service@x"),
            slot(SlotKind::Keyring, "secret-service@other-host"),
            slot(SlotKind::Keyring, &here),
            slot(SlotKind::Keyring, "nonsense@x"),
        ];
        assert_eq!(Backend::of_slots(&slots, false), [Backend::Keyutils, Backend::SecretService]);
        assert_eq!(Backend::of_slots(&slots, true), [Backend::Keyutils]);
    }

    #[test]
    fn keyring_errors_never_echo_what_the_store_returned() {
        use keyring_core::Error as K;
        let stored = b"kwt1-this-is-what-the-store-held".to_vec();
        let text = describe(&K::BadEncoding(stored.clone()));
        assert_eq!(text, "the stored entry is not a keyward key");
        assert!(!text.contains("kwt1"));
        assert_eq!(describe(&K::NoEntry), "no entry");
        let io = |text: &str| Box::new(std::io::Error::other(text.to_owned()));
        assert_eq!(describe(&K::PlatformFailure(io("the bus is gone"))), "the bus is gone");
        assert_eq!(describe(&K::NoStorageAccess(io("locked collection"))), "access refused: locked collection");
        assert!(describe(&K::NotSupportedByStore("attributes".into())).contains("attributes"));
        assert_eq!(
            unavailable(Backend::Keyutils, "gone").to_string(),
            Error::KeyringUnavailable { backend: "keyutils", reason: "gone".into() }.to_string()
        );
    }

    #[test]
    fn no_keyring_is_a_choice_that_needs_no_backend() {
        assert_eq!(choose(Choice::None).unwrap(), None);
    }
}
