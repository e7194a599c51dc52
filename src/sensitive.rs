//! Types that hold secret material.
//!
//! Each one zeroizes its memory on drop and prints as `[redacted]`, so a stray `{:?}` in an error or
//! a log can never show a value. Serialization writes into buffers that are zeroized when they grow
//! (see [`ZeroizingFlavor`]), so no copy of a value is left behind in freed heap memory.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use zeroize::{Zeroize, Zeroizing};

/// A secret value as stored in the vault: UTF-8 text, at most [`SecretValue::MAX_LEN`] bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// A random value from the OS generator, URL-safe base64 without padding.
    pub fn generate(bytes: usize, prefix: Option<&str>) -> Result<SecretValue> {
        let prefix = prefix.unwrap_or("");
        if prefix.len() > 32 || !prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err(Error::invalid("prefix", prefix, "use up to 32 letters, digits, '_', '-' or '.'"));
        }
        let mut raw = zeroize::Zeroizing::new(vec![0u8; bytes]);
        getrandom::fill(&mut raw).expect("the operating system's random number generator failed");
        let encoding = &data_encoding::BASE64URL_NOPAD;
        let mut value = String::with_capacity(prefix.len() + encoding.encode_len(bytes));
        value.push_str(prefix);
        encoding.encode_append(&raw, &mut value);
        Ok(SecretValue::new(value))
    }

    pub const MAX_LEN: usize = 64 * 1024;

    pub fn new(value: String) -> Self {
        SecretValue(Zeroizing::new(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    /// Borrows from the (zeroizing) plaintext and copies once into an exactly sized buffer, so
    /// deserialization leaves no partial copies behind.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let borrowed = <&'de str>::deserialize(d)?;
        let mut owned = String::with_capacity(borrowed.len());
        owned.push_str(borrowed);
        Ok(SecretValue::new(owned))
    }
}

/// A 256-bit key: the vault's data key, a key-encryption key, or a slot secret.
#[derive(Clone)]
pub struct Key32(Zeroizing<[u8; 32]>);

impl Key32 {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Key32(Zeroizing::new(bytes))
    }

    pub fn random() -> Self {
        let mut key = Key32(Zeroizing::new([0u8; 32]));
        getrandom::fill(key.0.as_mut()).expect("the operating system's random number generator failed");
        key
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        let key = Key32::from_bytes(array);
        Some(key)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn expose_mut(&mut self) -> &mut [u8; 32] {
        &mut self.0
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key32([redacted])")
    }
}

/// A passphrase typed by the user or read from `KEYWARD_PASSPHRASE_FILE`.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    pub fn new(text: String) -> Self {
        Passphrase(Zeroizing::new(text))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase([redacted])")
    }
}

/// A postcard output flavor that never leaves a copy of its contents in freed memory: when the
/// buffer must grow, the old allocation is zeroized before it is released.
pub struct ZeroizingFlavor {
    buf: Zeroizing<Vec<u8>>,
}

impl ZeroizingFlavor {
    pub fn with_capacity(capacity: usize) -> Self {
        ZeroizingFlavor { buf: Zeroizing::new(Vec::with_capacity(capacity)) }
    }

    fn reserve(&mut self, extra: usize) {
        let needed = self.buf.len() + extra;
        if needed > self.buf.capacity() {
            let mut grown = Vec::with_capacity(needed.max(self.buf.capacity() * 2).max(64));
            grown.extend_from_slice(&self.buf);
            let mut old = std::mem::replace(&mut *self.buf, grown);
            old.zeroize();
        }
    }
}

impl postcard::ser_flavors::Flavor for ZeroizingFlavor {
    type Output = Zeroizing<Vec<u8>>;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.reserve(1);
        self.buf.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.reserve(data.len());
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Self::Output> {
        Ok(self.buf)
    }
}

/// Serializes `value` with postcard into a zeroizing buffer.
pub fn to_zeroizing_bytes<T: Serialize + ?Sized>(value: &T, capacity_hint: usize) -> Zeroizing<Vec<u8>> {
    postcard::serialize_with_flavor(value, ZeroizingFlavor::with_capacity(capacity_hint))
        .expect("serializing into memory cannot fail")
}

/// Owned secret bytes (an encoded secret record), zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn copy_from(bytes: &[u8]) -> Self {
        let mut v = Vec::with_capacity(bytes.len());
        v.extend_from_slice(bytes);
        SecretBytes(Zeroizing::new(v))
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted; {}])", self.0.len())
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

// ---------------------------------------------------------------- reading secrets

/// The value of environment variable `name`, in a buffer wiped on drop (std hands out a plain
/// copy of the environment's bytes; this one is not left behind in freed memory).
pub fn env_secret(name: &str) -> Option<Zeroizing<Vec<u8>>> {
    use std::os::unix::ffi::OsStringExt;
    std::env::var_os(name).map(|v| Zeroizing::new(v.into_vec()))
}

/// Every environment variable, each value in a buffer wiped on drop: the environment holds
/// secrets (`KEYWARD_VAULT_KEY`, whatever the caller exported), and std's iterator hands out
/// plain copies.
pub fn env_vars() -> impl Iterator<Item = (OsString, Zeroizing<Vec<u8>>)> {
    use std::os::unix::ffi::OsStringExt;
    std::env::vars_os().map(|(k, v)| (k, Zeroizing::new(v.into_vec())))
}

/// The longest passphrase, recovery key or token read (from a prompt or a file).
pub const PASSPHRASE_LIMIT: usize = 4096;

/// Removes one trailing `\n` or `\r\n`.
fn strip_one_newline(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
}

/// Reads at most `limit` bytes (plus room for one line ending), without reallocating, so no copy
/// of the input is left in freed memory.
pub fn read_bounded(
    reader: &mut dyn Read,
    limit: usize,
    what: &'static str,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>> {
    let cap = limit + 3;
    let mut buf = Zeroizing::new(Vec::with_capacity(cap + 64));
    reader.take(cap as u64).read_to_end(&mut buf).map_err(|e| Error::io(what, path, e))?;
    strip_one_newline(&mut buf);
    if buf.len() > limit {
        return Err(Error::ValueTooLarge { limit });
    }
    Ok(buf)
}

pub fn into_text(mut buf: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>> {
    match String::from_utf8(std::mem::take(&mut *buf)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(Error::ValueNotUtf8)
        }
    }
}

/// A passphrase from a file (`KEYWARD_PASSPHRASE_FILE`): one trailing newline removed, at most
/// [`PASSPHRASE_LIMIT`] bytes, read without copies.
pub fn read_passphrase_file(path: &Path) -> Result<Passphrase> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot read passphrase file", path, e))?;
    let buf = read_bounded(&mut file, PASSPHRASE_LIMIT, "cannot read passphrase file", path)?;
    let text = into_text(buf)?;
    if text.is_empty() {
        return Err(Error::invalid("passphrase file", path.display().to_string(), "it is empty"));
    }
    Ok(Passphrase::new(text.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_random_url_safe_and_sized() {
        let a = SecretValue::generate(32, Some("whk_")).unwrap();
        let b = SecretValue::generate(32, Some("whk_")).unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("whk_"));
        assert_eq!(a.len(), 4 + 43);
        assert!(a.expose()[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(SecretValue::generate(32, Some("bad prefix")).is_err());
    }

    #[test]
    fn debug_output_is_redacted() {
        let value = SecretValue::new("sk_live_sentinel".into());
        assert!(!format!("{value:?}").contains("sentinel"));
        assert!(!format!("{:?}", Key32::from_bytes([7; 32])).contains('7'));
        assert!(!format!("{:?}", Passphrase::new("hunter2".into())).contains("hunter2"));
    }

    #[test]
    fn zeroizing_flavor_matches_postcard() {
        let data: Vec<String> = (0..100).map(|i| format!("entry-{i}")).collect();
        let ours = to_zeroizing_bytes(&data, 1);
        assert_eq!(&ours[..], &postcard::to_allocvec(&data).unwrap()[..]);
    }
}
