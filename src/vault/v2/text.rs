//! The text of a version 2 vault: parsing here, printing in [`print`]; no cryptography (see
//! `docs/vault-format.md`, "Version 2").
//!
//! The parser is strict and bounded: every line is checked against the grammar and the order the
//! spec gives, every limit before any allocation it governs, and any input gives a document or a
//! [`ParseError`], never a panic. Secret lines are not copied: a [`SecretLine`] holds its name
//! and variable as ranges into one buffer and its sealed body as a range into the file, so a
//! vault of 100,000 secrets is parsed without 100,000 allocations.
//!
//! The file may be mapped from the page cache (see [`Contents`]), where another program writing
//! it in place could change a byte between two reads. So nothing read from the file is trusted
//! twice: every line but a secret line is copied before it is parsed, a secret line's name and
//! variable are copied before they are validated, its tag is decoded once into the
//! [`SecretLine`] (what a seal authenticates), and a sealed body read again later is checked
//! against that tag before it is used ([`Document::sealed_with_tag`]). After parsing, the file is
//! only ever read as bytes.

use std::ops::Range;

use data_encoding::{BASE64_NOPAD, HEXLOWER};

use crate::files::Contents;
use crate::vault::crypto::Argon2Params;
use crate::vault::format::SlotKind;
use crate::vault::secret::{validate_env, validate_name, validate_var};

mod print;
pub use print::{ChangedUnderfoot, PrintSecret, print_domain, print_end, print_head, print_header, print_secret};

/// The first line of a version 2 vault.
pub const FIRST_LINE: &str = "keyward vault 2";
/// What the first line of any later text version starts with.
pub const MARKER: &str = "keyward vault ";
pub const VERSION: u16 = 2;
pub const MAX_FILE: usize = 256 << 20;
pub const MAX_LINE: usize = 2 << 20;
pub const MAX_SLOTS: usize = 64;
pub const MAX_DOMAINS: usize = 1024;
pub const MAX_SECRETS: usize = 1_000_000;
pub const MAX_SEALED: usize = 1 << 20;
pub const MAX_LABEL: usize = 64;
/// A wrapped domain key (a whole age file for one X25519 recipient, grease included) is a few
/// hundred bytes; this bounds what a reader hands to the age parser.
pub const MAX_WRAP: usize = 4096;
/// Generations stay exact in every JSON reader.
pub const MAX_GENERATION: u64 = 1 << 53;
/// The domain whose recipients hold every domain, present and future.
pub const ALL: &str = "@all";
/// The domain of secrets with no environment.
pub const DEFAULT: &str = "@default";
/// Nonce and tag at the front of a sealed body.
pub const SEALED_PREFIX: usize = 12 + 16;

/// A slot's name: its kind, and for keyring entries and tokens a label. Names sort by their
/// text, as the file orders slot lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotName {
    pub kind: SlotKind,
    pub label: String,
}

impl Ord for SlotName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl PartialOrd for SlotName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl SlotName {
    pub fn new(kind: SlotKind, label: &str) -> SlotName {
        SlotName { kind, label: if kind.labelled() { label.to_owned() } else { String::new() } }
    }

    /// How messages name it: "token ci-staging", "keyring keyutils@laptop", "the recovery key".
    pub fn describe(&self) -> String {
        match self.kind {
            SlotKind::Token | SlotKind::Keyring | SlotKind::Member => format!("{} {}", self.kind.as_str(), self.label),
            SlotKind::Kms => format!("KMS slot {}", self.label),
            SlotKind::Recovery | SlotKind::Passphrase => {
                format!("the {}", self.kind.as_str().replace("recovery", "recovery key"))
            }
        }
    }

    pub fn parse(text: &str) -> Result<SlotName, String> {
        let (kind, label) = match text.split_once(':') {
            Some(("keyring", l)) => (SlotKind::Keyring, l),
            Some(("token", l)) => (SlotKind::Token, l),
            Some(("member", l)) => (SlotKind::Member, l),
            Some(("kms", l)) => (SlotKind::Kms, l),
            None if text == "recovery" => (SlotKind::Recovery, ""),
            None if text == "passphrase" => (SlotKind::Passphrase, ""),
            _ => return Err(format!("{text:?} is not a slot name")),
        };
        if kind.labelled() {
            check_label(label)?;
        }
        Ok(SlotName { kind, label: label.to_owned() })
    }
}

impl std::fmt::Display for SlotName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind.labelled() {
            write!(f, "{}:{}", self.kind.as_str(), self.label)
        } else {
            f.write_str(self.kind.as_str())
        }
    }
}

/// A slot label: 1-64 of `[A-Za-z0-9._@-]`.
pub fn check_label(label: &str) -> Result<(), String> {
    let ok = !label.is_empty()
        && label.len() <= MAX_LABEL
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if ok { Ok(()) } else { Err(format!("{label:?} is not a slot label (1-64 of A-Z a-z 0-9 . _ @ -)")) }
}

/// One `slot` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: SlotName,
    /// The age X25519 recipient (`age1…`), checked by the parser to be one.
    pub recipient: String,
    pub created: i64,
    /// A passphrase slot's Argon2id parameters and salt.
    pub argon2: Option<(Argon2Params, [u8; 16])>,
    /// A member slot: the slot that added it (`by <slot>`), as the file records it.
    pub added_by: Option<SlotName>,
    /// A member slot made from an SSH key: its `ssh-ed25519` blob (base64), whose Ed25519 public
    /// key converts to `recipient` (checked when read).
    pub ssh: Option<String>,
    /// A KMS slot: the key (ARN or alias) and its X25519 secret encrypted by it.
    pub kms: Option<KmsSecret>,
}

/// A KMS slot's secret: `KeyId` and `CiphertextBlob` of AWS KMS `Encrypt`, with the encryption
/// context naming the vault and the slot (see [`crate::remote::kms`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsSecret {
    pub key_id: String,
    pub blob: Vec<u8>,
}

/// Whether `key_id` is a KMS key id, ARN or alias as this writes and reads it.
pub fn sound_kms_key_id(key_id: &str) -> bool {
    (1..=256).contains(&key_id.len())
        && key_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-' | b'.'))
}

/// One `to` line: the domain key as an age file for one slot's recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrap {
    pub slot: SlotName,
    pub age: Vec<u8>,
}

/// One `vouch` line: the previous key vouching for the key of `generation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouch {
    pub generation: u64,
    pub previous: [u8; 16],
    pub boxed: [u8; 48],
    pub mac: [u8; 32],
}

/// A domain's lines other than its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainHead {
    pub name: String,
    pub generation: u64,
    pub key_id: [u8; 16],
    /// Absent for `@all`.
    pub grant: Option<[u8; 32]>,
    pub to: Vec<Wrap>,
    pub vouches: Vec<Vouch>,
    /// Required in `@default`; optional in an environment (what is set there, such as its
    /// remotes); absent in `@all`.
    pub settings: Option<Vec<u8>>,
    pub seal: [u8; 32],
}

impl DomainHead {
    /// A new domain's head: generation 1 under the key `key_id`, no recipients yet, to be
    /// granted and sealed when written.
    pub fn new(name: &str, key_id: [u8; 16]) -> DomainHead {
        DomainHead {
            name: name.to_owned(),
            generation: 1,
            key_id,
            grant: None,
            to: Vec::new(),
            vouches: Vec::new(),
            settings: None,
            seal: [0; 32],
        }
    }
}

/// One `secret` line: its name and variable as ranges into the document's `names`, its sealed
/// body as a range into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretLine {
    name: Range<u32>,
    var: Range<u32>,
    /// The base64 of the sealed body.
    sealed: Range<usize>,
    /// The sealed body's AEAD tag, decoded when the line was parsed: what the domain's seal
    /// covers, and what the body must still carry when it is read again.
    pub tag: [u8; 16],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub head: DomainHead,
    pub secrets: Vec<SecretLine>,
}

/// A parsed version 2 vault.
pub struct Document {
    /// The file. Only sealed bodies are read from it after parsing.
    text: Contents,
    /// Every secret's name and variable, copied out of the file and validated.
    names: String,
    pub id: [u8; 16],
    pub created: i64,
    pub slots: Vec<Slot>,
    pub domains: Vec<Domain>,
    /// Read for one secret: some environments' secret lines were not parsed.
    partial: bool,
}

/// Why a text is not a version 2 vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// It does not start with the version 2 first line.
    NotAVault,
    /// A later version's first line.
    FutureVersion(u16),
    /// A version 2 vault, damaged or tampered with: the line number (1-based) and what is wrong.
    Damaged { line: usize, reason: String },
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("id", &HEXLOWER.encode(&self.id))
            .field("slots", &self.slots.len())
            .field("domains", &self.domains.len())
            .finish_non_exhaustive()
    }
}

impl Document {
    /// A document with no secret lines (a vault being created).
    pub fn new(id: [u8; 16], created: i64, slots: Vec<Slot>, domains: Vec<Domain>) -> Document {
        debug_assert!(domains.iter().all(|d| d.secrets.is_empty()));
        Document { text: Contents::default(), names: String::new(), id, created, slots, domains, partial: false }
    }

    /// Read for one secret ([`parse_for_secret`]): not every secret line was parsed, and the
    /// document must not be written back.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// The length of the file this document was parsed from.
    pub fn file_len(&self) -> usize {
        self.text.len()
    }

    pub fn secret_name(&self, s: &SecretLine) -> &str {
        &self.names[s.name.start as usize..s.name.end as usize]
    }

    pub fn secret_var(&self, s: &SecretLine) -> &str {
        &self.names[s.var.start as usize..s.var.end as usize]
    }

    /// The base64 of a secret's sealed body as the file holds it now. Not yet checked against
    /// the line's tag: see [`Document::sealed_with_tag`].
    pub fn sealed_text(&self, s: &SecretLine) -> &[u8] {
        &self.text[s.sealed.clone()]
    }

    /// A secret's sealed body decoded, if it still carries the tag the line was parsed with
    /// (and so the seal authenticated): a file changed in place since is not read.
    pub fn sealed_with_tag(&self, s: &SecretLine) -> Option<Vec<u8>> {
        let body = BASE64_NOPAD.decode(self.sealed_text(s)).ok()?;
        (body.get(12..SEALED_PREFIX) == Some(&s.tag[..])).then_some(body)
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.head.name == name)
    }

    pub fn slot(&self, name: &SlotName) -> Option<&Slot> {
        self.slots.iter().find(|s| &s.name == name)
    }

    /// The domain and line of the secret `name`.
    pub fn find(&self, name: &str) -> Option<(&Domain, &SecretLine)> {
        self.find_index(name).map(|(d, l)| (&self.domains[d], &self.domains[d].secrets[l]))
    }

    /// The indexes of the domain and line of the secret `name`.
    pub fn find_index(&self, name: &str) -> Option<(usize, usize)> {
        self.domains
            .iter()
            .enumerate()
            .find_map(|(di, d)| d.secrets.binary_search_by(|s| self.secret_name(s).cmp(name)).ok().map(|li| (di, li)))
    }
}

#[cfg(test)]
impl Document {
    /// The file's bytes, to change under a parsed document as a program writing the file in
    /// place would change a mapping (`None` for a mapped file).
    pub fn file_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.text {
            Contents::Read(bytes) => Some(bytes),
            Contents::Mapped(_) => None,
        }
    }
}

/// The environment a domain holds secrets of (`None` for `@default` and `@all`).
pub fn environment(domain: &str) -> Option<&str> {
    (!domain.starts_with('@')).then_some(domain)
}

/// The domain of secrets of this environment.
pub fn domain_of(env: Option<&str>) -> &str {
    env.unwrap_or(DEFAULT)
}

/// The 16-byte tag of a sealed body, read from the front of its base64 without decoding the rest.
pub fn sealed_tag(b64: &[u8]) -> Option<[u8; 16]> {
    // Nonce (12) and tag (16) are the first 28 bytes: characters 16..40 decode to bytes 12..30.
    // Copied first: the decoder reads what it was given once, whatever the file does meanwhile.
    let mut chars = [0u8; 24];
    chars.copy_from_slice(b64.get(16..40)?);
    let mut bytes = [0u8; 18];
    BASE64_NOPAD.decode_mut(&chars, &mut bytes).ok()?;
    bytes[..16].try_into().ok()
}

// ---------------------------------------------------------------- parsing

/// How the version of a text vault's first line reads, if it has one.
pub fn version_of(bytes: &[u8]) -> Option<Result<u16, ()>> {
    let first = bytes.split(|&b| b == b'\n').next()?;
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let rest = first.strip_prefix(MARKER.as_bytes())?;
    if rest.len() > 5 {
        return Some(Err(()));
    }
    // Copied before it is read as text (the file may be mapped: see the module's comment).
    Some(String::from_utf8(rest.to_vec()).ok().and_then(|v| v.parse::<u16>().ok()).ok_or(()))
}

struct Lines<'a> {
    text: &'a [u8],
    pos: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    /// The next non-empty line: (its number, the line without its ending), as bytes of the file.
    fn next(&mut self) -> Result<Option<(usize, &'a [u8])>, ParseError> {
        loop {
            if self.pos >= self.text.len() {
                return Ok(None);
            }
            let rest = &self.text[self.pos..];
            let Some(end) = memchr::memchr(b'\n', rest) else {
                self.number += 1;
                return Err(damaged(self.number, "the last line has no line ending (a truncated file)"));
            };
            self.pos += end + 1;
            self.number += 1;
            if end > MAX_LINE {
                return Err(damaged(self.number, "a line is longer than the format allows"));
            }
            let line = &rest[..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.is_empty() {
                return Ok(Some((self.number, line)));
            }
        }
    }
}

fn next_raw<'a>(lines: &mut Lines<'a>, what: &str) -> Result<(usize, &'a [u8]), ParseError> {
    lines.next()?.ok_or_else(|| damaged(lines.number, format!("the file ends before {what} (a truncated file)")))
}

/// The next line, copied out of the file (see the module's comment) and checked to be UTF-8.
fn next_line(lines: &mut Lines<'_>, what: &str) -> Result<(usize, String), ParseError> {
    let (n, raw) = next_raw(lines, what)?;
    Ok((n, owned_line(n, raw)?))
}

fn owned_line(n: usize, raw: &[u8]) -> Result<String, ParseError> {
    String::from_utf8(raw.to_vec()).map_err(|_| damaged(n, "the file is not UTF-8"))
}

fn damaged(line: usize, reason: impl Into<String>) -> ParseError {
    ParseError::Damaged { line, reason: reason.into() }
}

fn fields(line: &str) -> Vec<&str> {
    line.split(' ').collect()
}

fn b64<const N: usize>(n: usize, what: &str, text: &str) -> Result<[u8; N], ParseError> {
    let bytes = BASE64_NOPAD.decode(text.as_bytes()).map_err(|_| damaged(n, format!("{what} is not base64")))?;
    bytes.try_into().map_err(|_| damaged(n, format!("{what} has the wrong length")))
}

fn b64_vec(n: usize, what: &str, text: &str, max: usize) -> Result<Vec<u8>, ParseError> {
    if text.len() > max.div_ceil(3) * 4 {
        return Err(damaged(n, format!("{what} is too long")));
    }
    BASE64_NOPAD.decode(text.as_bytes()).map_err(|_| damaged(n, format!("{what} is not base64")))
}

fn hex16(n: usize, what: &str, text: &str) -> Result<[u8; 16], ParseError> {
    let bytes = HEXLOWER.decode(text.as_bytes()).map_err(|_| damaged(n, format!("{what} is not lower-case hex")))?;
    bytes.try_into().map_err(|_| damaged(n, format!("{what} has the wrong length")))
}

fn integer<T: std::str::FromStr>(n: usize, what: &str, text: &str) -> Result<T, ParseError> {
    // Canonical decimal only (one text per number, as for base64): digits, an optional leading
    // minus, no leading zeros, no "-0".
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    if !canonical {
        return Err(damaged(n, format!("{what} is not a number")));
    }
    text.parse().map_err(|_| damaged(n, format!("{what} is out of range")))
}

fn domain_name_ok(name: &str) -> bool {
    name == ALL || name == DEFAULT || validate_env(name).is_ok()
}

/// Where a domain sorts: `@all`, `@default`, then environments by name.
fn domain_rank(name: &str) -> (u8, &str) {
    match name {
        ALL => (0, ""),
        DEFAULT => (1, ""),
        other => (2, other),
    }
}

/// Parses a version 2 vault. `bytes` is the whole file.
pub fn parse(bytes: &[u8]) -> Result<Document, ParseError> {
    parse_contents(bytes.to_vec().into())
}

/// [`parse`], taking the file's bytes (they become the document's text without a copy).
pub fn parse_owned(bytes: Vec<u8>) -> Result<Document, ParseError> {
    parse_contents(bytes.into())
}

/// [`parse`], taking the file's bytes as read or mapped (they become the document's text).
pub fn parse_contents(bytes: Contents) -> Result<Document, ParseError> {
    parse_scoped(bytes, None)
}

/// [`parse_contents`] for reading one secret (`get`): an environment's secret lines are parsed
/// only when its block may hold `name`, which bisecting its sorted lines in the file says
/// without parsing them. The other environments are read as heads alone, and the document is
/// partial ([`Document::is_partial`]): enough to find, authenticate and open `name`, never to
/// write back.
pub fn parse_for_secret(bytes: Contents, name: &str) -> Result<Document, ParseError> {
    parse_scoped(bytes, Some(name))
}

fn parse_scoped(bytes: Contents, only: Option<&str>) -> Result<Document, ParseError> {
    match version_of(&bytes) {
        None => return Err(ParseError::NotAVault),
        Some(Err(())) => return Err(damaged(1, "the first line names no format version")),
        Some(Ok(v)) if v > VERSION => return Err(ParseError::FutureVersion(v)),
        Some(Ok(VERSION)) => {}
        Some(Ok(_)) => return Err(ParseError::NotAVault),
    }
    if bytes.len() > MAX_FILE {
        return Err(damaged(0, "the file is larger than the format allows"));
    }
    let e = match parse_lines(&bytes, only) {
        Ok(doc) => return Ok(Document { text: bytes, ..doc }),
        // Damage is reported as a whole read finds it (with its line number).
        Err(_) if only.is_some() => return parse_scoped(bytes, None),
        Err(e) => e,
    };
    // A text merge of two branches left git's markers (which no line of the grammar allows):
    // say what happened and what to do.
    match memchr::memmem::find(&bytes, b"\n<<<<<<< ") {
        Some(at) => Err(damaged(
            memchr::memchr_iter(b'\n', &bytes[..=at]).count() + 1,
            "git left merge conflict markers in the vault: run `keyward git setup` so git merges vaults by secret, then redo the merge (`git merge --abort`, or `git checkout --ours`/`--theirs` the file)",
        )),
        None => Err(e),
    }
}

/// The document in `bytes`, without its text (the caller gives it its own). UTF-8 is checked
/// line by line as lines and fields are copied out; a sealed body's bytes are checked as base64
/// when it is decoded, so a `get` reads each byte of the file once.
fn parse_lines(bytes: &[u8], only: Option<&str>) -> Result<Document, ParseError> {
    let mut lines = Lines { text: bytes, pos: 0, number: 0 };
    let mut partial = false;
    // Every name and variable fits in the file: reserving that once means no copy as it grows
    // (and no page of it is touched before it is written).
    let mut names = String::with_capacity(bytes.len());

    let (n, first) = next_line(&mut lines, "the first line")?;
    if first != FIRST_LINE {
        return Err(damaged(n, "the first line is not the version 2 marker"));
    }
    let (n, line) = next_line(&mut lines, "the id line")?;
    let id = match fields(&line)[..] {
        ["id", hex] => hex16(n, "the vault id", hex)?,
        _ => return Err(damaged(n, "expected `id <vault id>`")),
    };
    let (n, line) = next_line(&mut lines, "the created line")?;
    let created = match fields(&line)[..] {
        ["created", t] => integer::<i64>(n, "created", t)?,
        _ => return Err(damaged(n, "expected `created <time>`")),
    };

    let mut slots: Vec<Slot> = Vec::new();
    let mut domains: Vec<Domain> = Vec::new();
    let mut secret_count = 0usize;
    let (mut n, mut line) = next_line(&mut lines, "the end line")?;
    while line.starts_with("slot ") {
        let slot = parse_slot(n, &line)?;
        if let Some(last) = slots.last()
            && last.name >= slot.name
        {
            return Err(damaged(n, "slot lines are out of order or repeated"));
        }
        if slots.len() == MAX_SLOTS {
            return Err(damaged(n, "more slots than the format allows"));
        }
        slots.push(slot);
        (n, line) = next_line(&mut lines, "the end line")?;
    }
    if slots.iter().filter(|s| s.name.kind == SlotKind::Passphrase).count() > 1 {
        return Err(damaged(n, "more than one passphrase slot"));
    }

    while line.starts_with("domain ") {
        let mut head = parse_domain_line(n, &line)?;
        if let Some(last) = domains.last()
            && domain_rank(&last.head.name) >= domain_rank(&head.name)
        {
            return Err(damaged(n, "domains are out of order or repeated"));
        }
        if domains.len() == MAX_DOMAINS {
            return Err(damaged(n, "more domains than the format allows"));
        }
        let expect_first = if domains.is_empty() {
            Some(ALL)
        } else if domains.len() == 1 {
            Some(DEFAULT)
        } else {
            None
        };
        if let Some(expected) = expect_first
            && head.name != expected
        {
            return Err(damaged(n, format!("expected the {expected} domain here")));
        }
        (n, line) = next_line(&mut lines, "the end line")?;
        // grant
        if head.name != ALL {
            match fields(&line)[..] {
                ["grant", mac] => head.grant = Some(b64(n, "the grant", mac)?),
                _ => return Err(damaged(n, format!("expected the grant of {}", head.name))),
            }
            (n, line) = next_line(&mut lines, "the end line")?;
        }
        // to
        while line.starts_with("to ") {
            let wrap = match fields(&line)[..] {
                ["to", slot, age] => Wrap {
                    slot: SlotName::parse(slot).map_err(|r| damaged(n, r))?,
                    age: b64_vec(n, "a wrapped key", age, MAX_WRAP)?,
                },
                _ => return Err(damaged(n, "expected `to <slot> <wrapped key>`")),
            };
            if slots.binary_search_by(|s| s.name.cmp(&wrap.slot)).is_err() {
                return Err(damaged(n, format!("a key is wrapped for {}, which has no slot line", wrap.slot)));
            }
            if let Some(last) = head.to.last()
                && last.slot >= wrap.slot
            {
                return Err(damaged(n, "to lines are out of order or repeated"));
            }
            head.to.push(wrap);
            (n, line) = next_line(&mut lines, "the end line")?;
        }
        // vouch
        while line.starts_with("vouch ") {
            let vouch = match fields(&line)[..] {
                ["vouch", g, prev, boxed, mac] => Vouch {
                    generation: integer(n, "a vouch's generation", g)?,
                    previous: hex16(n, "a vouch's previous key id", prev)?,
                    boxed: b64(n, "a vouch's box", boxed)?,
                    mac: b64(n, "a vouch's MAC", mac)?,
                },
                _ => return Err(damaged(n, "expected `vouch <generation> <key id> <box> <mac>`")),
            };
            let in_order = head.vouches.last().map_or(vouch.generation >= 2, |last| last.generation < vouch.generation);
            if !in_order || vouch.generation > head.generation {
                return Err(damaged(n, "vouch lines are out of order, repeated or ahead of the domain"));
            }
            head.vouches.push(vouch);
            (n, line) = next_line(&mut lines, "the end line")?;
        }
        // settings: required in @default, optional in an environment (its remotes), never in @all
        let settings_line = matches!(fields(&line)[..], ["settings", _]);
        if head.name == DEFAULT || (settings_line && head.name != ALL) {
            match fields(&line)[..] {
                ["settings", sealed] => head.settings = Some(b64_vec(n, "the settings", sealed, MAX_SEALED)?),
                _ => return Err(damaged(n, "expected the settings of @default")),
            }
            if head.settings.as_ref().is_some_and(|s| s.len() < SEALED_PREFIX) {
                return Err(damaged(n, "the settings are too short to be sealed"));
            }
            (n, line) = next_line(&mut lines, "the end line")?;
        }
        match fields(&line)[..] {
            ["seal", mac] => head.seal = b64(n, "the seal", mac)?,
            _ => return Err(damaged(n, format!("expected the seal of {}", head.name))),
        }
        if let Some(wanted) = only
            && head.name != ALL
            && head.name != DEFAULT
            && let Some(end) = block_without(bytes, lines.pos, wanted)
        {
            // Line numbers are not counted over the block: an error after it is reported by
            // parsing the whole file again (see parse_scoped).
            lines.pos = end;
            partial = true;
        }
        let mut raw;
        (n, raw) = next_raw(&mut lines, "the end line")?;
        let mut secrets: Vec<SecretLine> = Vec::new();
        while raw.starts_with(b"secret ") {
            if head.name == ALL {
                return Err(damaged(n, "the @all domain holds no secrets"));
            }
            let secret = parse_secret(n, bytes, raw, &mut names)?;
            if let Some(last) = secrets.last()
                && names[last.name.start as usize..last.name.end as usize]
                    >= names[secret.name.start as usize..secret.name.end as usize]
            {
                return Err(damaged(n, "secret lines are out of order or repeated"));
            }
            secret_count += 1;
            if secret_count > MAX_SECRETS {
                return Err(damaged(n, "more secrets than the format allows"));
            }
            secrets.push(secret);
            (n, raw) = next_raw(&mut lines, "the end line")?;
        }
        line = owned_line(n, raw)?;
        domains.push(Domain { head, secrets });
    }
    if line != "end" {
        return Err(damaged(n, format!("unexpected line {:?}", line.split(' ').next().unwrap_or(""))));
    }
    if let Some((n, _)) = lines.next()? {
        return Err(damaged(n, "lines after the end line"));
    }
    if domains.len() < 2 {
        return Err(damaged(n, "the @all and @default domains are missing"));
    }
    // Every slot holds @default: a slot line without a key there is covered by no seal and no
    // grant, and a writer would adopt it (wrap keys for it) on the next save.
    let default_to = &domains[1].head.to;
    if let Some(orphan) = slots.iter().find(|s| default_to.binary_search_by(|w| w.slot.cmp(&s.name)).is_err()) {
        return Err(damaged(0, format!("the slot {} has no key for @default: nothing authenticates it", orphan.name)));
    }
    let mut recipients: Vec<&str> = slots.iter().map(|s| s.recipient.as_str()).collect();
    recipients.sort_unstable();
    if recipients.windows(2).any(|w| w[0] == w[1]) {
        return Err(damaged(0, "two slots have the same recipient"));
    }
    // A name lives in one domain only. Each domain's names are sorted: a merge finds a name
    // twice in linear time.
    if let Some(twice) = name_in_two_domains(&names, &domains) {
        return Err(damaged(0, format!("the secret {twice} is in two domains")));
    }
    Ok(Document { text: Contents::default(), names, id, created, slots, domains, partial })
}

/// The end of the block of secret lines starting at `from`, when bisecting the names of its
/// sorted lines says `name` is not among them: O(log n) lines are looked at, and the block is
/// not parsed. `None` (parse the block) when it may hold `name` or a line looked at is not a
/// secret line; a damaged block is then the parser's to report.
fn block_without(text: &[u8], from: usize, name: &str) -> Option<usize> {
    let rest = text.get(from.checked_sub(1)?..)?;
    let next = memchr::memmem::find(rest, b"\ndomain ").or_else(|| memchr::memmem::find(rest, b"\nend"))?;
    let end = from + next;
    let block = &text[from..end];
    // Lines start in lo..hi; the blank lines the printer ends a block with are left out.
    let (mut lo, mut hi) = (0, block.iter().rposition(|&b| b != b'\n' && b != b'\r').map_or(0, |i| i + 1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = memchr::memrchr(b'\n', &block[lo..mid]).map_or(lo, |i| lo + i + 1);
        let line_end = memchr::memchr(b'\n', &block[start..hi]).map_or(hi, |i| start + i);
        let field = block[start..line_end].strip_prefix(b"secret ")?;
        let line_name = &field[..memchr::memchr(b' ', field).unwrap_or(field.len())];
        match line_name.cmp(name.as_bytes()) {
            std::cmp::Ordering::Equal => return None,
            std::cmp::Ordering::Less => lo = line_end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    Some(end)
}

/// A name that more than one domain holds, by merging the domains' sorted name lists. There are
/// few domains: the smallest head is found by looking at each.
fn name_in_two_domains<'t>(names: &'t str, domains: &[Domain]) -> Option<&'t str> {
    let mut lists: Vec<std::slice::Iter<'_, SecretLine>> =
        domains.iter().filter(|d| !d.secrets.is_empty()).map(|d| d.secrets.iter()).collect();
    if lists.len() < 2 {
        return None;
    }
    let name = |s: &SecretLine| &names[s.name.start as usize..s.name.end as usize];
    let mut heads: Vec<Option<&'t str>> = lists.iter_mut().map(|l| l.next().map(name)).collect();
    let mut last: Option<&str> = None;
    loop {
        let mut smallest: Option<(usize, &str)> = None;
        for (i, head) in heads.iter().enumerate() {
            if let Some(h) = *head
                && smallest.is_none_or(|(_, s)| h < s)
            {
                smallest = Some((i, h));
            }
        }
        let (i, current) = smallest?;
        if last == Some(current) {
            return Some(current);
        }
        last = Some(current);
        heads[i] = lists[i].next().map(name);
    }
}

fn parse_slot(n: usize, line: &str) -> Result<Slot, ParseError> {
    let f = fields(line);
    let ["slot", name, recipient, created, ref rest @ ..] = f[..] else {
        return Err(damaged(n, "expected `slot <name> <recipient> <created>`"));
    };
    let name = SlotName::parse(name).map_err(|r| damaged(n, r))?;
    // A member's key may be an age plugin's (`age1yubikey1…`); every other slot's is X25519.
    let plugin = name.kind == SlotKind::Member && super::plugin::recipient_plugin(recipient).is_some();
    if !plugin && (recipient.len() > 128 || !super::keys::sound_recipient(recipient)) {
        return Err(damaged(n, format!("the recipient of {name} is not an age X25519 recipient")));
    }
    let created = integer::<i64>(n, "created", created)?;
    let argon2 = match (name.kind, rest) {
        (SlotKind::Passphrase, ["argon2id", memory, passes, lanes, salt]) => {
            let params = Argon2Params {
                m_kib: integer(n, "m", memory)?,
                t: integer(n, "t", passes)?,
                p: integer(n, "p", lanes)?,
            };
            params.check().map_err(|r| damaged(n, r))?;
            Some((params, b64(n, "the salt", salt)?))
        }
        (SlotKind::Passphrase, _) => return Err(damaged(n, "a passphrase slot needs `argon2id <m> <t> <p> <salt>`")),
        (SlotKind::Member, extra) => {
            let (by, ssh) = match extra {
                ["by", by] => (Some(*by), None),
                ["ssh-ed25519", blob] => (None, Some(*blob)),
                ["by", by, "ssh-ed25519", blob] => (Some(*by), Some(*blob)),
                [] => (None, None),
                _ => return Err(damaged(n, format!("unexpected fields after the slot {name}"))),
            };
            let added_by = by.map(SlotName::parse).transpose().map_err(|r| damaged(n, r))?;
            if let Some(blob) = ssh {
                let converted = super::keys::ssh_member(&format!("ssh-ed25519 {blob}"))
                    .map_err(|r| damaged(n, format!("the SSH key of {name}: {r}")))?;
                if converted.0 != recipient {
                    return Err(damaged(n, format!("the SSH key of {name} is not its recipient")));
                }
            }
            return Ok(Slot {
                name,
                recipient: recipient.to_owned(),
                created,
                argon2: None,
                added_by,
                ssh: ssh.map(str::to_owned),
                kms: None,
            });
        }
        (SlotKind::Kms, ["kms", key_id, blob]) => {
            if !sound_kms_key_id(key_id) {
                return Err(damaged(n, format!("the KMS key of {name} is not a key id, ARN or alias")));
            }
            let blob = b64_vec(n, "the KMS ciphertext", blob, MAX_KMS_BLOB)?;
            let kms = Some(KmsSecret { key_id: (*key_id).to_owned(), blob });
            return Ok(Slot {
                name,
                recipient: recipient.to_owned(),
                created,
                argon2: None,
                added_by: None,
                ssh: None,
                kms,
            });
        }
        (SlotKind::Kms, _) => return Err(damaged(n, "a KMS slot needs `kms <key id> <ciphertext>`")),
        (_, []) => None,
        _ => return Err(damaged(n, format!("unexpected fields after the slot {name}"))),
    };
    Ok(Slot { name, recipient: recipient.to_owned(), created, argon2, added_by: None, ssh: None, kms: None })
}

/// A KMS ciphertext of a 32-byte secret is a few hundred bytes; 6 KiB is KMS's own bound.
const MAX_KMS_BLOB: usize = 6144;

fn parse_domain_line(n: usize, line: &str) -> Result<DomainHead, ParseError> {
    let ["domain", name, generation, key_id] = fields(line)[..] else {
        return Err(damaged(n, "expected `domain <name> <generation> <key id>`"));
    };
    if !domain_name_ok(name) {
        return Err(damaged(n, format!("{name:?} is not a domain name")));
    }
    let generation: u64 = integer(n, "the generation", generation)?;
    if generation == 0 || generation > MAX_GENERATION {
        return Err(damaged(n, "the generation is out of range"));
    }
    Ok(DomainHead {
        name: name.to_owned(),
        generation,
        key_id: hex16(n, "the key id", key_id)?,
        grant: None,
        to: Vec::new(),
        vouches: Vec::new(),
        settings: None,
        seal: [0; 32],
    })
}

/// `line` is a slice of `text`, the file. The name and variable are copied into `names` before
/// they are validated; the sealed body's range is an offset into `text` and its tag is decoded.
fn parse_secret(n: usize, text: &[u8], line: &[u8], names: &mut String) -> Result<SecretLine, ParseError> {
    let start = line.as_ptr() as usize - text.as_ptr() as usize;
    // The fields by memchr: the sealed body is most of the line, and a space in it is damage.
    let shape = || damaged(n, "expected `secret <name> <variable> <sealed body>`");
    let rest = line.strip_prefix(b"secret ").ok_or_else(shape)?;
    let name_end = memchr::memchr(b' ', rest).ok_or_else(shape)?;
    let (name, rest) = (&rest[..name_end], &rest[name_end + 1..]);
    let var_end = memchr::memchr(b' ', rest).ok_or_else(shape)?;
    let (var, sealed) = (&rest[..var_end], &rest[var_end + 1..]);
    if memchr::memchr(b' ', sealed).is_some() {
        return Err(shape());
    }
    if name.len() > MAX_LINE || var.len() > MAX_LINE {
        return Err(shape());
    }
    // Copied into `scratch` first, then checked there and appended from there: the file's
    // bytes are read once.
    let mut scratch = [0u8; 128];
    let mut copy = |names: &mut String, field: &[u8]| -> Result<Range<u32>, ParseError> {
        let field = scratch.get_mut(..field.len()).map(|s| {
            s.copy_from_slice(field);
            &*s
        });
        // Longer than any valid name or variable: the validation below says why.
        let field = field.ok_or_else(|| damaged(n, "a secret's name or variable is longer than 128 bytes"))?;
        let field = std::str::from_utf8(field).map_err(|_| damaged(n, "the file is not UTF-8"))?;
        let at = names.len() as u32;
        names.push_str(field);
        Ok(at..names.len() as u32)
    };
    let name = copy(names, name)?;
    let var = copy(names, var)?;
    let (name_text, var_text) =
        (&names[name.start as usize..name.end as usize], &names[var.start as usize..var.end as usize]);
    let invalid = if let Err(r) = validate_name(name_text) {
        Some(format!("a secret's name is not valid ({r})"))
    } else if let Err(r) = validate_var(var_text) {
        Some(format!("the variable of {name_text} is not valid ({r})"))
    } else if sealed.len() < 40 || sealed.len() > MAX_SEALED.div_ceil(3) * 4 {
        Some(format!("the sealed body of {name_text} has an impossible length"))
    } else {
        None
    };
    if let Some(reason) = invalid {
        return Err(damaged(n, reason));
    }
    let tag = sealed_tag(sealed).ok_or_else(|| damaged(n, format!("the sealed body of {name_text} is not base64")))?;
    let sealed_start = start + "secret ".len() + name_end + 1 + var_end + 1;
    Ok(SecretLine { name, var, sealed: sealed_start..sealed_start + sealed.len(), tag })
}
