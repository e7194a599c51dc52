//! The text forms of recovery keys (`kw1-…`) and CI tokens (`kwt1-…`).
//!
//! Both carry 256 random bits plus a 32-bit checksum, in lower-case base32 (no look-alike case
//! problems, safe in shells and YAML). The checksum catches typos and truncation before any slot
//! is tried, so a mangled paste gets "malformed", not "wrong key".

use zeroize::Zeroizing;

use crate::sensitive::Key32;
use crate::vault::crypto::sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Recovery,
    Token,
}

impl CodeKind {
    fn prefix(self) -> &'static str {
        match self {
            CodeKind::Recovery => "kw1-",
            CodeKind::Token => "kwt1-",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Code {
    pub kind: CodeKind,
    pub secret: Key32,
}

impl super::Identity for Code {
    fn fits(&self, kind: crate::vault::format::SlotKind, _: &str) -> bool {
        use crate::vault::format::SlotKind;
        match self.kind {
            CodeKind::Recovery => kind == SlotKind::Recovery,
            CodeKind::Token => kind == SlotKind::Token,
        }
    }

    fn x25519(&mut self, _: &crate::vault::v2::text::Slot) -> Option<Key32> {
        Some(self.secret.clone())
    }

    fn kek(&mut self, slot: &crate::vault::format::Slot) -> Option<Key32> {
        (slot.kdf == crate::vault::format::Kdf::HkdfSha256)
            .then(|| crate::vault::crypto::hkdf_kek(self.secret.expose(), &slot.salt))
    }

    fn describe(&self) -> &'static str {
        match self.kind {
            CodeKind::Recovery => "recovery key",
            CodeKind::Token => "token",
        }
    }

    fn boxed(&self) -> Box<dyn super::Identity> {
        Box::new(self.clone())
    }
}

fn checksum(kind: CodeKind, secret: &[u8; 32]) -> [u8; 4] {
    let mut input = Zeroizing::new(Vec::with_capacity(40));
    input.extend_from_slice(kind.prefix().as_bytes());
    input.extend_from_slice(secret);
    sha256(&input)[..4].try_into().expect("4 bytes")
}

/// The printable form. Recovery keys are grouped by six characters for reading aloud or copying
/// by hand; tokens are one word, for pasting into CI settings.
pub fn encode(kind: CodeKind, secret: &Key32) -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 36]);
    raw[..32].copy_from_slice(secret.expose());
    raw[32..].copy_from_slice(&checksum(kind, secret.expose()));
    let body = Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&raw[..]).to_ascii_lowercase());
    let mut out = Zeroizing::new(String::with_capacity(80));
    out.push_str(kind.prefix());
    match kind {
        CodeKind::Token => out.push_str(&body),
        CodeKind::Recovery => {
            for (i, chunk) in body.as_bytes().chunks(6).enumerate() {
                if i > 0 {
                    out.push('-');
                }
                out.push_str(std::str::from_utf8(chunk).expect("base32 is ASCII"));
            }
        }
    }
    out
}

/// Parses either form; white space and dashes inside the body are ignored.
pub fn parse(text: &str) -> Result<Code, &'static str> {
    let text = text.trim();
    let lower = Zeroizing::new(text.to_ascii_lowercase());
    let (kind, rest) = if let Some(rest) = lower.strip_prefix(CodeKind::Token.prefix()) {
        (CodeKind::Token, rest)
    } else if let Some(rest) = lower.strip_prefix(CodeKind::Recovery.prefix()) {
        (CodeKind::Recovery, rest)
    } else {
        return Err("it does not start with kw1- or kwt1-");
    };
    let body: Zeroizing<String> = Zeroizing::new(
        rest.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect(),
    );
    let mut raw = Zeroizing::new([0u8; 36]);
    let decoded_len = data_encoding::BASE32_NOPAD.decode_len(body.len()).map_err(|_| "its length is wrong")?;
    if decoded_len != 36 {
        return Err("its length is wrong");
    }
    data_encoding::BASE32_NOPAD
        .decode_mut(body.as_bytes(), &mut raw[..])
        .map_err(|_| "it has characters outside a-z and 2-7")?;
    let secret = Key32::from_slice(&raw[..32]).expect("32 bytes");
    if raw[32..] != checksum(kind, secret.expose()) {
        return Err("its checksum does not match: a typo?");
    }
    Ok(Code { kind, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_kinds() {
        for kind in [CodeKind::Recovery, CodeKind::Token] {
            let key = Key32::random();
            let text = encode(kind, &key);
            let code = parse(&text).unwrap();
            assert_eq!(code.kind, kind);
            assert_eq!(code.secret.expose(), key.expose());
            // upper case and surrounding space are forgiven
            assert!(parse(&format!("  {}\n", text.to_ascii_uppercase())).is_ok());
        }
    }

    #[test]
    fn recovery_keys_are_grouped_by_six_and_tokens_are_one_word() {
        let key = Key32::random();
        let recovery = encode(CodeKind::Recovery, &key);
        let groups: Vec<usize> = recovery.strip_prefix("kw1-").unwrap().split('-').map(str::len).collect();
        assert_eq!(groups, [6, 6, 6, 6, 6, 6, 6, 6, 6, 4], "{}", &*recovery);
        let token = encode(CodeKind::Token, &key);
        let body = token.strip_prefix("kwt1-").unwrap();
        assert_eq!(body.len(), 58);
        assert!(body.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }

    #[test]
    fn typos_are_caught() {
        let text = encode(CodeKind::Recovery, &Key32::random());
        let mut chars: Vec<char> = text.chars().collect();
        let i = 6; // inside the first group, not a dash
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(parse(&typo).err(), Some("its checksum does not match: a typo?"));
        assert!(parse(&text[..text.len() - 3]).is_err());
        assert!(parse("hunter2").is_err());
        assert!(parse("kwt1-!!!!").is_err());
        // a recovery key is not accepted as a token of the same bits
        let token = encode(CodeKind::Token, &Key32::from_bytes([1; 32]));
        let forged = token.replacen("kwt1-", "kw1-", 1);
        assert!(parse(&forged).is_err());
    }
}
