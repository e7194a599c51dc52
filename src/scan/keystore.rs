//! Key stores: a PKCS#12 file (`.p12`, `.pfx`) or a Java key store (JKS, JCEKS) holds private
//! keys behind a password that is often `changeit`, so a committed one is a finding by itself (as
//! gitleaks' `pkcs12-file` rule). Recognised by their first bytes, not their names: binary files
//! are otherwise skipped, and a renamed `.p12` is still a key store.

use sha2::{Digest, Sha256};

/// The rule's id in findings, config files and SARIF.
pub const RULE: &str = "keystore";

/// What kind of key store `head` (a file's first bytes) starts, if any.
pub fn kind(head: &[u8]) -> Option<&'static str> {
    match head.get(..4)? {
        [0xfe, 0xed, 0xfe, 0xed] if version(head) => Some("Java key store (JKS)"),
        [0xce, 0xce, 0xce, 0xce] if version(head) => Some("Java key store (JCEKS)"),
        [0x30, ..] if pkcs12(head) => Some("PKCS#12 key store"),
        _ => None,
    }
}

/// JKS and JCEKS: a big-endian version 1 or 2 after the magic.
fn version(head: &[u8]) -> bool {
    matches!(head.get(4..8), Some([0, 0, 0, 1 | 2]))
}

/// PKCS#12 (RFC 7292): `PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, … }`,
/// where the ContentInfo starts with the `data` or `signedData` object identifier of PKCS#7.
fn pkcs12(head: &[u8]) -> bool {
    const PKCS7: [u8; 10] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07];
    let Some(at) = sequence_body(head, 0) else { return false };
    if head.get(at..at + 3) != Some(&[0x02, 0x01, 0x03]) {
        return false;
    }
    let Some(info) = sequence_body(head, at + 3) else { return false };
    head.get(info..info + PKCS7.len()) == Some(&PKCS7) && matches!(head.get(info + PKCS7.len()), Some(1 | 2))
}

/// Where the body of the DER SEQUENCE at `at` starts (its length in short or long form).
fn sequence_body(head: &[u8], at: usize) -> Option<usize> {
    if *head.get(at)? != 0x30 {
        return None;
    }
    match *head.get(at + 1)? {
        // 0x80: BER's indefinite length, as Windows exports PFX files.
        n if n <= 0x80 => Some(at + 2),
        n @ 0x81..=0x84 => Some(at + 2 + usize::from(n - 0x80)),
        _ => None,
    }
}

/// Whether a whole key store (`kind` said which) holds a private or secret key: a Java trust
/// store of certificates only (`cacerts`) is public. Entries past what can be read, or a PKCS#12
/// file (whose contents are encrypted), count as keys.
pub fn holds_keys(bytes: &[u8]) -> bool {
    if !matches!(bytes.get(..4), Some([0xfe, 0xed, 0xfe, 0xed] | [0xce, 0xce, 0xce, 0xce])) {
        return true;
    }
    let mut r = Reader { bytes, at: 8 };
    let Some(count) = r.u32() else { return true };
    for _ in 0..count {
        // tag, alias, date; a certificate entry then has its type and its bytes.
        let Some(tag) = r.u32() else { return true };
        if tag != 2 {
            return true;
        }
        let entry = r.utf().and_then(|()| r.skip(8)).and_then(|()| r.utf()).and_then(|()| {
            let len = r.u32()?;
            r.skip(len as usize)
        });
        if entry.is_none() {
            return true;
        }
    }
    false
}

/// Big-endian fields of a Java key store.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> Option<u32> {
        let v = self.bytes.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(u32::from_be_bytes(v.try_into().ok()?))
    }

    /// A Java "modified UTF-8" string: a 16-bit length, then the bytes.
    fn utf(&mut self) -> Option<()> {
        let len = self.bytes.get(self.at..self.at + 2)?;
        let len = usize::from(u16::from_be_bytes(len.try_into().ok()?));
        self.skip(2 + len)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len())?;
        self.at = end;
        Some(())
    }
}

/// A key store's value in a finding: the SHA-256 of its bytes, so baselines and fingerprints
/// tell two stores apart while nothing of the store itself is kept or shown.
pub fn fingerprint(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by openssl (`openssl pkcs12 -export`) and keytool (`-storetype JKS` and `JCEKS`):
    /// see tests/fixtures/keystores/README.md.
    #[test]
    fn real_key_stores_are_recognised_and_look_alikes_are_not() {
        let fixture = |name: &str| std::fs::read(format!("tests/fixtures/keystores/{name}")).unwrap();
        assert_eq!(kind(&fixture("client.p12")), Some("PKCS#12 key store"));
        assert_eq!(kind(&fixture("server.jks")), Some("Java key store (JKS)"));
        assert_eq!(kind(&fixture("server.jceks")), Some("Java key store (JCEKS)"));
        assert!(holds_keys(&fixture("server.jks")) && holds_keys(&fixture("server.jceks")));
        // A trust store of certificates only is public.
        let trust = fixture("truststore.jks");
        assert_eq!(kind(&trust), Some("Java key store (JKS)"));
        assert!(!holds_keys(&trust));
        // A PFX with BER's indefinite lengths, as Windows exports them.
        assert_eq!(
            kind(b"\x30\x80\x02\x01\x03\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"),
            Some("PKCS#12 key store")
        );
        // Other DER (a certificate: SEQUENCE { SEQUENCE … }), a Mach-O binary (0xfeedface),
        // the magic with no version, and short files.
        for other in [
            &b"\x30\x82\x01\x0a\x30\x82\x00\xb0\xa0\x03"[..],
            b"\xfe\xed\xfa\xce\x00\x00\x00\x01",
            b"\xfe\xed\xfe\xed\x00\x00\x00\x09",
            b"\x30",
            b"",
        ] {
            assert_eq!(kind(other), None, "{other:?}");
        }
    }

    proptest::proptest! {
        /// Any bytes: a kind or none, never a panic, and a kind only behind a known magic.
        #[test]
        fn any_bytes_are_judged_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..48)) {
            if kind(&bytes).is_some() {
                proptest::prop_assert!(matches!(bytes[0], 0x30 | 0xfe | 0xce));
            }
        }
    }
}
