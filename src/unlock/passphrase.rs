//! The passphrase slot: a key-encryption key derived with Argon2id from the passphrase and the
//! slot's salt, with the slot's parameters (bounded by the parser; and a process derives at most
//! twice with parameters from a file, see [`crypto::argon2_kek_from_file`]).

use super::{Identity, Recipient};
use crate::sensitive::{Key32, Passphrase};
use crate::vault::crypto::{self, Argon2Params, SALT_LEN};
use crate::vault::format::{Kdf, Slot, SlotKind};

/// A passphrase, as a way in. Argon2 is slow on purpose: the key derived for a slot's salt and
/// parameters is kept, so opening the vault again (under the write lock) derives nothing.
#[derive(Clone)]
pub struct PassphraseIdentity {
    passphrase: Passphrase,
    cached: Option<([u8; SALT_LEN], Argon2Params, Key32)>,
}

impl PassphraseIdentity {
    pub fn new(passphrase: Passphrase) -> PassphraseIdentity {
        PassphraseIdentity { passphrase, cached: None }
    }
}

impl PassphraseIdentity {
    /// Argon2id of the passphrase with this salt and these parameters (from a file: counted, so a
    /// hostile vault cannot make a process derive again and again), kept for the next call.
    fn derive(&mut self, salt: &[u8; SALT_LEN], params: Argon2Params) -> Option<Key32> {
        if let Some((s, p, key)) = &self.cached
            && s == salt
            && *p == params
        {
            return Some(key.clone());
        }
        let key = crypto::argon2_kek_from_file(self.passphrase.expose().as_bytes(), salt, params).ok()?;
        self.cached = Some((*salt, params, key.clone()));
        Some(key)
    }
}

impl Identity for PassphraseIdentity {
    fn fits(&self, kind: SlotKind, _: &str) -> bool {
        kind == SlotKind::Passphrase
    }

    fn kek(&mut self, slot: &Slot) -> Option<Key32> {
        let Kdf::Argon2id(params) = slot.kdf else { return None };
        self.derive(&slot.salt, params)
    }

    fn x25519(&mut self, slot: &crate::vault::v2::text::Slot) -> Option<Key32> {
        let (params, salt) = slot.argon2?;
        self.derive(&salt, params)
    }

    fn describe(&self) -> &'static str {
        "passphrase"
    }

    fn boxed(&self) -> Box<dyn Identity> {
        Box::new(self.clone())
    }
}

/// A new passphrase slot (one per vault: it replaces the old one).
pub struct PassphraseRecipient<'a> {
    pub passphrase: &'a str,
    pub params: Argon2Params,
}

impl Recipient for PassphraseRecipient<'_> {
    fn kind(&self) -> SlotKind {
        SlotKind::Passphrase
    }
    fn label(&self) -> String {
        String::new()
    }
    fn kek(&self, salt: &[u8; SALT_LEN]) -> (Kdf, Key32) {
        (Kdf::Argon2id(self.params), crypto::argon2_kek(self.passphrase.as_bytes(), salt, self.params))
    }
    fn x25519(&self, salt: &[u8; SALT_LEN]) -> (Key32, Option<Argon2Params>) {
        (crypto::argon2_kek(self.passphrase.as_bytes(), salt, self.params), Some(self.params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unlock::Credential;
    use crate::vault::Vault;

    const CHEAP: Argon2Params = Argon2Params { m_kib: 8, t: 1, p: 1 };

    #[test]
    fn a_passphrase_is_derived_once_per_salt_and_parameters() {
        let mut vault = Vault::create_v1(std::path::Path::new("/nonexistent/vault"), 0);
        vault.add_slot(&PassphraseRecipient { passphrase: "correct horse", params: CHEAP }, 0).unwrap();
        let slot = vault.v1_header().unwrap().slots[0].clone();
        let locked = crate::vault::Locked::from_bytes(
            std::path::Path::new("/nonexistent/vault"),
            zeroize::Zeroizing::new(vault.seal().unwrap()),
            None,
        )
        .unwrap();
        let pass = || Passphrase::new("correct horse".into());
        let mut identity = PassphraseIdentity::new(pass());
        assert!(identity.kek(&slot).is_some());
        let Some((salt, params, _)) = &identity.cached else { panic!("the derived key is cached") };
        assert_eq!((*salt, *params), (slot.salt, CHEAP));
        let opens = |identity: PassphraseIdentity| Credential::new(identity).open(&locked).is_some();

        // The cache is what is used for the same salt and parameters: poison it and the slot no
        // longer opens; with other parameters, the passphrase is derived again and opens it.
        let poisoned = PassphraseIdentity { passphrase: pass(), cached: Some((slot.salt, CHEAP, Key32::random())) };
        assert!(!opens(poisoned));
        let other_params = Argon2Params { m_kib: 16, ..CHEAP };
        let other = PassphraseIdentity { passphrase: pass(), cached: Some((slot.salt, other_params, Key32::random())) };
        assert!(opens(other));
        // That was this thread's second derivation with parameters from a file: a third, with
        // another salt in the cache, is refused whatever the passphrase.
        let third = PassphraseIdentity { passphrase: pass(), cached: Some(([7; 16], CHEAP, Key32::random())) };
        assert!(!opens(third));
    }

    #[test]
    fn a_new_passphrase_slot_replaces_the_old_one() {
        for mut vault in [
            Vault::create_v1(std::path::Path::new("/nonexistent/vault"), 0),
            Vault::create(std::path::Path::new("/nonexistent/vault"), 0),
        ] {
            vault.add_slot(&PassphraseRecipient { passphrase: "first one", params: CHEAP }, 0).unwrap();
            vault.add_slot(&PassphraseRecipient { passphrase: "second one", params: CHEAP }, 1).unwrap();
            let slots = vault.slots();
            assert_eq!(slots.len(), 1);
            assert_eq!(slots[0].created, 1);
        }
    }
}
