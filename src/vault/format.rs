//! The vault file format, version 1. Specified in `docs/vault-format.md`; keep the two in step.
//!
//! ```text
//! magic "\x89KEYWARD" | version u16 | header_len u32 | header (header_len bytes)
//! | SHA-256 of everything before it (32) | payload ciphertext + GCM tag
//! ```
//! The parser is bounded everywhere: any byte string gives a header or a clean error, never a
//! panic, and no length in the file can make it allocate more than the file's own size.

use super::crypto::{self, Argon2Params, NONCE_LEN, SALT_LEN, TAG_LEN};

pub const MAGIC: &[u8; 8] = b"\x89KEYWARD";
pub const VERSION: u16 = 1;
pub const PREFIX_LEN: usize = 8 + 2 + 4;
pub const CHECKSUM_LEN: usize = 32;
pub const MAX_HEADER_LEN: usize = 64 * 1024;
pub const MAX_SLOTS: usize = 64;
pub const MAX_LABEL_LEN: usize = 64;
pub const WRAPPED_LEN: usize = 32 + TAG_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotKind {
    Keyring = 1,
    Recovery = 2,
    Passphrase = 3,
    Token = 4,
    /// A team member's own age identity (format 2 only): the file holds just the public key.
    Member = 5,
    /// A CI job's slot (format 2 only) whose secret the file holds encrypted by AWS KMS: the
    /// job's cloud identity unlocks it.
    Kms = 6,
}

impl SlotKind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => SlotKind::Keyring,
            2 => SlotKind::Recovery,
            3 => SlotKind::Passphrase,
            4 => SlotKind::Token,
            _ => return None,
        })
    }

    /// Whether slots of this kind carry a label (`token:ci`), or stand alone (`recovery`).
    pub fn labelled(self) -> bool {
        matches!(self, SlotKind::Keyring | SlotKind::Token | SlotKind::Member | SlotKind::Kms)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Keyring => "keyring",
            SlotKind::Recovery => "recovery",
            SlotKind::Passphrase => "passphrase",
            SlotKind::Token => "token",
            SlotKind::Member => "member",
            SlotKind::Kms => "kms",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    HkdfSha256,
    Argon2id(Argon2Params),
}

/// One way to open the vault: the data key wrapped under a key derived from one unlock secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub kind: SlotKind,
    pub label: String,
    pub created: i64,
    pub kdf: Kdf,
    pub salt: [u8; SALT_LEN],
    pub nonce: [u8; NONCE_LEN],
    pub wrapped: [u8; WRAPPED_LEN],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub vault_id: [u8; 16],
    pub created: i64,
    pub payload_nonce: [u8; NONCE_LEN],
    pub slots: Vec<Slot>,
}

impl Header {
    pub fn vault_id_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.vault_id)
    }
}

/// Why a file could not be parsed. The caller adds the path and picks the error variant.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    NotAVault,
    FutureVersion(u16),
    Damaged(String),
}

fn damaged(reason: impl Into<String>) -> ParseError {
    ParseError::Damaged(reason.into())
}

/// A parsed file: the header, the exact header bytes (the payload's associated data), and the
/// ciphertext.
pub struct Parsed<'a> {
    pub header: Header,
    pub aad: &'a [u8],
    pub ciphertext: &'a [u8],
}

pub fn parse(file: &[u8]) -> Result<Parsed<'_>, ParseError> {
    if file.len() < 8 || &file[..8] != MAGIC {
        return Err(ParseError::NotAVault);
    }
    if file.len() < PREFIX_LEN {
        return Err(damaged("the file is truncated"));
    }
    let version = u16::from_le_bytes([file[8], file[9]]);
    if version > VERSION {
        return Err(ParseError::FutureVersion(version));
    }
    if version != VERSION {
        return Err(damaged(format!("unknown format version {version}")));
    }
    let header_len = u32::from_le_bytes(file[10..14].try_into().expect("4 bytes")) as usize;
    if header_len > MAX_HEADER_LEN {
        return Err(damaged("the header length is out of range"));
    }
    let header_end = PREFIX_LEN + header_len;
    if file.len() < header_end + CHECKSUM_LEN + TAG_LEN {
        return Err(damaged("the file is truncated"));
    }
    let aad = &file[..header_end];
    if crypto::sha256(aad)[..] != file[header_end..header_end + CHECKSUM_LEN] {
        return Err(damaged("the header checksum does not match"));
    }
    let header = parse_header(&file[PREFIX_LEN..header_end])?;
    Ok(Parsed { header, aad, ciphertext: &file[header_end + CHECKSUM_LEN..] })
}

/// Serializes the header; returns the bytes up to and including the checksum.
pub fn encode_header(header: &Header) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + header.slots.len() * 128);
    body.extend_from_slice(&header.vault_id);
    body.extend_from_slice(&header.created.to_le_bytes());
    body.extend_from_slice(&header.payload_nonce);
    body.push(u8::try_from(header.slots.len()).expect("slot count is bounded by MAX_SLOTS"));
    for slot in &header.slots {
        body.push(slot.kind as u8);
        body.push(u8::try_from(slot.label.len()).expect("labels are validated to 64 bytes"));
        body.extend_from_slice(slot.label.as_bytes());
        body.extend_from_slice(&slot.created.to_le_bytes());
        match slot.kdf {
            Kdf::HkdfSha256 => body.push(1),
            Kdf::Argon2id(p) => {
                body.push(2);
                body.extend_from_slice(&p.m_kib.to_le_bytes());
                body.extend_from_slice(&p.t.to_le_bytes());
                body.extend_from_slice(&p.p.to_le_bytes());
            }
        }
        body.extend_from_slice(&slot.salt);
        body.extend_from_slice(&slot.nonce);
        body.extend_from_slice(&slot.wrapped);
    }
    let mut out = Vec::with_capacity(PREFIX_LEN + body.len() + CHECKSUM_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&u32::try_from(body.len()).expect("header is small").to_le_bytes());
    out.extend_from_slice(&body);
    let checksum = crypto::sha256(&out);
    out.extend_from_slice(&checksum);
    out
}

/// The associated data that binds a wrapped key to its vault and slot.
pub fn slot_aad(vault_id: &[u8; 16], kind: SlotKind, label: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + 1 + label.len());
    aad.extend_from_slice(vault_id);
    aad.push(kind as u8);
    aad.extend_from_slice(label.as_bytes());
    aad
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        if self.bytes.len() < n {
            return Err(damaged("the header is truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, ParseError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
}

fn parse_header(body: &[u8]) -> Result<Header, ParseError> {
    let mut r = Reader { bytes: body };
    let vault_id = r.array()?;
    let created = r.i64()?;
    let payload_nonce = r.array()?;
    let count = r.u8()? as usize;
    if count > MAX_SLOTS {
        return Err(damaged("too many key slots"));
    }
    let mut slots = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = SlotKind::from_byte(r.u8()?).ok_or_else(|| damaged("unknown key slot kind"))?;
        let label_len = r.u8()? as usize;
        if label_len > MAX_LABEL_LEN {
            return Err(damaged("a key slot label is too long"));
        }
        let label =
            std::str::from_utf8(r.take(label_len)?).map_err(|_| damaged("a key slot label is not UTF-8"))?.to_owned();
        if label.chars().any(char::is_control) {
            // Labels are printed without unlocking (`key token list`): no terminal escapes.
            return Err(damaged("a key slot label holds control characters"));
        }
        let slot_created = r.i64()?;
        let kdf = match r.u8()? {
            1 => Kdf::HkdfSha256,
            2 => {
                let params = Argon2Params { m_kib: r.u32()?, t: r.u32()?, p: r.u32()? };
                params.check().map_err(ParseError::Damaged)?;
                Kdf::Argon2id(params)
            }
            _ => return Err(damaged("unknown key derivation function")),
        };
        let salt = r.array()?;
        let nonce = r.array()?;
        let wrapped = r.array()?;
        if kind == SlotKind::Passphrase && slots.iter().any(|s: &Slot| s.kind == SlotKind::Passphrase) {
            // Each passphrase slot costs an Argon2 derivation to try: a file with many is an
            // attack on whoever opens it, not something keyward writes.
            return Err(damaged("more than one passphrase slot"));
        }
        slots.push(Slot { kind, label, created: slot_created, kdf, salt, nonce, wrapped });
    }
    if !r.bytes.is_empty() {
        return Err(damaged("unexpected bytes after the key slots"));
    }
    Ok(Header { vault_id, created, payload_nonce, slots })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            vault_id: [3; 16],
            created: 1_700_000_000,
            payload_nonce: [4; 12],
            slots: vec![
                Slot {
                    kind: SlotKind::Keyring,
                    label: "keyutils@host".into(),
                    created: 1,
                    kdf: Kdf::HkdfSha256,
                    salt: [5; 16],
                    nonce: [6; 12],
                    wrapped: [7; 48],
                },
                Slot {
                    kind: SlotKind::Passphrase,
                    label: String::new(),
                    created: 2,
                    kdf: Kdf::Argon2id(Argon2Params::DEFAULT),
                    salt: [8; 16],
                    nonce: [9; 12],
                    wrapped: [10; 48],
                },
            ],
        }
    }

    fn file_with(header: &Header) -> Vec<u8> {
        let mut file = encode_header(header);
        file.extend_from_slice(&[0u8; 32]);
        file
    }

    #[test]
    fn header_round_trips() {
        let file = file_with(&sample());
        let parsed = parse(&file).unwrap();
        assert_eq!(parsed.header, sample());
        assert_eq!(parsed.ciphertext.len(), 32);
    }

    #[test]
    fn the_largest_header_the_writer_makes_is_read_back() {
        let mut header = sample();
        let slot = header.slots[0].clone();
        header.slots =
            (0..MAX_SLOTS).map(|i| Slot { label: format!("{i:0>MAX_LABEL_LEN$}"), ..slot.clone() }).collect();
        let file = file_with(&header);
        assert!(file.len() > 8 * 1024, "{} bytes", file.len());
        assert_eq!(parse(&file).unwrap().header, header);
        let mut too_many = header.clone();
        too_many.slots.push(slot);
        assert!(parse(&file_with(&too_many)).is_err(), "more than MAX_SLOTS slots");
        let mut long_label = sample();
        long_label.slots[0].label = "l".repeat(MAX_LABEL_LEN + 1);
        assert!(parse(&file_with(&long_label)).is_err(), "a label over MAX_LABEL_LEN");
    }

    #[test]
    fn every_truncation_is_refused_cleanly() {
        let file = file_with(&sample());
        for len in 0..file.len() - 16 {
            assert!(parse(&file[..len]).is_err(), "length {len} parsed");
        }
    }

    #[test]
    fn every_header_byte_flip_is_refused() {
        let file = file_with(&sample());
        let header_end = encode_header(&sample()).len();
        for i in 0..header_end {
            let mut bad = file.clone();
            bad[i] ^= 0x40;
            assert!(parse(&bad).is_err(), "flip at {i} parsed");
        }
    }

    #[test]
    fn future_version_has_its_own_error() {
        let mut file = file_with(&sample());
        file[8] = 9;
        assert_eq!(parse(&file).err(), Some(ParseError::FutureVersion(9)));
        assert_eq!(parse(b"not a vault at all").err(), Some(ParseError::NotAVault));
    }

    #[test]
    fn an_absurd_header_length_is_named_as_such() {
        // Found by mutation testing: without the range check the same file is reported as
        // truncated, which sends the user looking for a partial copy instead of tampering.
        let mut file = file_with(&sample());
        file[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&file).err(), Some(damaged("the header length is out of range")));
    }

    #[test]
    fn the_size_limits_are_inclusive() {
        let truncated = Some(damaged("the file is truncated"));
        // The magic alone: ours, cut short (not "not a vault").
        assert_eq!(parse(MAGIC).err(), truncated);
        assert_eq!(parse(&MAGIC[..7]).err(), Some(ParseError::NotAVault));
        // A header length of exactly the maximum is allowed (and this file is then too short).
        let mut file = file_with(&sample());
        file[10..14].copy_from_slice(&(MAX_HEADER_LEN as u32).to_le_bytes());
        assert_eq!(parse(&file).err(), truncated);
        // The smallest complete file: header, checksum and a bare tag (an empty payload).
        let mut file = encode_header(&sample());
        file.extend_from_slice(&[0u8; TAG_LEN]);
        assert_eq!(parse(&file).unwrap().ciphertext.len(), TAG_LEN);
        assert_eq!(parse(&file[..file.len() - 1]).err(), truncated);
    }

    #[test]
    fn names_shown_to_users() {
        let kinds =
            [SlotKind::Keyring, SlotKind::Recovery, SlotKind::Passphrase, SlotKind::Token].map(SlotKind::as_str);
        assert_eq!(kinds, ["keyring", "recovery", "passphrase", "token"]);
        assert_eq!(sample().vault_id_hex(), "03".repeat(16));
    }
}
