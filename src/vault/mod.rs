//! The vault: the only module that touches vault bytes.
//!
//! [`format`](mod@format) is the file layout, [`crypto`] the primitives, [`payload`] and
//! [`secret`] the decrypted contents, [`store`] the file on disk, [`location`] which file is in
//! use, [`backup`] the backup format.

pub mod backup;
pub mod crypto;
pub mod format;
pub mod location;
pub mod payload;
pub mod secret;
pub mod slots;
pub mod store;
pub mod v2;

use std::path::{Path, PathBuf};

use zeroize::{Zeroize, Zeroizing};

use self::format::{Header, ParseError, Slot, SlotKind, WRAPPED_LEN};
use self::payload::{DecodeError, PayloadView, Records};
use self::secret::Secret;
use crate::error::{Error, Result};
use crate::sensitive::Key32;

/// A vault file read from disk but not yet opened: its header is readable, its payload is not.
pub struct Locked {
    pub path: PathBuf,
    pub header: Header,
    /// The whole file; the payload is decrypted in place, so a large vault is held once.
    bytes: Zeroizing<Vec<u8>>,
    aad_len: usize,
    ciphertext_start: usize,
    pub loose_mode: Option<u32>,
}

/// An opened vault: the header, the data key and the decrypted payload.
pub struct Vault {
    pub path: PathBuf,
    pub header: Header,
    data_key: Key32,
    /// `buf[payload]` is the plaintext.
    buf: Zeroizing<Vec<u8>>,
    payload: std::ops::Range<usize>,
}

fn parse_error(path: &Path, e: ParseError) -> Error {
    match e {
        ParseError::NotAVault => Error::NotAVault { path: path.to_owned() },
        ParseError::FutureVersion(found) => {
            Error::FutureVersion { path: path.to_owned(), found, supported: format::VERSION }
        }
        ParseError::Damaged(reason) => Error::damaged(path, reason),
    }
}

impl Locked {
    /// Reads the vault file at `path`.
    pub fn read(path: &Path) -> Result<Locked> {
        Self::read_from(&store::FileStore::new(path))
    }

    /// Reads the vault from a store.
    pub fn read_from(store: &dyn store::Store) -> Result<Locked> {
        let file = store.read()?;
        Self::from_bytes(store.path(), file.bytes, file.loose_mode)
    }

    pub fn from_bytes(path: &Path, bytes: Zeroizing<Vec<u8>>, loose_mode: Option<u32>) -> Result<Locked> {
        let parsed = format::parse(&bytes).map_err(|e| parse_error(path, e))?;
        let (header, aad_len) = (parsed.header, parsed.aad.len());
        let ciphertext_start = bytes.len() - parsed.ciphertext.len();
        Ok(Locked { path: path.to_owned(), header, bytes, aad_len, ciphertext_start, loose_mode })
    }

    /// Tries to open `slot` with a key-encryption key.
    pub fn unwrap_slot(&self, slot: &Slot, kek: &Key32) -> Option<Key32> {
        unwrap_slot(&self.header.vault_id, slot, kek)
    }

    /// Decrypts the payload. A data key that opened a slot but does not authenticate the payload
    /// means the file was changed: damage or tampering, never a wrong key.
    pub fn open(self, data_key: Key32) -> Result<Vault> {
        let Locked { path, header, mut bytes, aad_len, ciphertext_start, .. } = self;
        let (head, ciphertext) = bytes.split_at_mut(ciphertext_start);
        let Ok(len) = crypto::open_in_place(&data_key, &header.payload_nonce, &head[..aad_len], ciphertext) else {
            return Err(Error::damaged(&path, "the payload does not authenticate"));
        };
        let payload = ciphertext_start..ciphertext_start + len;
        // A payload that authenticates but does not parse is refused by the first `view()`, which
        // every use of the vault makes; parsing it here too would double the cost of a `get`.
        Ok(Vault { path, header, data_key, buf: bytes, payload })
    }
}

pub fn unwrap_slot(vault_id: &[u8; 16], slot: &Slot, kek: &Key32) -> Option<Key32> {
    let mut buf = Zeroizing::new(slot.wrapped.to_vec());
    let aad = format::slot_aad(vault_id, slot.kind, &slot.label);
    crypto::open(kek, &slot.nonce, &aad, &mut buf).ok()?;
    Key32::from_slice(&buf)
}

impl Vault {
    /// A new, empty vault with no slots yet.
    pub fn create(path: &Path, now: i64) -> Vault {
        let header = Header { vault_id: crypto::random(), created: now, payload_nonce: [0; 12], slots: Vec::new() };
        let mut vault = Vault {
            path: path.to_owned(),
            header,
            data_key: Key32::random(),
            buf: Zeroizing::new(Vec::new()),
            payload: 0..0,
        };
        vault.set_records(&Records::default());
        vault
    }

    pub fn view(&self) -> Result<PayloadView<'_>> {
        PayloadView::parse(&self.buf[self.payload.clone()]).map_err(|_| self.undecodable())
    }

    fn undecodable(&self) -> Error {
        Error::damaged(&self.path, "the payload authenticates but cannot be decoded")
    }

    /// The error for a record that cannot be read back: damage, naming the record when it can.
    pub fn record_error(&self, e: DecodeError) -> Error {
        match e {
            DecodeError::Undecodable => self.undecodable(),
            DecodeError::Invalid { name, reason } => {
                Error::damaged(&self.path, format!("the record {name:?}: {reason}"))
            }
            DecodeError::NoAccess { domain } => Error::NoDomainAccess { slot: "this key".into(), domain },
            DecodeError::Unsealable { name } => {
                Error::damaged(&self.path, format!("the record {name:?} does not authenticate"))
            }
        }
    }

    /// An error of [`Records::update`] with this vault's path in it.
    pub fn locate(&self, e: Error) -> Error {
        match e {
            Error::RecordDecode(d) => self.record_error(d),
            other => other,
        }
    }

    /// Finds and decodes one secret; the others are not decoded.
    pub fn find(&self, name: &str) -> Result<Option<Secret>> {
        let view = self.view()?;
        view.find(name).map(|r| r.decode().map_err(|e| self.record_error(e))).transpose()
    }

    pub fn get(&self, name: &str) -> Result<Secret> {
        self.find(name)?.ok_or_else(|| Error::SecretNotFound { name: name.to_owned() })
    }

    pub fn secrets(&self) -> Result<Vec<Secret>> {
        let view = self.view()?;
        view.records.iter().map(|r| r.decode().map_err(|e| self.record_error(e))).collect()
    }

    pub fn records(&self) -> Result<Records> {
        self.view()?.to_owned_records().map_err(|e| self.record_error(e))
    }

    /// Changes one secret (see [`Records::update`]); [`Error::SecretNotFound`] when there is
    /// none of that name.
    pub fn update_secret<T>(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut Secret, &mut Records) -> Result<T>,
    ) -> Result<T> {
        let mut records = self.records()?;
        let result = records
            .update(name, change)
            .map_err(|e| self.locate(e))?
            .ok_or_else(|| Error::SecretNotFound { name: name.to_owned() })?;
        self.set_records(&records);
        Ok(result)
    }

    pub fn set_records(&mut self, records: &Records) {
        self.buf = records.encode();
        self.payload = 0..self.buf.len();
    }

    /// Adds a slot holding the data key for `recipient`, replacing any slot of the same kind and
    /// label (and any other passphrase slot: one per vault).
    pub fn add_slot(&mut self, recipient: &dyn slots::Recipient, now: i64) {
        let (kind, label) = (recipient.kind(), recipient.label());
        let salt = crypto::random();
        let (kdf, kek) = recipient.kek(&salt);
        let nonce = crypto::random();
        // Sized for the tag, so sealing never reallocates (which would free a copy of the key
        // unwiped).
        let mut wrapped = Zeroizing::new(Vec::with_capacity(WRAPPED_LEN));
        wrapped.extend_from_slice(self.data_key.expose());
        crypto::seal(&kek, &nonce, &format::slot_aad(&self.header.vault_id, kind, &label), &mut wrapped);
        let slot = Slot {
            kind,
            label: label.clone(),
            created: now,
            kdf,
            salt,
            nonce,
            wrapped: wrapped.as_slice().try_into().expect("a wrapped 32-byte key is 48 bytes"),
        };
        let label = label.as_str();
        // One passphrase slot at most (the parser refuses more): a new one replaces it.
        self.remove_slots(|s| s.kind == kind && (s.label == label || kind == SlotKind::Passphrase));
        self.header.slots.push(slot);
    }

    pub fn remove_slots(&mut self, mut which: impl FnMut(&Slot) -> bool) -> Vec<Slot> {
        let (removed, kept) = std::mem::take(&mut self.header.slots).into_iter().partition(|s| which(s));
        self.header.slots = kept;
        removed
    }

    /// Replaces the data key; every existing slot becomes useless and is dropped.
    pub fn rekey(&mut self) -> Vec<Slot> {
        self.data_key = Key32::random();
        std::mem::take(&mut self.header.slots)
    }

    pub fn data_key(&self) -> &Key32 {
        &self.data_key
    }

    /// A payload setting (vault-wide, encrypted): the audit secret, the next grace deadline.
    pub fn setting(&self, key: &str) -> Result<Option<&str>> {
        Ok(self.settings()?.into_iter().find(|(k, _)| *k == key).map(|(_, v)| v))
    }

    /// Sets payload settings (replacing those of the same keys), keeping the records.
    /// Values may be secrets (the audit secret): the ones replaced are wiped.
    pub fn set_settings(&mut self, values: &[(&str, &str)]) -> Result<()> {
        let mut records = self.records()?;
        for (k, v) in &mut records.settings {
            if values.iter().any(|(key, _)| key == k) {
                v.zeroize();
            }
        }
        records.settings.retain(|(k, _)| !values.iter().any(|(key, _)| key == k));
        for (i, (key, value)) in values.iter().enumerate() {
            records.settings.insert(i, ((*key).to_owned(), (*value).to_owned()));
        }
        self.set_records(&records);
        Ok(())
    }

    /// Only the settings, which come first in the payload: the records need no parsing.
    pub fn settings(&self) -> Result<Vec<(&str, &str)>> {
        let (settings, _) = postcard::take_from_bytes::<Vec<(&str, &str)>>(&self.buf[self.payload.clone()])
            .map_err(|_| self.undecodable())?;
        Ok(settings)
    }

    /// Encrypts the vault under a fresh nonce and returns the whole file.
    pub fn seal(&mut self) -> Vec<u8> {
        self.header.payload_nonce = crypto::random();
        let mut file = format::encode_header(&self.header);
        let aad_len = file.len() - format::CHECKSUM_LEN;
        let plaintext = &self.buf[self.payload.clone()];
        let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + crypto::TAG_LEN));
        buf.extend_from_slice(plaintext);
        crypto::seal(&self.data_key, &self.header.payload_nonce, &file[..aad_len], &mut buf);
        file.extend_from_slice(&buf);
        file
    }

    /// Seals and writes the vault to its file at `self.path`. The caller holds the write lock.
    pub fn save(&mut self) -> Result<()> {
        self.save_to(&store::FileStore::new(&self.path))
    }

    /// Seals the vault and replaces it in `store`. The caller holds the store's lock.
    pub fn save_to(&mut self, store: &dyn store::Store) -> Result<()> {
        let bytes = self.seal();
        store.replace(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::SecretValue;
    use crate::vault::payload::Record;
    use crate::vault::slots::RandomSecret;

    fn sample_vault() -> (Vault, Key32) {
        let mut vault = Vault::create(Path::new("/tmp/x.kw"), 1);
        let token = Key32::random();
        vault.add_slot(&RandomSecret { kind: SlotKind::Token, label: "ci".to_string(), secret: &token }, 1);
        let secret = Secret::new(
            "a".into(),
            "A".into(),
            None,
            crate::vault::secret::Metadata::new(1),
            SecretValue::new("value-1".into()),
            1,
        );
        let mut records = vault.records().unwrap();
        records.records.push(Record::encode(&secret));
        vault.set_records(&records);
        (vault, token)
    }

    fn reopen(bytes: &[u8], token: &Key32) -> Result<Vault> {
        let locked = Locked::from_bytes(Path::new("/tmp/x.kw"), Zeroizing::new(bytes.to_vec()), None)?;
        let slot = locked.header.slots[0].clone();
        let kek = crypto::hkdf_kek(token.expose(), &slot.salt);
        let key = locked.unwrap_slot(&slot, &kek).expect("token opens its slot");
        locked.open(key)
    }

    #[test]
    fn seal_and_reopen() {
        let (mut vault, token) = sample_vault();
        let bytes = vault.seal();
        let reopened = reopen(&bytes, &token).unwrap();
        assert_eq!(reopened.get("a").unwrap().current().unwrap().value.expose(), "value-1");
        assert!(!bytes.windows(7).any(|w| w == b"value-1"), "no plaintext in the file");
    }

    #[test]
    fn every_payload_byte_flip_is_refused_as_damage() {
        let (mut vault, token) = sample_vault();
        let bytes = vault.seal();
        let start = format::encode_header(&vault.header).len();
        for i in start..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            match reopen(&bad, &token) {
                Err(Error::Damaged { .. }) => {}
                other => panic!("flip at {i}: {:?}", other.err()),
            }
        }
    }

    #[test]
    fn a_reopened_vault_lists_its_secrets_and_records() {
        let (mut vault, token) = sample_vault();
        let reopened = reopen(&vault.seal(), &token).unwrap();
        let names: Vec<String> = reopened.secrets().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a"]);
        let records = reopened.records().unwrap();
        assert_eq!(records.records.len(), 1);
    }

    fn slots(vault: &Vault) -> Vec<(SlotKind, &str)> {
        vault.header.slots.iter().map(|s| (s.kind, s.label.as_str())).collect()
    }

    #[test]
    fn a_slot_replaces_only_the_slot_of_the_same_kind_and_label() {
        let (mut vault, old_token) = sample_vault();
        let key = Key32::random();
        vault.add_slot(&RandomSecret { kind: SlotKind::Token, label: "deploy".to_string(), secret: &key }, 2);
        vault.add_slot(&RandomSecret { kind: SlotKind::Keyring, label: "ci".to_string(), secret: &key }, 2);
        assert_eq!(slots(&vault), [(SlotKind::Token, "ci"), (SlotKind::Token, "deploy"), (SlotKind::Keyring, "ci")]);

        let new_token = Key32::random();
        vault.add_slot(&RandomSecret { kind: SlotKind::Token, label: "ci".to_string(), secret: &new_token }, 3);
        assert_eq!(slots(&vault), [(SlotKind::Token, "deploy"), (SlotKind::Keyring, "ci"), (SlotKind::Token, "ci")]);
        let ci = vault.header.slots.iter().find(|s| s.kind == SlotKind::Token && s.label == "ci").unwrap();
        assert!(vault.header.slots.iter().all(|s| s.created > 1), "the first `ci` slot is gone");
        let kek = |k: &Key32| crypto::hkdf_kek(k.expose(), &ci.salt);
        assert!(unwrap_slot(&vault.header.vault_id, ci, &kek(&new_token)).is_some());
        assert!(unwrap_slot(&vault.header.vault_id, ci, &kek(&old_token)).is_none());
    }

    #[test]
    fn removed_and_rekeyed_slots_are_handed_back() {
        let (mut vault, _) = sample_vault();
        let recovery = Key32::random();
        vault.add_slot(&RandomSecret { kind: SlotKind::Recovery, label: "recovery".into(), secret: &recovery }, 2);
        let removed = vault.remove_slots(|s| s.kind == SlotKind::Token);
        assert_eq!(removed.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["ci"]);
        assert_eq!(slots(&vault), [(SlotKind::Recovery, "recovery")]);

        let old_key = vault.data_key().expose().to_owned();
        let dropped = vault.rekey();
        assert_eq!(dropped.iter().map(|s| s.kind).collect::<Vec<_>>(), [SlotKind::Recovery]);
        assert!(vault.header.slots.is_empty());
        assert_ne!(vault.data_key().expose(), &old_key);
    }

    #[test]
    fn save_writes_the_sealed_vault_and_sweeps_stale_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, token) = sample_vault();
        vault.path = dir.path().join("v.kw");
        let stale = dir.path().join(".v.kw.0a1b2c.tmp");
        std::fs::write(&stale, b"left by a killed writer").unwrap();
        vault.save_to(&store::FileStore::new(&vault.path)).unwrap();
        assert!(!stale.exists());
        let bytes = std::fs::read(&vault.path).unwrap();
        assert_eq!(reopen(&bytes, &token).unwrap().get("a").unwrap().current().unwrap().value.expose(), "value-1");
        let opened_header = Locked::read(&vault.path).unwrap().header;
        assert_eq!(opened_header, vault.header, "the file holds the header as last sealed");
    }

    #[test]
    fn a_fresh_nonce_every_save() {
        let (mut vault, _) = sample_vault();
        let a = vault.seal();
        let b = vault.seal();
        assert_ne!(a, b);
    }
}
