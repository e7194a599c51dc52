//! An opened version 1 vault: one binary file, one data key, one encrypted payload (see
//! `docs/vault-format.md`, "Version 1").

use std::ops::Range;

use zeroize::Zeroizing;

use super::format::{self, Header, ParseError, Slot, SlotKind, WRAPPED_LEN};
use super::payload::{DecodeError, PayloadView, Records};
use super::secret::Secret;
use super::{crypto, slots};
use crate::sensitive::Key32;

/// A version 1 file read but not opened: its header is readable, its payload is not.
pub struct Locked1 {
    pub header: Header,
    /// The whole file; the payload is decrypted in place, so a large vault is held once.
    bytes: Zeroizing<Vec<u8>>,
    aad_len: usize,
    ciphertext_start: usize,
}

/// A payload that does not authenticate under a data key a slot gave.
pub struct PayloadRefused;

impl Locked1 {
    pub fn parse(bytes: Zeroizing<Vec<u8>>) -> Result<Locked1, ParseError> {
        let parsed = format::parse(&bytes)?;
        let (header, aad_len) = (parsed.header, parsed.aad.len());
        let ciphertext_start = bytes.len() - parsed.ciphertext.len();
        Ok(Locked1 { header, bytes, aad_len, ciphertext_start })
    }

    /// Tries to open `slot` with a key-encryption key.
    pub fn unwrap_slot(&self, slot: &Slot, kek: &Key32) -> Option<Key32> {
        unwrap_slot(&self.header.vault_id, slot, kek)
    }

    /// Decrypts the payload.
    pub fn open(self, data_key: Key32) -> Result<Vault1, PayloadRefused> {
        let Locked1 { header, mut bytes, aad_len, ciphertext_start } = self;
        let (head, ciphertext) = bytes.split_at_mut(ciphertext_start);
        let Ok(len) = crypto::open_in_place(&data_key, &header.payload_nonce, &head[..aad_len], ciphertext) else {
            return Err(PayloadRefused);
        };
        let payload = ciphertext_start..ciphertext_start + len;
        // A payload that authenticates but does not parse is refused by the first `view()`, which
        // every use of the vault makes; parsing it here too would double the cost of a `get`.
        Ok(Vault1 { header, data_key, buf: bytes, payload })
    }
}

pub fn unwrap_slot(vault_id: &[u8; 16], slot: &Slot, kek: &Key32) -> Option<Key32> {
    let mut buf = Zeroizing::new(slot.wrapped.to_vec());
    let aad = format::slot_aad(vault_id, slot.kind, &slot.label);
    crypto::open(kek, &slot.nonce, &aad, &mut buf).ok()?;
    Key32::from_slice(&buf)
}

/// An opened version 1 vault: the header, the data key and the decrypted payload.
pub struct Vault1 {
    pub header: Header,
    data_key: Key32,
    /// `buf[payload]` is the plaintext.
    buf: Zeroizing<Vec<u8>>,
    payload: Range<usize>,
}

impl Vault1 {
    /// A new, empty vault with no slots yet.
    pub fn create(now: i64) -> Vault1 {
        let header = Header { vault_id: crypto::random(), created: now, payload_nonce: [0; 12], slots: Vec::new() };
        let mut vault = Vault1 { header, data_key: Key32::random(), buf: Zeroizing::new(Vec::new()), payload: 0..0 };
        vault.set_records(&Records::default());
        vault
    }

    pub fn view(&self) -> Result<PayloadView<'_>, DecodeError> {
        PayloadView::parse(&self.buf[self.payload.clone()]).map_err(|_| DecodeError::Undecodable)
    }

    /// Finds and decodes one secret; the others are not decoded.
    pub fn find(&self, name: &str) -> Result<Option<Secret>, DecodeError> {
        self.view()?.find(name).map(super::payload::RecordView::decode).transpose()
    }

    pub fn secrets(&self) -> Result<Vec<Secret>, DecodeError> {
        self.view()?.records.iter().map(super::payload::RecordView::decode).collect()
    }

    pub fn records(&self) -> Result<Records, DecodeError> {
        self.view()?.to_owned_records()
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

    /// Only the settings, which come first in the payload: the records need no parsing.
    pub fn settings(&self) -> Result<Vec<(&str, &str)>, DecodeError> {
        let (settings, _) = postcard::take_from_bytes::<Vec<(&str, &str)>>(&self.buf[self.payload.clone()])
            .map_err(|_| DecodeError::Undecodable)?;
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
}
