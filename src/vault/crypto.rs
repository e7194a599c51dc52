//! The cryptographic primitives the vault uses, behind a small API.
//!
//! AES-256-GCM (96-bit random nonces) for the payload and for wrapping the data key in each slot;
//! HKDF-SHA256 to turn a high-entropy slot secret into a key-encryption key; Argon2id for
//! passphrases.

use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

use crate::sensitive::Key32;

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
pub const SALT_LEN: usize = 16;

/// Authentication failed: wrong key, or the bytes were changed.
#[derive(Debug)]
pub struct AuthFailed;

pub fn fill_random(buf: &mut [u8]) {
    // The OS CSPRNG failing is not something a secrets tool may paper over.
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill_random(&mut out);
    out
}

fn cipher(key: &Key32) -> Aes256Gcm {
    Aes256Gcm::new(key.expose().into())
}

/// Encrypts `buf` in place and appends the tag. Reserves room for the tag first so the buffer is
/// never reallocated (which would leave a plaintext copy in freed memory).
pub fn seal(key: &Key32, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut Vec<u8>) {
    buf.reserve_exact(TAG_LEN);
    let tag = cipher(key)
        .encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(*nonce), aad, buf.as_mut_slice().into())
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    buf.extend_from_slice(&tag);
}

/// Decrypts `buf` (ciphertext followed by the tag) in place and returns the plaintext length.
/// On failure the buffer is wiped: no unauthenticated plaintext is ever released.
pub fn open_in_place(key: &Key32, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<usize, AuthFailed> {
    if buf.len() < TAG_LEN {
        return Err(AuthFailed);
    }
    let split = buf.len() - TAG_LEN;
    let (data, tag) = buf.split_at_mut(split);
    let tag = Tag::<Aes256Gcm>::try_from(&*tag).map_err(|_| AuthFailed)?;
    let result = cipher(key).decrypt_inout_detached(&Nonce::<Aes256Gcm>::from(*nonce), aad, data.into(), &tag);
    if result.is_err() {
        zeroize::Zeroize::zeroize(data);
        return Err(AuthFailed);
    }
    Ok(split)
}

/// AES-256-GCM with a 16-byte nonce and the tag *before* the ciphertext (`buf` is tag then
/// ciphertext), as eciesjs lays out its messages (dotenvx's encrypted values). Decrypts in place
/// and returns the plaintext length (the plaintext is `buf[TAG_LEN..][..len]`); wiped on failure.
pub fn open_in_place_16(key: &Key32, nonce: &[u8], buf: &mut [u8]) -> Result<usize, AuthFailed> {
    type Aes256Gcm16 = aes_gcm::AesGcm<aes_gcm::aes::Aes256, aes_gcm::aead::consts::U16>;
    if buf.len() < TAG_LEN || nonce.len() != 16 {
        return Err(AuthFailed);
    }
    let (tag, data) = buf.split_at_mut(TAG_LEN);
    let tag = Tag::<Aes256Gcm16>::try_from(&*tag).map_err(|_| AuthFailed)?;
    let nonce = Nonce::<Aes256Gcm16>::try_from(nonce).map_err(|_| AuthFailed)?;
    let cipher = Aes256Gcm16::new(key.expose().into());
    if cipher.decrypt_inout_detached(&nonce, b"", data.into(), &tag).is_err() {
        zeroize::Zeroize::zeroize(data);
        return Err(AuthFailed);
    }
    Ok(data.len())
}

/// [`open_in_place`] on a vector, which is truncated to the plaintext (or emptied on failure).
pub fn open(key: &Key32, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut Vec<u8>) -> Result<(), AuthFailed> {
    match open_in_place(key, nonce, aad, buf) {
        Ok(len) => {
            buf.truncate(len);
            Ok(())
        }
        Err(e) => {
            buf.clear();
            Err(e)
        }
    }
}

/// HKDF-SHA256 to a 32-byte key: the one derivation of keys from keys (slot KEKs, audit and
/// backup keys), each with its own `info`.
pub fn hkdf(secret: &[u8], salt: Option<&[u8]>, info: &[u8]) -> Key32 {
    let mut out = Key32::from_bytes([0; 32]);
    Hkdf::<Sha256>::new(salt, secret)
        .expand(info, out.expose_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// Derives a key-encryption key from a random 256-bit slot secret.
pub fn hkdf_kek(secret: &[u8], salt: &[u8; SALT_LEN]) -> Key32 {
    hkdf(secret, Some(salt), b"keyward/v1/slot-kek")
}

/// Argon2id cost parameters, as stored in a passphrase slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Argon2Params {
    /// 64 MiB, 3 passes: above OWASP's minimum (19 MiB, 2 passes), about 0.15 s on a laptop.
    pub const DEFAULT: Argon2Params = Argon2Params { m_kib: 64 * 1024, t: 3, p: 1 };
    /// Opening refuses anything above these, so a hostile file cannot make keyward eat memory or time.
    pub const MAX: Argon2Params = Argon2Params { m_kib: 1024 * 1024, t: 10, p: 16 };

    pub fn check(&self) -> Result<(), String> {
        let max = Self::MAX;
        if self.m_kib > max.m_kib || self.t > max.t || self.p > max.p {
            return Err(format!(
                "Argon2id parameters m={} KiB t={} p={} exceed the limits m={} KiB t={} p={}",
                self.m_kib, self.t, self.p, max.m_kib, max.t, max.p
            ));
        }
        if self.t < 1 || self.p < 1 || self.m_kib < 8 * self.p {
            return Err(format!("Argon2id parameters m={} KiB t={} p={} are invalid", self.m_kib, self.t, self.p));
        }
        Ok(())
    }
}

/// Derives a key-encryption key from a passphrase. Callers check the parameters first.
/// How many Argon2 derivations with parameters read from a file one process may run: a wrong
/// passphrase typed twice. Parameters come from files others can write (a project vault, a
/// backup), and each derivation may cost up to [`Argon2Params::MAX`].
pub const MAX_UNTRUSTED_DERIVATIONS: u32 = 2;
#[cfg(not(test))]
static UNTRUSTED_DERIVATIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
// Unit tests run as threads of one process: each counts its own.
#[cfg(test)]
thread_local! {
    static UNTRUSTED_DERIVATIONS: std::sync::atomic::AtomicU32 = const { std::sync::atomic::AtomicU32::new(0) };
}

/// Whether this process may still run a derivation with parameters from a file.
pub fn untrusted_derivations_left() -> bool {
    use std::sync::atomic::Ordering;
    #[cfg(not(test))]
    let done = UNTRUSTED_DERIVATIONS.load(Ordering::SeqCst);
    #[cfg(test)]
    let done = UNTRUSTED_DERIVATIONS.with(|n| n.load(Ordering::SeqCst));
    done < MAX_UNTRUSTED_DERIVATIONS
}

/// The process already ran [`MAX_UNTRUSTED_DERIVATIONS`] derivations.
#[derive(Debug)]
pub struct TooManyDerivations;

/// [`argon2_kek`] with parameters read from a file: counted, at most
/// [`MAX_UNTRUSTED_DERIVATIONS`] per process.
pub fn argon2_kek_from_file(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: Argon2Params,
) -> Result<Key32, TooManyDerivations> {
    use std::sync::atomic::Ordering;
    #[cfg(not(test))]
    let done = UNTRUSTED_DERIVATIONS.fetch_add(1, Ordering::SeqCst);
    #[cfg(test)]
    let done = UNTRUSTED_DERIVATIONS.with(|n| n.fetch_add(1, Ordering::SeqCst));
    if done >= MAX_UNTRUSTED_DERIVATIONS {
        return Err(TooManyDerivations);
    }
    Ok(argon2_kek(passphrase, salt, params))
}

pub fn argon2_kek(passphrase: &[u8], salt: &[u8; SALT_LEN], params: Argon2Params) -> Key32 {
    let argon_params = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .expect("parameters were checked against the limits");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut kek = Key32::from_bytes([0; 32]);
    argon.hash_password_into(passphrase, salt, kek.expose_mut()).expect("parameters and salt length were checked");
    kek
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn decrypt_of_encrypt_is_identity(data in proptest::collection::vec(any::<u8>(), 0..2048), aad in proptest::collection::vec(any::<u8>(), 0..64), flip in any::<prop::sample::Index>()) {
            let key = Key32::random();
            let nonce = random();
            let mut buf = data.clone();
            seal(&key, &nonce, &aad, &mut buf);
            prop_assert_eq!(buf.len(), data.len() + TAG_LEN);
            let mut tampered = buf.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 1;
            prop_assert!(open(&key, &nonce, &aad, &mut tampered).is_err());
            open(&key, &nonce, &aad, &mut buf).unwrap();
            prop_assert_eq!(buf, data);
        }
    }

    #[test]
    fn seal_then_open_round_trips() {
        let key = Key32::random();
        let nonce = random();
        let mut buf = b"hello".to_vec();
        seal(&key, &nonce, b"aad", &mut buf);
        assert_ne!(&buf[..5], b"hello");
        open(&key, &nonce, b"aad", &mut buf).unwrap();
        assert_eq!(buf, b"hello");
    }

    #[test]
    fn open_refuses_changed_aad_key_or_bytes() {
        let key = Key32::random();
        let nonce = random();
        let mut sealed = b"hello".to_vec();
        seal(&key, &nonce, b"aad", &mut sealed);
        let mut wrong_aad = sealed.clone();
        assert!(open(&key, &nonce, b"aaX", &mut wrong_aad).is_err());
        assert!(wrong_aad.is_empty(), "no plaintext is released on failure");
        let mut wrong_key = sealed.clone();
        assert!(open(&Key32::random(), &nonce, b"aad", &mut wrong_key).is_err());
        let mut flipped = sealed.clone();
        flipped[2] ^= 1;
        assert!(open(&key, &nonce, b"aad", &mut flipped).is_err());
        let mut short = sealed[..10].to_vec();
        assert!(open(&key, &nonce, b"aad", &mut short).is_err());
    }

    #[test]
    fn argon2_limits() {
        assert!(Argon2Params::DEFAULT.check().is_ok());
        // New passphrase slots cost at least OWASP's minimum for Argon2id (19 MiB, 2 passes).
        let default = Argon2Params::DEFAULT;
        assert_eq!((default.m_kib, default.t, default.p), (64 * 1024, 3, 1));
        assert!(default.m_kib >= 19 * 1024 && default.t >= 2);
        assert!(Argon2Params { m_kib: 2 * 1024 * 1024, t: 1, p: 1 }.check().is_err());
        assert!(Argon2Params { m_kib: 65536, t: 11, p: 1 }.check().is_err());
        assert!(Argon2Params { m_kib: 65536, t: 1, p: 17 }.check().is_err());
        assert!(Argon2Params::MAX.check().is_ok());
    }

    #[test]
    fn an_empty_plaintext_is_just_a_tag() {
        let key = Key32::random();
        let nonce = random();
        let mut buf = Vec::new();
        seal(&key, &nonce, b"aad", &mut buf);
        assert_eq!(buf.len(), TAG_LEN);
        assert_eq!(open_in_place(&key, &nonce, b"aad", &mut buf.clone()).unwrap(), 0);
        open(&key, &nonce, b"aad", &mut buf).unwrap();
        assert!(buf.is_empty());
    }

    #[test]
    fn a_failed_open_in_place_wipes_what_it_decrypted() {
        let key = Key32::random();
        let nonce = random();
        let mut buf = b"plaintext that must not be released".to_vec();
        seal(&key, &nonce, b"aad", &mut buf);
        let ciphertext = buf.clone();
        assert!(open_in_place(&key, &nonce, b"other aad", &mut buf).is_err());
        let body = ciphertext.len() - TAG_LEN;
        assert!(buf[..body].iter().all(|&b| b == 0), "the data part is zeroed");
        assert_eq!(buf[body..], ciphertext[body..], "the tag is left as it was");
    }

    #[test]
    fn argon2_lower_limits() {
        assert!(Argon2Params { m_kib: 8, t: 1, p: 1 }.check().is_ok());
        assert!(Argon2Params { m_kib: 16, t: 1, p: 2 }.check().is_ok());
        assert!(Argon2Params { m_kib: 65536, t: 0, p: 1 }.check().is_err());
        assert!(Argon2Params { m_kib: 65536, t: 1, p: 0 }.check().is_err());
        assert!(Argon2Params { m_kib: 15, t: 1, p: 2 }.check().is_err());
        assert!(Argon2Params { m_kib: 1024 * 1024 + 1, t: 1, p: 1 }.check().is_err());
        assert!(Argon2Params { m_kib: 65536, t: 10, p: 16 }.check().is_ok());
    }

    /// Known answers, so a change to a derivation (an argument swapped, a parameter lost) cannot
    /// pass unnoticed and strand every existing vault. The committed vault vectors check the same
    /// end to end; these point at the function.
    #[test]
    fn derivations_match_known_answers() {
        let hex = |b: &[u8]| data_encoding::HEXLOWER.encode(b);
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "FIPS 180-2 example"
        );
        let hkdf = hkdf_kek(b"slot secret", &[7; 16]);
        let argon = argon2_kek(b"passphrase", &[7; 16], Argon2Params { m_kib: 8, t: 1, p: 1 });
        assert_eq!(hex(hkdf.expose()), HKDF_ANSWER);
        assert_eq!(hex(argon.expose()), ARGON2_ANSWER);
    }
    // Computed outside keyward: RFC 5869 with Python's hmac module, and argon2-cffi (the
    // reference C implementation) with version 0x13, 32 output bytes.
    const HKDF_ANSWER: &str = "20f759d60b4c267ba1a62495c397bdabbf7cf837c4b731b2735ffa6e085971a5";
    const ARGON2_ANSWER: &str = "f7a532bd11b673546936e975e1b7a1afa19629123d31092a8149ca2ae6a80b0e";

    #[test]
    fn hkdf_depends_on_salt_and_secret() {
        let a = hkdf_kek(b"secret", &[1; 16]);
        assert_ne!(a.expose(), hkdf_kek(b"secret", &[2; 16]).expose());
        assert_ne!(a.expose(), hkdf_kek(b"secreT", &[1; 16]).expose());
        assert_eq!(a.expose(), hkdf_kek(b"secret", &[1; 16]).expose());
    }
}
