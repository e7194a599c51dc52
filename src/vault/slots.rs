//! Key slots as recipients and identities, in the manner of rage's `age::Recipient` and
//! `age::Identity`: the vault wraps its data key for a [`Recipient`] and an [`Identity`] opens the
//! slots that are its to open. The implementations for each way in live in [`crate::unlock`];
//! a new kind of slot is one more pair there (and, in format 1, a slot kind byte in [`super::format`]).

use super::crypto::{self, SALT_LEN};
use super::format::{Kdf, Slot, SlotKind};
use crate::sensitive::Key32;

/// The secret side of a way in, in the manner of rage's `age::Identity`: it knows which slots are
/// its to try and derives their key-encryption key. One implementation per kind of slot, each in
/// its module of [`crate::unlock`]: a recovery key or token, a keyring entry, a passphrase.
pub trait Identity {
    /// Whether `slot` is one this identity may try (its kind; for a keyring entry, its backend).
    fn fits(&self, slot: &Slot) -> bool;
    /// The key-encryption key of a fitting slot; `None` when this identity cannot derive one
    /// (another KDF, a spent derivation budget).
    fn kek(&mut self, slot: &Slot) -> Option<Key32>;
    /// What it is, for messages: "token", "recovery key", "keyring", "passphrase".
    fn describe(&self) -> &'static str;
    /// A copy, for the credential a process keeps.
    fn boxed(&self) -> Box<dyn Identity>;
}

/// The public side, in the manner of rage's `age::Recipient`: what a new slot is made for.
pub trait Recipient {
    fn kind(&self) -> SlotKind;
    fn label(&self) -> String;
    /// The KDF and key-encryption key of a new slot with this salt.
    fn kek(&self, salt: &[u8; SALT_LEN]) -> (Kdf, Key32);
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
}
