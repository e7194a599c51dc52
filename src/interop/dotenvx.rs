//! dotenvx's encrypted `.env` files: `VAR="encrypted:BASE64"` values, each an ECIES message to
//! the file's public key (`DOTENV_PUBLIC_KEY[_ENV]`), whose private key is kept in `.env.keys` or
//! in the environment as `DOTENV_PRIVATE_KEY[_ENV]`.
//!
//! The scheme is eciesjs's default, which dotenvx uses unchanged: secp256k1; the message is the
//! sender's ephemeral public key (65 bytes, uncompressed), a 16-byte nonce, the 16-byte GCM tag
//! and the ciphertext; the AES-256-GCM key is HKDF-SHA256 (no salt, no info) over the ephemeral
//! public key followed by the shared point, both uncompressed. Tested against files the real
//! `dotenvx` CLI encrypted (tests/coming_from.rs).

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use zeroize::{Zeroize, Zeroizing};

use crate::sensitive::Key32;
use crate::vault::crypto;

pub const PREFIX: &str = "encrypted:";
const POINT_LEN: usize = 65;
const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// Why a value did not decrypt. None of these carries the value or the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("the private key is not 64 hexadecimal digits of a secp256k1 key")]
    InvalidPrivateKey,
    #[error("the encrypted value is malformed (not base64, too short, or not a curve point)")]
    Malformed,
    #[error("no private key given decrypts it (wrong key, or the value was changed)")]
    WrongKey,
}

/// A dotenvx private key: 32 bytes, given as hex.
pub struct PrivateKey(SecretKey);

impl PrivateKey {
    pub fn from_hex(hex: &str) -> Result<Self, DecryptError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        let hex = hex.trim();
        if hex.len() != 64 || HEXLOWER_PERMISSIVE.decode_mut(hex.as_bytes(), &mut bytes[..]).is_err() {
            return Err(DecryptError::InvalidPrivateKey);
        }
        SecretKey::from_slice(&bytes[..]).map(Self).map_err(|_| DecryptError::InvalidPrivateKey)
    }

    /// The compressed public key in hex, as dotenvx writes `DOTENV_PUBLIC_KEY`.
    #[must_use]
    pub fn public_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(self.0.public_key().to_encoded_point(true).as_bytes())
    }

    /// Decrypts one `encrypted:…` value (the prefix optional).
    pub fn decrypt(&self, value: &str) -> Result<Zeroizing<String>, DecryptError> {
        let encoded = value.strip_prefix(PREFIX).unwrap_or(value).trim();
        let mut data = Zeroizing::new(BASE64.decode(encoded.as_bytes()).map_err(|_| DecryptError::Malformed)?);
        if data.len() < POINT_LEN + NONCE_LEN + TAG_LEN {
            return Err(DecryptError::Malformed);
        }
        let ephemeral = PublicKey::from_sec1_bytes(&data[..POINT_LEN]).map_err(|_| DecryptError::Malformed)?;
        let shared = (ephemeral.to_projective() * *self.0.to_nonzero_scalar()).to_affine();
        let shared = shared.to_encoded_point(false);
        let mut ikm = Zeroizing::new([0u8; 2 * POINT_LEN]);
        ikm[..POINT_LEN].copy_from_slice(&data[..POINT_LEN]);
        ikm[POINT_LEN..].copy_from_slice(shared.as_bytes());
        let key: Key32 = crypto::hkdf(&ikm[..], None, b"");
        let (nonce, rest) = data[POINT_LEN..].split_at_mut(NONCE_LEN);
        let len = crypto::open_in_place_16(&key, nonce, rest).map_err(|_| DecryptError::WrongKey)?;
        let plain = &rest[TAG_LEN..TAG_LEN + len];
        let text = std::str::from_utf8(plain).map_err(|_| DecryptError::Malformed)?;
        let mut out = Zeroizing::new(String::with_capacity(text.len()));
        out.push_str(text);
        data.zeroize();
        Ok(out)
    }
}

/// The key names for a file's public-key variable: `DOTENV_PUBLIC_KEY_PRODUCTION` →
/// `DOTENV_PRIVATE_KEY_PRODUCTION`; `None` for any other variable.
#[must_use]
pub fn private_key_var(public_var: &str) -> Option<String> {
    public_var
        .strip_prefix("DOTENV_PUBLIC_KEY")
        .filter(|rest| rest.is_empty() || rest.starts_with('_'))
        .map(|rest| format!("DOTENV_PRIVATE_KEY{rest}"))
}

/// The private key's variable for a file, as dotenvx names it: `.env` → `DOTENV_PRIVATE_KEY`,
/// `.env.production` → `DOTENV_PRIVATE_KEY_PRODUCTION`.
#[must_use]
pub fn private_key_var_for_file(file_name: &str) -> String {
    match file_name.strip_prefix(".env.").filter(|rest| !rest.is_empty()) {
        Some(env) => {
            let env: String =
                env.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
            format!("DOTENV_PRIVATE_KEY_{env}")
        }
        None => "DOTENV_PRIVATE_KEY".to_owned(),
    }
}

/// Decrypts with the first of several comma-separated keys that works, as dotenvx does.
pub fn decrypt_with_any(keys: &[PrivateKey], value: &str) -> Result<Zeroizing<String>, DecryptError> {
    let mut last = DecryptError::InvalidPrivateKey;
    for key in keys {
        match key.decrypt(value) {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by `dotenvx encrypt` 2.38.2 (npm @dotenvx/dotenvx) from STRIPE_KEY=sk_live_abc123.
    const PRIVATE: &str = "88b83238a5d7be9be5b95e63e88dc0046a44fc0d95130cfbf86b0c8ee764e143";
    const PUBLIC: &str = "039f6e545508a283c3b0d749ddd11e31210c5e3a06258dfede3bf6fd2189eecf38";
    const STRIPE: &str = "encrypted:BE7iTQDyuEJJlmHIQ3wqBTJduQ9xiUW4XTA+JnPrVuYXag3dyr14fxM6ThVaxVyAKZNk1kBx0oTgIkgb3xbn9wAiJtmHL8w8C60LBq9zkiAqmaInS4QXwqnX/gBWrQj62KrLvqStv65l2YT+MVeC";
    const MULTI: &str = "encrypted:BICCV10xKIu/jY/PVMvIBZLphrWdUOyDOdLIV4RHxlqVpVjh9FMdwVh14XnGg4Hgk9Qq3H3m0QGVuwwEe1C7Oaz/3gFeik9yTjLCuI1brk/aTKmcJQHkbirSKMJOi6WSreBRn3FNIeGVyFY=";

    #[test]
    fn decrypts_what_the_real_dotenvx_encrypted() {
        let key = PrivateKey::from_hex(PRIVATE).unwrap();
        assert_eq!(key.public_hex(), PUBLIC);
        assert_eq!(&*key.decrypt(STRIPE).unwrap(), "sk_live_abc123");
        assert_eq!(&*key.decrypt(MULTI).unwrap(), "multi\nline");
    }

    #[test]
    fn a_changed_value_or_another_key_is_an_error_never_garbage() {
        let key = PrivateKey::from_hex(PRIVATE).unwrap();
        let mut bytes = BASE64.decode(&STRIPE.as_bytes()[PREFIX.len()..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(key.decrypt(&BASE64.encode(&bytes)).unwrap_err(), DecryptError::WrongKey);
        let other = PrivateKey::from_hex(&"11".repeat(32)).unwrap();
        assert_eq!(other.decrypt(STRIPE).unwrap_err(), DecryptError::WrongKey);
        assert_eq!(decrypt_with_any(&[other, key], STRIPE).unwrap().as_str(), "sk_live_abc123");
        let key = PrivateKey::from_hex(PRIVATE).unwrap();
        for bad in ["encrypted:", "encrypted:!!", "encrypted:AAAA", &STRIPE[..40]] {
            assert_eq!(key.decrypt(bad).unwrap_err(), DecryptError::Malformed, "{bad}");
        }
        for bad in ["", "abc", &"zz".repeat(32), &"00".repeat(32), &"ff".repeat(32)] {
            assert!(PrivateKey::from_hex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_variable_names_follow_the_public_key() {
        assert_eq!(private_key_var("DOTENV_PUBLIC_KEY").as_deref(), Some("DOTENV_PRIVATE_KEY"));
        assert_eq!(private_key_var("DOTENV_PUBLIC_KEY_PRODUCTION").as_deref(), Some("DOTENV_PRIVATE_KEY_PRODUCTION"));
        assert_eq!(private_key_var("DOTENV_PUBLIC_KEYS"), None);
        assert_eq!(private_key_var("STRIPE_KEY"), None);
        assert_eq!(private_key_var_for_file(".env"), "DOTENV_PRIVATE_KEY");
        assert_eq!(private_key_var_for_file(".env.production"), "DOTENV_PRIVATE_KEY_PRODUCTION");
        assert_eq!(private_key_var_for_file(".env.ci-2"), "DOTENV_PRIVATE_KEY_CI_2");
    }
}
