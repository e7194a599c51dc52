//! The keys of a version 2 vault: domain keys and what derives from them (record, seal and vouch
//! keys, the key id, the grant key), sealed bodies, the MACs, and domain keys wrapped to age
//! X25519 recipients.
//!
//! Wrapping uses age's own X25519 recipient (`age::Recipient::wrap_file_key`) and writes the age
//! file around its stanza as the age spec (C2SP age.md) lays it out, so `age -d -i identity`
//! opens it. We do not go through `age::Encryptor` because its stream writer keeps the plaintext
//! (here, a domain key) in a buffer it frees without wiping. Unwrapping goes through
//! `age::Decryptor`, which wipes what it decrypts.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use data_encoding::BASE64_NOPAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::text::{SEALED_PREFIX, Vouch};
use crate::sensitive::Key32;
use crate::vault::crypto::{self, AuthFailed, NONCE_LEN, TAG_LEN};

/// Where a [`Transcript`] goes: a buffer (associated data), or straight into a MAC (a seal over
/// 100,000 records is hashed as it is written, never held).
pub trait Absorb {
    fn absorb(&mut self, bytes: &[u8]);
}

impl Absorb for Vec<u8> {
    fn absorb(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Absorb for Hmac<Sha256> {
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// The length-prefixed encoding of MAC and associated-data inputs (`str`, `u64` in the spec).
pub struct Transcript<S: Absorb = Vec<u8>>(S);

impl Transcript {
    pub fn new(label: &str, vault_id: &[u8; 16]) -> Transcript {
        let mut t = Transcript(Vec::with_capacity(256));
        t.0.extend_from_slice(label.as_bytes());
        t.0.extend_from_slice(vault_id);
        t
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Transcript<Hmac<Sha256>> {
    /// A transcript MAC'd under `key` as it is written.
    pub fn mac(key: &Key32, label: &str, vault_id: &[u8; 16]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose()).expect("any key length");
        mac.update(label.as_bytes());
        mac.update(vault_id);
        Transcript(mac)
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into_bytes().into()
    }
}

impl<S: Absorb> Transcript<S> {
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.absorb(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.0.absorb(b);
        self
    }

    /// Fixed-length bytes, as they are.
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.absorb(b);
        self
    }

    pub fn u64(&mut self, n: u64) -> &mut Self {
        self.0.absorb(&n.to_le_bytes());
        self
    }

    pub fn u32(&mut self, n: u32) -> &mut Self {
        self.0.absorb(&n.to_le_bytes());
        self
    }
}

pub fn hmac(key: &Key32, data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose()).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Compares two MACs in constant time.
pub fn mac_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One domain's key and the keys derived from it.
#[derive(Clone)]
pub struct DomainKey {
    key: Key32,
    record: Key32,
    seal: Key32,
    vouch: Key32,
    id: [u8; 16],
}

impl std::fmt::Debug for DomainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DomainKey({})", data_encoding::HEXLOWER.encode(&self.id))
    }
}

/// The key id of a vouch key: public, and no way back to the key.
fn key_id(vouch: &Key32) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"keyward/v2/key-id");
    h.update(vouch.expose());
    h.finalize()[..16].try_into().expect("16 bytes")
}

impl DomainKey {
    pub fn new(vault_id: &[u8; 16], key: Key32) -> DomainKey {
        let derive = |info: &str| crypto::hkdf(key.expose(), Some(vault_id), info.as_bytes());
        let vouch = derive("keyward/v2/vouch");
        DomainKey {
            record: derive("keyward/v2/record"),
            seal: derive("keyward/v2/seal"),
            id: key_id(&vouch),
            vouch,
            key,
        }
    }

    pub fn random(vault_id: &[u8; 16]) -> DomainKey {
        DomainKey::new(vault_id, Key32::random())
    }

    pub fn id(&self) -> [u8; 16] {
        self.id
    }

    pub fn expose(&self) -> &Key32 {
        &self.key
    }

    /// The grant key, when this is the key of `@all`.
    pub fn grant_key(&self, vault_id: &[u8; 16]) -> Key32 {
        crypto::hkdf(self.key.expose(), Some(vault_id), b"keyward/v2/grant")
    }

    /// A transcript MAC'd under the seal key as it is written (see the spec's `seal`).
    pub fn seal_transcript(&self, vault_id: &[u8; 16]) -> Transcript<Hmac<Sha256>> {
        Transcript::mac(&self.seal, "keyward/v2/seal", vault_id)
    }

    /// Seals `plaintext` as `nonce || tag || ciphertext`, in a buffer sized up front.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = crypto::random();
        let mut out = Vec::with_capacity(SEALED_PREFIX + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&[0; TAG_LEN]);
        let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        body.extend_from_slice(plaintext);
        crypto::seal(&self.record, &nonce, aad, &mut body);
        // `body` is ciphertext || tag now: move the tag to the front.
        let split = body.len() - TAG_LEN;
        out[NONCE_LEN..SEALED_PREFIX].copy_from_slice(&body[split..]);
        out.extend_from_slice(&body[..split]);
        out
    }

    /// Opens a sealed body; the plaintext is in a wiped-on-drop buffer.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, AuthFailed> {
        if sealed.len() < SEALED_PREFIX {
            return Err(AuthFailed);
        }
        let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN].try_into().expect("12 bytes");
        let mut buf = Zeroizing::new(Vec::with_capacity(sealed.len() - NONCE_LEN));
        buf.extend_from_slice(&sealed[SEALED_PREFIX..]);
        buf.extend_from_slice(&sealed[NONCE_LEN..SEALED_PREFIX]);
        let len = crypto::open_in_place(&self.record, &nonce, aad, &mut buf)?;
        buf.truncate(len);
        Ok(buf)
    }

    /// The vouch for `new`, this key's successor as generation `generation` of `domain`.
    pub fn vouch_for(&self, new: &DomainKey, vault_id: &[u8; 16], domain: &str, generation: u64) -> Vouch {
        let box_key = crypto::hkdf(new.vouch.expose(), Some(vault_id), b"keyward/v2/vouch-box");
        let mut aad = Transcript::new("", vault_id);
        aad.str(domain).u64(generation);
        let mut boxed = Vec::with_capacity(48);
        boxed.extend_from_slice(self.vouch.expose());
        crypto::seal(&box_key, &[0; NONCE_LEN], aad.as_bytes(), &mut boxed);
        let mut m = Transcript::new("keyward/v2/vouch", vault_id);
        m.str(domain).u64(generation).raw(&new.id);
        Vouch {
            generation,
            previous: self.id,
            boxed: boxed.try_into().expect("32 bytes and a tag"),
            mac: hmac(&self.vouch, m.as_bytes()),
        }
    }
}

/// Walks the vouch chain back from the key of `generation` (whose vouch key `vouch` the caller
/// derived) to `target`: true when every step opens and verifies. `vouches` are a domain's vouch
/// lines; `key_id_of(g)` is not needed: each line names the previous key id.
pub fn chain_reaches(
    vault_id: &[u8; 16],
    domain: &str,
    current: &DomainKey,
    generation: u64,
    vouches: &[Vouch],
    target: (u64, [u8; 16]),
) -> bool {
    let (target_generation, target_id) = target;
    let mut vouch = current.vouch.clone();
    let mut id = current.id;
    let mut g = generation;
    while g > target_generation {
        let Some(line) = vouches.iter().find(|v| v.generation == g) else { return false };
        let box_key = crypto::hkdf(vouch.expose(), Some(vault_id), b"keyward/v2/vouch-box");
        let mut aad = Transcript::new("", vault_id);
        aad.str(domain).u64(g);
        let mut boxed = Zeroizing::new(line.boxed.to_vec());
        let Ok(len) = crypto::open_in_place(&box_key, &[0; NONCE_LEN], aad.as_bytes(), &mut boxed) else {
            return false;
        };
        let Some(previous) = Key32::from_slice(&boxed[..len]) else { return false };
        if key_id(&previous) != line.previous {
            return false;
        }
        let mut m = Transcript::new("keyward/v2/vouch", vault_id);
        m.str(domain).u64(g).raw(&id);
        if !mac_eq(&hmac(&previous, m.as_bytes()), &line.mac) {
            return false;
        }
        vouch = previous;
        id = line.previous;
        g -= 1;
    }
    g == target_generation && id == target_id
}

// ---------------------------------------------------------------- age

/// The age identity of a slot's 32-byte X25519 secret (`AGE-SECRET-KEY-1…` is its Bech32 form).
pub fn identity(secret: &Key32) -> age::x25519::Identity {
    let hrp = bech32::Hrp::parse("AGE-SECRET-KEY-").expect("a valid prefix");
    // 74 characters: sized so the text of the secret is never reallocated.
    let mut text = Zeroizing::new(String::with_capacity(96));
    bech32::encode_upper_to_fmt::<bech32::Bech32, _>(&mut *text, hrp, secret.expose()).expect("writing to a string");
    text.parse().expect("any 32 bytes are an X25519 secret")
}

/// The age recipient (`age1…`) of a slot's X25519 secret.
pub fn recipient(secret: &Key32) -> String {
    identity(secret).to_public().to_string()
}

/// An SSH ed25519 member key: its age X25519 recipient (the Montgomery form of the Ed25519
/// public key, as `ssh-to-age` converts it) and the key's blob (base64, as in `authorized_keys`).
/// The private side is the first half of SHA-512 of the Ed25519 seed: see `unlock::identity::ssh_secret`.
pub fn ssh_member(text: &str) -> std::result::Result<(String, String), &'static str> {
    let key = ssh_key::PublicKey::from_openssh(text.trim()).map_err(|_| "it is not an SSH public key")?;
    let Some(ed) = key.key_data().ed25519() else {
        return Err("only ssh-ed25519 keys can be members (an RSA or ECDSA key cannot hold an age X25519 identity)");
    };
    let point = curve25519_dalek::edwards::CompressedEdwardsY(ed.0)
        .decompress()
        .filter(|p| !p.is_small_order() && p.is_torsion_free())
        .ok_or("it is not a valid ssh-ed25519 public key")?;
    let hrp = bech32::Hrp::parse("age").expect("a valid prefix");
    let age = bech32::encode::<bech32::Bech32>(hrp, &point.to_montgomery().to_bytes())
        .map_err(|_| "it cannot be converted")?;
    let blob = data_encoding::BASE64.encode(&key.to_bytes().map_err(|_| "it cannot be encoded")?);
    Ok((age, blob))
}

/// Whether an age X25519 recipient is a point X25519 can be used with: on the curve and not of
/// small order (a low-order key makes every shared secret predictable, and age refuses to wrap
/// to it by panicking).
#[must_use]
pub fn sound_recipient(recipient: &str) -> bool {
    let Ok(parsed) = recipient.parse::<age::x25519::Recipient>() else { return false };
    let Ok((_, bytes)) = bech32::decode(&parsed.to_string()) else { return false };
    let Ok(u) = <[u8; 32]>::try_from(bytes.as_slice()) else { return false };
    curve25519_dalek::montgomery::MontgomeryPoint(u).to_edwards(0).is_some_and(|p| !p.is_small_order())
}

const AGE_V1: &str = "age-encryption.org/v1";

/// Who opens a slot's wraps: its X25519 secret, or the plugin identity the user configured.
#[derive(Clone)]
pub enum Opener {
    X25519(Key32),
    Plugin(std::sync::Arc<super::plugin::PluginIdentity>),
}

impl From<Key32> for Opener {
    fn from(secret: Key32) -> Opener {
        Opener::X25519(secret)
    }
}

impl Opener {
    /// The 32-byte key inside a wrap, if this opener opens it (a plugin runs at most once per
    /// wrap: what it opened is remembered).
    pub fn unwrap(&self, age_file: &[u8]) -> Option<Key32> {
        match self {
            Opener::X25519(secret) => unwrap(age_file, &identity(secret)),
            Opener::Plugin(p) => {
                if let Some(key) = p.remembered(age_file) {
                    return Some(key);
                }
                let parsed = parse_age(age_file)?;
                let file_key = p.unwrap_file_key(&parsed.stanzas)?;
                let key = open_payload(&file_key, age_file, &parsed)?;
                p.remember(age_file, &key);
                Some(key)
            }
        }
    }
}

/// The most stanzas, and the longest stanza body, a plugin's wrap may have.
const MAX_STANZAS: usize = 8;
const MAX_STANZA_ARGS: usize = 8;
const MAX_STANZA_BODY: usize = 1024;

/// A stanza's tag or argument as the age format allows it (non-empty visible ASCII), and short.
fn sound_word(word: &str) -> bool {
    !word.is_empty() && word.len() <= 128 && word.bytes().all(|b| b.is_ascii_graphic())
}

/// `key` as an age file (binary) for one recipient: an X25519 one, or a plugin's when the
/// plugin may run here (see [`super::plugin`]).
pub fn wrap(key: &Key32, recipient: &str) -> std::result::Result<Vec<u8>, super::plugin::WrapError> {
    use age::Recipient as _;
    let file_key = age_core::format::FileKey::new(Box::new(crypto::random::<16>()));
    let stanzas = if let Ok(x25519) = recipient.parse::<age::x25519::Recipient>() {
        x25519.wrap_file_key(&file_key).expect("X25519 wrapping cannot fail").0
    } else {
        let stanzas = super::plugin::wrap_stanzas(&file_key, recipient)?;
        let plugin = super::plugin::recipient_plugin(recipient).unwrap_or_default();
        let sound = (1..=MAX_STANZAS).contains(&stanzas.len())
            && stanzas.iter().all(|s| {
                sound_word(&s.tag)
                    && s.args.len() <= MAX_STANZA_ARGS
                    && s.args.iter().all(|a| sound_word(a))
                    && s.body.len() <= MAX_STANZA_BODY
            });
        if !sound {
            return Err(super::plugin::WrapError::Failed(plugin, "it wrote stanzas keyward does not read".into()));
        }
        stanzas
    };
    let file = age_file(key, &file_key, &stanzas);
    // What a reader accepts as a `to` line: a larger wrap would make the vault unreadable.
    if file.len() > super::text::MAX_WRAP {
        let plugin = super::plugin::recipient_plugin(recipient).unwrap_or_default();
        return Err(super::plugin::WrapError::Failed(plugin, "its wrap is larger than a vault holds".into()));
    }
    Ok(file)
}

/// The age file holding `key` under `file_key`, whose stanzas are `stanzas`.
fn age_file(key: &Key32, file_key: &age_core::format::FileKey, stanzas: &[age_core::format::Stanza]) -> Vec<u8> {
    let mut header = String::with_capacity(256);
    header.push_str(AGE_V1);
    header.push('\n');
    for stanza in stanzas {
        header.push_str("-> ");
        header.push_str(&stanza.tag);
        for arg in &stanza.args {
            header.push(' ');
            header.push_str(arg);
        }
        header.push('\n');
        // Body lines of 64 columns; the last one is shorter (empty when the body fills them).
        let body = BASE64_NOPAD.encode(&stanza.body);
        let mut rest = body.as_str();
        loop {
            let (line, tail) = rest.split_at(rest.len().min(64));
            header.push_str(line);
            header.push('\n');
            if line.len() < 64 {
                break;
            }
            rest = tail;
        }
    }
    header.push_str("---");
    use age_core::secrecy::ExposeSecret as _;
    let fk = file_key.expose_secret();
    let mac_key = crypto::hkdf(fk, Some(b""), b"header");
    let mac = hmac(&mac_key, header.as_bytes());
    header.push(' ');
    header.push_str(&BASE64_NOPAD.encode(&mac));
    header.push('\n');

    // The payload: a 16-byte nonce, then one (last) ChaCha20-Poly1305 chunk.
    let nonce: [u8; 16] = crypto::random();
    let payload_key = crypto::hkdf(fk, Some(&nonce), b"payload");
    let mut chunk = Zeroizing::new(Vec::with_capacity(32 + 16));
    chunk.extend_from_slice(key.expose());
    let mut chunk_nonce = [0u8; 12];
    chunk_nonce[11] = 1;
    let cipher = ChaCha20Poly1305::new(payload_key.expose().into());
    let tag = cipher.encrypt_in_place_detached(&chunk_nonce.into(), b"", &mut chunk[..]).expect("one chunk");
    let mut out = Vec::with_capacity(header.len() + 16 + chunk.len() + 16);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&tag);
    out
}

/// An age file as keyward's wraps are: its stanzas, where the MAC line starts, the MAC, and
/// where the payload starts.
struct ParsedAge {
    stanzas: Vec<age_core::format::Stanza>,
    mac_at: usize,
    mac: [u8; 32],
    payload_at: usize,
}

/// Parses a wrap: the version line, 1 to 8 stanzas (body lines of 64 columns, the last shorter),
/// the MAC line, then exactly one chunk (nonce, 32 bytes, tag). Parsed here rather than by
/// `age::Decryptor`, whose chunk reader frees a copy of the plaintext unwiped when it shrinks its
/// buffer.
fn parse_age(age_file: &[u8]) -> Option<ParsedAge> {
    let mac_at = age_file.windows(5).position(|w| w == b"\n--- ")? + 1;
    let header_end = mac_at + age_file[mac_at..].iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&age_file[..mac_at]).ok()?;
    let mac_line = std::str::from_utf8(&age_file[mac_at..header_end]).ok()?;
    let mac: [u8; 32] = BASE64_NOPAD.decode(mac_line.strip_prefix("--- ")?.as_bytes()).ok()?.try_into().ok()?;
    if age_file.len() - (header_end + 1) != 16 + 32 + 16 {
        return None;
    }
    let mut lines = header.strip_suffix('\n')?.split('\n');
    if lines.next()? != AGE_V1 {
        return None;
    }
    let mut stanzas = Vec::new();
    while let Some(line) = lines.next() {
        let mut words = line.strip_prefix("-> ")?.split(' ');
        let tag = words.next()?.to_owned();
        let args: Vec<String> = words.map(str::to_owned).collect();
        if !sound_word(&tag)
            || args.len() > MAX_STANZA_ARGS
            || !args.iter().all(|a| sound_word(a))
            || stanzas.len() == MAX_STANZAS
        {
            return None;
        }
        let mut body = String::new();
        loop {
            let part = lines.next()?;
            if part.len() > 64 || body.len() + part.len() > MAX_STANZA_BODY.div_ceil(3) * 4 {
                return None;
            }
            body.push_str(part);
            if part.len() < 64 {
                break;
            }
        }
        let body = BASE64_NOPAD.decode(body.as_bytes()).ok()?;
        if body.len() > MAX_STANZA_BODY {
            return None;
        }
        stanzas.push(age_core::format::Stanza { tag, args, body });
    }
    (!stanzas.is_empty()).then_some(ParsedAge { stanzas, mac_at, mac, payload_at: header_end + 1 })
}

/// The key in a parsed wrap's payload, once the header MAC checks under `file_key`.
fn open_payload(file_key: &age_core::format::FileKey, age_file: &[u8], parsed: &ParsedAge) -> Option<Key32> {
    use age_core::secrecy::ExposeSecret as _;
    let fk = file_key.expose_secret();
    // The header MAC covers everything up to and including "---".
    let signed = &age_file[..parsed.mac_at + 3];
    if !mac_eq(&hmac(&crypto::hkdf(fk, Some(b""), b"header"), signed), &parsed.mac) {
        return None;
    }
    let (nonce, chunk) = age_file[parsed.payload_at..].split_at(16);
    let payload_key = crypto::hkdf(fk, Some(nonce), b"payload");
    let mut key = Key32::from_bytes(chunk[..32].try_into().expect("32 bytes"));
    let tag = chacha20poly1305::Tag::from_slice(&chunk[32..]);
    let mut chunk_nonce = [0u8; 12];
    chunk_nonce[11] = 1;
    let cipher = ChaCha20Poly1305::new(payload_key.expose().into());
    cipher.decrypt_in_place_detached(&chunk_nonce.into(), b"", key.expose_mut(), tag).ok()?;
    Some(key)
}

/// The 32-byte key inside an age file as [`wrap`] writes it for an X25519 recipient (exactly
/// one X25519 stanza), if `identity` opens it; the stanza is opened by age's own X25519 identity.
pub fn unwrap(age_file: &[u8], identity: &age::x25519::Identity) -> Option<Key32> {
    use age::Identity as _;
    let parsed = parse_age(age_file)?;
    let [stanza] = &parsed.stanzas[..] else { return None };
    if stanza.tag != "X25519" || stanza.args.len() != 1 || stanza.body.len() != 32 {
        return None;
    }
    let file_key = identity.unwrap_stanza(stanza)?.ok()?;
    open_payload(&file_key, age_file, &parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_opens_with_its_identity_only() {
        let secret = Key32::random();
        let key = Key32::random();
        let file = wrap(&key, &recipient(&secret)).unwrap();
        assert!(file.starts_with(b"age-encryption.org/v1\n-> X25519 "));
        assert_eq!(unwrap(&file, &identity(&secret)).unwrap().expose(), key.expose());
        // A valid age file: the age crate's own reader opens it too (the CLI does, in tests/).
        assert_eq!(age::decrypt(&identity(&secret), &file).unwrap(), key.expose());
        assert!(unwrap(&file, &identity(&Key32::random())).is_none());
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(unwrap(&flipped, &identity(&secret)).is_none());
    }

    #[test]
    fn low_order_recipients_are_refused_not_a_panic() {
        assert!(sound_recipient(&recipient(&Key32::random())));
        let hrp = bech32::Hrp::parse("age").unwrap();
        let zero = bech32::encode::<bech32::Bech32>(hrp, &[0u8; 32]).unwrap();
        let mut one = [0u8; 32];
        one[0] = 1;
        let one = bech32::encode::<bech32::Bech32>(hrp, &one).unwrap();
        assert!(!sound_recipient(&zero) && !sound_recipient(&one));
        // The Ed25519 identity point as an SSH key: refused before any conversion is used.
        let mut blob = Vec::new();
        for part in [
            &b"ssh-ed25519"[..],
            &{
                let mut k = [0u8; 32];
                k[0] = 1;
                k
            }[..],
        ] {
            blob.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
            blob.extend_from_slice(part);
        }
        let text = format!("ssh-ed25519 {}", data_encoding::BASE64.encode(&blob));
        assert!(ssh_member(&text).is_err());
    }

    #[test]
    fn sealed_bodies_open_only_with_their_associated_data() {
        let id = [7u8; 16];
        let dk = DomainKey::random(&id);
        let sealed = dk.seal(b"aad", b"a body");
        assert_eq!(&dk.open(b"aad", &sealed).unwrap()[..], b"a body");
        assert!(dk.open(b"other", &sealed).is_err());
        assert!(DomainKey::random(&id).open(b"aad", &sealed).is_err());
        let tag = super::super::text::sealed_tag(BASE64_NOPAD.encode(&sealed).as_bytes()).unwrap();
        assert_eq!(tag, sealed[12..28]);
    }

    #[test]
    fn vouch_chains_reach_back_and_only_to_the_keys_they_came_from() {
        let id = [1u8; 16];
        let k1 = DomainKey::random(&id);
        let k2 = DomainKey::random(&id);
        let k3 = DomainKey::random(&id);
        let vouches = vec![k1.vouch_for(&k2, &id, "prod", 2), k2.vouch_for(&k3, &id, "prod", 3)];
        assert!(chain_reaches(&id, "prod", &k3, 3, &vouches, (1, k1.id())));
        assert!(chain_reaches(&id, "prod", &k3, 3, &vouches, (2, k2.id())));
        assert!(chain_reaches(&id, "prod", &k3, 3, &vouches, (3, k3.id())));
        // A fresh key that did not come from k2 does not reach it, whatever vouches it carries.
        let fake = DomainKey::random(&id);
        assert!(!chain_reaches(&id, "prod", &fake, 3, &vouches, (1, k1.id())));
        // Another domain's vouches do not count.
        assert!(!chain_reaches(&id, "staging", &k3, 3, &vouches, (1, k1.id())));
    }
}
