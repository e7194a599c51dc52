//! Printing a version 2 vault's text: the inverse of the parser in the parent module, one
//! spelling for every document (see `docs/vault-format.md`, "Version 2").

use std::fmt::Write as _;
use std::io::Write as _;

use data_encoding::{BASE64_NOPAD, HEXLOWER};

use super::{Document, DomainHead, FIRST_LINE, SecretLine, Slot, sealed_tag};

/// A secret line to print: its clear fields and its sealed body in base64.
pub struct PrintSecret<'a> {
    pub name: &'a str,
    pub var: &'a str,
    pub sealed: &'a [u8],
    /// The tag the body must carry, for a body copied from a file that may have changed since
    /// it was parsed (see the module's comment).
    pub tag: Option<[u8; 16]>,
}

/// A body that no longer carries the tag it was parsed with: the file was written in place
/// while keyward was rewriting it.
#[derive(Debug)]
pub struct ChangedUnderfoot {
    pub name: String,
}

impl<'a> PrintSecret<'a> {
    /// A secret line of `doc`, written back as it is.
    pub fn kept(doc: &'a Document, s: &SecretLine) -> PrintSecret<'a> {
        PrintSecret { name: doc.secret_name(s), var: doc.secret_var(s), sealed: doc.sealed_text(s), tag: Some(s.tag) }
    }
}

/// Writes the header lines and the slot lines.
pub fn print_header(out: &mut Vec<u8>, id: &[u8; 16], created: i64, slots: &[Slot]) {
    let _ = writeln!(out, "{FIRST_LINE}\nid {}\ncreated {created}", HEXLOWER.encode(id));
    for s in slots {
        out.extend_from_slice(s.line().as_bytes());
        out.push(b'\n');
    }
}

impl Slot {
    /// The slot's line, without its line ending: what the file holds, and what seals and grants
    /// cover.
    pub fn line(&self) -> String {
        let mut line = format!("slot {} {} {}", self.name, self.recipient, self.created);
        if let Some((p, salt)) = &self.argon2 {
            let _ = write!(line, " argon2id {} {} {} {}", p.m_kib, p.t, p.p, BASE64_NOPAD.encode(salt));
        }
        if let Some(by) = &self.added_by {
            let _ = write!(line, " by {by}");
        }
        if let Some(blob) = &self.ssh {
            let _ = write!(line, " ssh-ed25519 {blob}");
        }
        if let Some(kms) = &self.kms {
            let _ = write!(line, " kms {} {}", kms.key_id, BASE64_NOPAD.encode(&kms.blob));
        }
        line
    }
}

/// Writes one domain block (preceded by an empty line).
pub fn print_domain<'a>(
    out: &mut Vec<u8>,
    head: &DomainHead,
    secrets: impl IntoIterator<Item = PrintSecret<'a>>,
) -> Result<(), ChangedUnderfoot> {
    print_head(out, head);
    for s in secrets {
        print_secret(out, &s)?;
    }
    Ok(())
}

/// Writes a domain's lines up to its seal (preceded by an empty line).
pub fn print_head(out: &mut Vec<u8>, head: &DomainHead) {
    let _ = writeln!(out, "\ndomain {} {} {}", head.name, head.generation, HEXLOWER.encode(&head.key_id));
    if let Some(grant) = &head.grant {
        let _ = writeln!(out, "grant {}", BASE64_NOPAD.encode(grant));
    }
    for w in &head.to {
        let _ = writeln!(out, "to {} {}", w.slot, BASE64_NOPAD.encode(&w.age));
    }
    for v in &head.vouches {
        let _ = writeln!(
            out,
            "vouch {} {} {} {}",
            v.generation,
            HEXLOWER.encode(&v.previous),
            BASE64_NOPAD.encode(&v.boxed),
            BASE64_NOPAD.encode(&v.mac)
        );
    }
    if let Some(settings) = &head.settings {
        let _ = writeln!(out, "settings {}", BASE64_NOPAD.encode(settings));
    }
    let _ = writeln!(out, "seal {}", BASE64_NOPAD.encode(&head.seal));
}

/// Writes one secret line, checking a kept body against its tag in the copy written.
pub fn print_secret(out: &mut Vec<u8>, s: &PrintSecret<'_>) -> Result<(), ChangedUnderfoot> {
    out.extend_from_slice(b"secret ");
    out.extend_from_slice(s.name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(s.var.as_bytes());
    out.push(b' ');
    let at = out.len();
    out.extend_from_slice(s.sealed);
    // Checked in the copy just written: what the file does after this does not matter.
    if let Some(tag) = s.tag
        && sealed_tag(&out[at..]) != Some(tag)
    {
        return Err(ChangedUnderfoot { name: s.name.to_owned() });
    }
    out.push(b'\n');
    Ok(())
}

pub fn print_end(out: &mut Vec<u8>) {
    out.extend_from_slice(b"end\n");
}
