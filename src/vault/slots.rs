//! Key slots as recipients and identities, in the manner of rage's `age::Recipient` and
//! `age::Identity`: the vault wraps its data key for a [`Recipient`] and an [`Identity`] opens the
//! slots that are its to open. The implementations for each way in live in [`crate::unlock`];
//! a new kind of slot is one more pair there (and, in format 1, a slot kind byte in [`super::format`]).

use std::collections::BTreeSet;

use super::crypto::{self, Argon2Params, SALT_LEN};
use super::format::{Kdf, Slot, SlotKind};
use super::v2;
use crate::sensitive::Key32;

/// What every format says of a slot: its kind, label, when it was made, and which domains it
/// holds (in format 1, always all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub kind: SlotKind,
    pub label: String,
    pub created: i64,
    pub access: Access,
    /// A passphrase slot's Argon2id parameters.
    pub argon2: Option<Argon2Params>,
    /// Format 2: the slot's public key (`age1…`).
    pub recipient: Option<String>,
    /// A member slot: who added it, as the file records it (not proven).
    pub added_by: Option<String>,
    /// A member slot made from an SSH key: the `ssh-ed25519` blob.
    pub ssh: Option<String>,
}

impl SlotInfo {
    /// How messages name it: `token ci`, `the recovery key`, `keyring keyutils@laptop`.
    pub fn describe(&self) -> String {
        match self.kind {
            SlotKind::Token => format!("token {}", self.label),
            SlotKind::Keyring => format!("keyring {}", self.label),
            SlotKind::Recovery => "the recovery key".into(),
            SlotKind::Passphrase => "the passphrase".into(),
            SlotKind::Member => format!("member {}", self.label),
            SlotKind::Kms => format!("KMS slot {}", self.label),
        }
    }
}

/// A slot's access: every domain (in format 2, a recipient of `@all`), or these environments
/// and `@default`, which every slot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    All,
    Domains(BTreeSet<String>),
}

impl Access {
    pub fn holds(&self, domain: &str) -> bool {
        match self {
            Access::All => true,
            Access::Domains(d) => domain == v2::text::DEFAULT || d.contains(domain),
        }
    }
}

/// The secret side of a way in, in the manner of rage's `age::Identity`: it knows which slots are
/// its to try and derives their key-encryption key. One implementation per kind of slot, each in
/// its module of [`crate::unlock`]: a recovery key or token, a keyring entry, a passphrase.
pub trait Identity {
    /// Whether a slot of this kind and label is one this identity may try (for a keyring
    /// entry, one of its backend).
    fn fits(&self, kind: SlotKind, label: &str) -> bool;
    /// Format 1: the key-encryption key of a fitting slot; `None` when this identity cannot
    /// derive one (another KDF, a spent derivation budget).
    fn kek(&mut self, slot: &Slot) -> Option<Key32>;
    /// Format 2: the X25519 secret this identity has for a fitting slot (whose recipient the
    /// caller compares); `None` when it cannot derive one.
    fn x25519(&mut self, slot: &v2::text::Slot) -> Option<Key32>;
    /// What it is, for messages: "token", "recovery key", "keyring", "passphrase".
    fn describe(&self) -> &'static str;
    /// Format 2: a plugin identity (it opens wraps by running its plugin, and has no X25519
    /// secret to give); `None` for every other kind.
    fn plugin(&self) -> Option<std::sync::Arc<v2::plugin::PluginIdentity>> {
        None
    }
    /// A copy, for the credential a process keeps.
    fn boxed(&self) -> Box<dyn Identity>;
}

/// The public side, in the manner of rage's `age::Recipient`: what a new slot is made for.
pub trait Recipient {
    fn kind(&self) -> SlotKind;
    fn label(&self) -> String;
    /// Format 1: the KDF and key-encryption key of a new slot with this salt.
    fn kek(&self, salt: &[u8; SALT_LEN]) -> (Kdf, Key32);
    /// Format 2: the X25519 secret of a new slot with this salt, and the Argon2id parameters it
    /// was derived with (a passphrase; `None` for a random secret).
    fn x25519(&self, salt: &[u8; SALT_LEN]) -> (Key32, Option<Argon2Params>);
}

/// A random 256-bit secret as a slot's recipient: a keyring entry, a recovery key, a token.
pub struct RandomSecret<'a> {
    pub kind: SlotKind,
    pub label: String,
    pub secret: &'a Key32,
}

impl Recipient for RandomSecret<'_> {
    fn kind(&self) -> SlotKind {
        self.kind
    }
    fn label(&self) -> String {
        self.label.clone()
    }
    fn kek(&self, salt: &[u8; SALT_LEN]) -> (Kdf, Key32) {
        (Kdf::HkdfSha256, crypto::hkdf_kek(self.secret.expose(), salt))
    }
    fn x25519(&self, _: &[u8; SALT_LEN]) -> (Key32, Option<Argon2Params>) {
        (self.secret.clone(), None)
    }
}
