//! The audit log's keys: a random audit secret kept in the vault's payload, the MAC and
//! fingerprint keys derived from it, and the MAC keys of earlier epochs kept after
//! [`rotate_secret`].

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sensitive::Key32;
use crate::vault::Vault;

/// Keys for one vault's log: entry MACs and value fingerprints.
pub struct Keys {
    mac: Key32,
    fingerprint: Key32,
}

fn hkdf(ikm: &[u8], info: &[u8]) -> Key32 {
    crate::vault::crypto::hkdf(ikm, None, info)
}

fn hmac_hex(key: &Key32, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).expect("any key length");
    mac.update(data);
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

impl Keys {
    pub fn derive(audit_secret: &[u8]) -> Keys {
        Keys {
            mac: hkdf(audit_secret, b"keyward/v1/audit-mac"),
            fingerprint: hkdf(audit_secret, b"keyward/v1/fingerprint"),
        }
    }

    /// The MAC key alone, kept to verify entries of an earlier epoch (see [`verify`]).
    pub fn mac_key(&self) -> &Key32 {
        &self.mac
    }

    /// Keys that can only verify: an earlier epoch's MAC key, kept in the vault after a rotation.
    pub fn verifier(mac: Key32) -> Keys {
        Keys { fingerprint: mac.clone(), mac }
    }

    /// A vault's current keys: from the random audit secret kept in its payload (so they
    /// survive `key rotate`'s new data key), or from the data key for vaults made before the
    /// secret existed.
    pub fn of(vault: &Vault) -> Result<Keys> {
        let secret = vault.setting(SECRET_SETTING)?.and_then(|v| data_encoding::HEXLOWER.decode(v.as_bytes()).ok());
        Ok(match secret {
            Some(secret) => Keys::derive(&zeroize::Zeroizing::new(secret)),
            // Format 1 vaults made before the audit secret existed; every format 2 vault has one.
            None => Keys::derive(vault.backup_key()?.expose()),
        })
    }
}

/// The payload setting that holds the audit secret (hex).
pub const SECRET_SETTING: &str = "audit_secret";
/// The payload setting that holds the MAC keys of earlier audit epochs (hex, comma-separated).
pub const HISTORY_SETTING: &str = "audit_history";

/// Gives a new vault its audit secret.
pub fn init_secret(vault: &mut Vault) -> Result<()> {
    let secret = Zeroizing::new(data_encoding::HEXLOWER.encode(&crate::vault::crypto::random::<32>()));
    vault.set_settings(&[(SECRET_SETTING, &secret)])
}

/// Every epoch's keys of a vault's log, oldest first, the current ones last: earlier epochs' MAC
/// keys are kept so the log verifies across [`rotate_secret`].
pub fn key_chain(vault: &Vault) -> Result<Vec<Keys>> {
    let history = vault.setting(HISTORY_SETTING)?.unwrap_or_default();
    let mut chain = Vec::new();
    for hex in history.split(',').filter(|h| !h.is_empty()) {
        let mac = data_encoding::HEXLOWER.decode(hex.as_bytes()).ok().and_then(|b| Key32::from_slice(&b));
        let mac = mac.ok_or_else(|| Error::damaged(&vault.path, "an earlier audit key cannot be decoded"))?;
        chain.push(Keys::verifier(mac));
    }
    chain.push(Keys::of(vault)?);
    Ok(chain)
}

/// A new audit secret for a vault: whoever read the old one (a removed token holder who
/// decrypted the payload) can no longer write authenticated entries. The old epoch's MAC key
/// joins the history, so the log still verifies. Call before replacing the data key (a legacy
/// vault's keys come from it).
pub fn rotate_secret(vault: &mut Vault) -> Result<()> {
    let old_mac = Zeroizing::new(data_encoding::HEXLOWER.encode(Keys::of(vault)?.mac_key().expose()));
    let earlier = vault.setting(HISTORY_SETTING)?.unwrap_or_default();
    // Sized up front: MAC keys, not to be left behind by a growing buffer.
    let mut history = Zeroizing::new(String::with_capacity(earlier.len() + 1 + old_mac.len()));
    if !earlier.is_empty() {
        history.push_str(&earlier);
        history.push(',');
    }
    history.push_str(&old_mac);
    let secret = Zeroizing::new(data_encoding::HEXLOWER.encode(&crate::vault::crypto::random::<32>()));
    vault.set_settings(&[(SECRET_SETTING, &secret), (HISTORY_SETTING, &history)])
}

impl Keys {
    /// A short, non-reversible fingerprint of a value: 8 hex digits of an HMAC under a vault key
    /// (never the value, never a plain hash of it that could be looked up).
    pub fn fingerprint(&self, value: &str) -> String {
        hmac_hex(&self.fingerprint, value.as_bytes())[..8].to_owned()
    }

    pub(super) fn mac(&self, data: &[u8]) -> String {
        hmac_hex(&self.mac, data)
    }
}
