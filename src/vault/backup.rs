//! The backup format: an encrypted, integrity-checked snapshot of a vault file and its audit log.
//!
//! ```text
//! "\x89KWBACK1" | version u16 | mode u8
//! mode 1 (vault key):  vault_len u32 | the vault file (already encrypted; its slots unlock the backup)
//! mode 2 (passphrase): Argon2id m_kib u32 | t u32 | p u32
//! salt (16) | nonce (12) | AES-256-GCM ciphertext + tag, with everything before it as associated data
//! ```
//! The plaintext is `postcard((files, sha256(postcard(files))))`: the vault file (named
//! [`VAULT_FILE`]) and every audit segment and head (named `audit/<file>`). The parser is bounded
//! like the vault's: any bytes give a parsed header or a clean error, and nothing is returned
//! before the whole backup authenticates and its checksum matches.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::crypto::{self, Argon2Params};
use crate::error::{Error, Result};
use crate::sensitive::Key32;

const MAGIC: &[u8; 8] = b"\x89KWBACK1";
const VERSION: u16 = 1;
/// The name of the vault file inside a backup.
pub const VAULT_FILE: &str = "vault.kw";
/// No backup is larger: a file that is, is not one.
pub const MAX_BACKUP: u64 = 1 << 30;

/// The files in a backup; wiped when dropped (the audit log is not secret, but it is not the
/// world's either, and the vault file is encrypted anyway: this is cheap).
#[derive(Serialize, Deserialize)]
pub struct Bundle {
    pub files: Vec<(String, Vec<u8>)>,
    checksum: [u8; 32],
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for (_, bytes) in &mut self.files {
            zeroize::Zeroize::zeroize(bytes);
        }
    }
}

impl Bundle {
    pub fn new(files: Vec<(String, Vec<u8>)>) -> Bundle {
        Bundle { checksum: checksum(&files), files }
    }

    /// The vault file's bytes.
    pub fn vault(&self) -> Option<&[u8]> {
        self.files.iter().find(|(n, _)| n == VAULT_FILE).map(|(_, b)| b.as_slice())
    }
}

fn checksum(files: &[(String, Vec<u8>)]) -> [u8; 32] {
    crypto::sha256(&postcard::to_allocvec(files).expect("files serialize"))
}

/// The key of a backup protected by the vault's data key.
fn backup_key(data_key: &Key32, salt: &[u8; 16]) -> Key32 {
    crypto::hkdf(data_key.expose(), Some(salt), b"keyward/v1/backup")
}

/// What protects a backup.
pub enum Protection<'a> {
    /// The vault's own key: the backup carries the (encrypted) vault file in the clear part, and
    /// whatever opens the vault opens the backup.
    VaultKey { vault_file: &'a [u8], data_key: &'a Key32 },
    /// A passphrase (Argon2id with the default parameters): restores where no slot opens.
    Passphrase(&'a str),
}

/// Encrypts `bundle` into a backup file.
pub fn seal(bundle: &Bundle, protection: &Protection<'_>) -> Vec<u8> {
    let salt: [u8; 16] = crypto::random();
    let nonce: [u8; 12] = crypto::random();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_le_bytes());
    let key = match protection {
        Protection::VaultKey { vault_file, data_key } => {
            out.push(1);
            out.extend_from_slice(&u32::try_from(vault_file.len()).expect("a vault under 4 GiB").to_le_bytes());
            out.extend_from_slice(vault_file);
            backup_key(data_key, &salt)
        }
        Protection::Passphrase(pass) => {
            let p = Argon2Params::DEFAULT;
            out.push(2);
            for v in [p.m_kib, p.t, p.p] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            crypto::argon2_kek(pass.as_bytes(), &salt, p)
        }
    };
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let mut buf = postcard::to_allocvec(bundle).expect("the bundle serializes");
    crypto::seal(&key, &nonce, &out, &mut buf);
    out.extend_from_slice(&buf);
    zeroize::Zeroize::zeroize(&mut buf);
    out
}

/// A backup's clear header.
pub struct Parsed<'a> {
    /// Mode 1: the vault file whose key opens the backup.
    pub vault_file: Option<&'a [u8]>,
    /// Mode 2: the Argon2id parameters of the passphrase (checked against the limits).
    pub argon: Option<Argon2Params>,
    salt: [u8; 16],
    nonce: [u8; 12],
    aad: &'a [u8],
    ciphertext: &'a [u8],
}

fn damaged(why: &str) -> Error {
    Error::Backup(format!("the backup {why}"))
}

/// Reads fixed-size fields off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(damaged("is truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
}

/// Parses a backup's clear header.
pub fn parse(data: &[u8]) -> Result<Parsed<'_>> {
    let mut r = Reader(data);
    if r.take(8).ok() != Some(&MAGIC[..]) {
        return Err(damaged("is not a keyward backup"));
    }
    let version = u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes"));
    if version != VERSION {
        return Err(damaged(&format!("uses format version {version}, which this keyward does not read")));
    }
    let (mut vault_file, mut argon) = (None, None);
    match r.take(1)?[0] {
        1 => {
            let len = r.u32()? as usize;
            vault_file = Some(r.take(len)?);
        }
        2 => {
            let p = Argon2Params { m_kib: r.u32()?, t: r.u32()?, p: r.u32()? };
            p.check().map_err(|e| damaged(&format!("asks for {e}")))?;
            argon = Some(p);
        }
        _ => return Err(damaged("has an unknown protection mode")),
    }
    let salt: [u8; 16] = r.take(16)?.try_into().expect("16 bytes");
    let nonce: [u8; 12] = r.take(12)?.try_into().expect("12 bytes");
    let aad_len = data.len() - r.0.len();
    Ok(Parsed { vault_file, argon, salt, nonce, aad: &data[..aad_len], ciphertext: r.0 })
}

/// The key that opens a parsed backup.
pub enum Key<'a> {
    /// Mode 1: the data key of the vault file it carries.
    DataKey(&'a Key32),
    /// Mode 2: the passphrase (an Argon2 derivation with the backup's parameters, counted as
    /// every derivation with a file's parameters is).
    Passphrase(&'a str),
}

impl Parsed<'_> {
    /// Decrypts and checks the bundle: it authenticates and its checksum matches, or nothing.
    pub fn open(&self, key: Key<'_>) -> Result<Bundle> {
        let key = match (key, self.argon) {
            (Key::DataKey(data_key), None) => backup_key(data_key, &self.salt),
            (Key::Passphrase(pass), Some(params)) => crypto::argon2_kek_from_file(pass.as_bytes(), &self.salt, params)
                .map_err(|_| Error::CannotUnlock {
                    path: "the backup".into(),
                    reason: "this process already derived a passphrase twice".into(),
                    hint: "run the command again".into(),
                })?,
            _ => return Err(damaged("is protected another way")),
        };
        let mut buf = Zeroizing::new(self.ciphertext.to_vec());
        crypto::open(&key, &self.nonce, self.aad, &mut buf)
            .map_err(|_| damaged("does not authenticate: it was changed, or the key or passphrase is wrong"))?;
        let bundle: Bundle = postcard::from_bytes(&buf).map_err(|_| damaged("authenticates but cannot be decoded"))?;
        if checksum(&bundle.files) != bundle.checksum {
            return Err(damaged("fails its checksum"));
        }
        if bundle.vault().is_none() {
            return Err(damaged("holds no vault"));
        }
        if let Some(clear) = self.vault_file
            && Some(clear) != bundle.vault()
        {
            return Err(damaged("holds two different vaults"));
        }
        Ok(bundle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> Bundle {
        Bundle::new(vec![(VAULT_FILE.into(), b"vault bytes".to_vec()), ("audit/x.log".into(), b"log".to_vec())])
    }

    #[test]
    fn sealed_backups_open_with_their_key_only() {
        let data_key = Key32::random();
        let sealed = seal(&bundle(), &Protection::VaultKey { vault_file: b"vault bytes", data_key: &data_key });
        let parsed = parse(&sealed).unwrap();
        assert_eq!(parsed.vault_file, Some(&b"vault bytes"[..]));
        let opened = parsed.open(Key::DataKey(&data_key)).unwrap();
        assert_eq!(opened.files.len(), 2);
        assert!(parsed.open(Key::DataKey(&Key32::random())).is_err());
        assert!(parsed.open(Key::Passphrase("x")).is_err(), "the wrong kind of key");
    }

    #[test]
    fn every_truncation_and_flip_is_an_error_not_a_panic() {
        let data_key = Key32::random();
        let sealed = seal(&bundle(), &Protection::VaultKey { vault_file: b"vault bytes", data_key: &data_key });
        for len in 0..sealed.len() {
            assert!(parse(&sealed[..len]).and_then(|p| p.open(Key::DataKey(&data_key))).is_err(), "length {len}");
        }
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(parse(&bad).and_then(|p| p.open(Key::DataKey(&data_key))).is_err(), "flip at {i}");
        }
    }
}
