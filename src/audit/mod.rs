//! The audit log: one JSON line per event, per vault, in the user's state directory
//! (`$XDG_STATE_HOME/keyward/audit/<vault-id>.log`), so reading a committed project vault never
//! dirties the repository.
//!
//! Tamper evidence: each entry carries `seq`, the previous entry's MAC (`prev`) and its own `mac`,
//! an HMAC-SHA256 over the entry's exact bytes under a key derived (HKDF) from a random audit
//! secret kept inside the encrypted vault (so it survives `key rotate`; vaults made before it
//! existed derive the key from the data key). A head file beside the log holds the last `seq` and
//! MAC under the same key and is replaced atomically on each append, so editing, deleting,
//! reordering, truncating or appending a forged entry is detected by [`verify`]. A log past the
//! segment size starts a new segment whose first entry chains to the last MAC of the one before.
//!
//! Failed unlock attempts are recorded without a MAC (there is no key) and marked
//! `"unauthenticated": true`; they stand outside the chain. Anyone who can write the file can add
//! such a line, so only one fixed shape is accepted (an `unlock.failed` event naming the vault and
//! the reason): any other unauthenticated line breaks the chain, and reports count them only as
//! failed unlocks.
//!
//! Epochs: `key rotate` replaces the audit secret, so whoever once decrypted the payload cannot
//! write authenticated entries afterwards. The vault keeps the MAC keys of earlier epochs; the
//! chain continues across the rotation (the first entry of the new epoch carries the last MAC
//! of the old one), and [`verify`] moves from one epoch's key to the next, never back.

pub mod report;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::sensitive::Key32;
use crate::vault::Vault;

pub use crate::config::DEFAULT_MAX_SEGMENT;
/// The head file's length: its JSON padded with blanks.
const HEAD_LEN: usize = 256;
/// The one event recorded without a MAC.
pub const UNLOCK_FAILED: &str = "unlock.failed";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Keys for one vault's log: entry MACs and value fingerprints.
pub struct Keys {
    mac: Key32,
    fingerprint: Key32,
}

fn hkdf(ikm: &[u8], info: &[u8]) -> Key32 {
    crate::vault::crypto::hkdf(ikm, None, info)
}

fn hmac_hex(key: &Key32, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).expect("any key length");
    mac.update(data);
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

impl Keys {
    pub fn derive(audit_secret: &[u8]) -> Keys {
        Keys {
            mac: hkdf(audit_secret, b"keyward/v1/audit-mac"),
            fingerprint: hkdf(audit_secret, b"keyward/v1/fingerprint"),
        }
    }

    /// The MAC key alone, kept to verify entries of an earlier epoch (see [`verify`]).
    pub fn mac_key(&self) -> &Key32 {
        &self.mac
    }

    /// Keys that can only verify: an earlier epoch's MAC key, kept in the vault after a rotation.
    pub fn verifier(mac: Key32) -> Keys {
        Keys { fingerprint: mac.clone(), mac }
    }

    /// A vault's current keys: from the random audit secret kept in its payload (so they
    /// survive `key rotate`'s new data key), or from the data key for vaults made before the
    /// secret existed.
    pub fn of(vault: &Vault) -> Result<Keys> {
        let secret = vault.setting(SECRET_SETTING)?.and_then(|v| data_encoding::HEXLOWER.decode(v.as_bytes()).ok());
        Ok(match secret {
            Some(secret) => Keys::derive(&zeroize::Zeroizing::new(secret)),
            None => Keys::derive(vault.data_key().expose()),
        })
    }
}

/// The payload setting that holds the audit secret (hex).
pub const SECRET_SETTING: &str = "audit_secret";
/// The payload setting that holds the MAC keys of earlier audit epochs (hex, comma-separated).
pub const HISTORY_SETTING: &str = "audit_history";

/// Gives a new vault its audit secret.
pub fn init_secret(vault: &mut Vault) -> Result<()> {
    vault.set_settings(&[(SECRET_SETTING, data_encoding::HEXLOWER.encode(&crate::vault::crypto::random::<32>()))])
}

/// Every epoch's keys of a vault's log, oldest first, the current ones last: earlier epochs' MAC
/// keys are kept so the log verifies across [`rotate_secret`].
pub fn key_chain(vault: &Vault) -> Result<Vec<Keys>> {
    let history = vault.setting(HISTORY_SETTING)?.unwrap_or("");
    let mut chain = Vec::new();
    for hex in history.split(',').filter(|h| !h.is_empty()) {
        let mac = data_encoding::HEXLOWER.decode(hex.as_bytes()).ok().and_then(|b| Key32::from_slice(&b));
        let mac = mac.ok_or_else(|| Error::damaged(&vault.path, "an earlier audit key cannot be decoded"))?;
        chain.push(Keys::verifier(mac));
    }
    chain.push(Keys::of(vault)?);
    Ok(chain)
}

/// A new audit secret for a vault: whoever read the old one (a removed token holder who
/// decrypted the payload) can no longer write authenticated entries. The old epoch's MAC key
/// joins the history, so the log still verifies. Call before replacing the data key (a legacy
/// vault's keys come from it).
pub fn rotate_secret(vault: &mut Vault) -> Result<()> {
    let old_mac = data_encoding::HEXLOWER.encode(Keys::of(vault)?.mac_key().expose());
    let history = match vault.setting(HISTORY_SETTING)? {
        Some(h) if !h.is_empty() => format!("{h},{old_mac}"),
        _ => old_mac,
    };
    let secret = data_encoding::HEXLOWER.encode(&crate::vault::crypto::random::<32>());
    vault.set_settings(&[(SECRET_SETTING, secret), (HISTORY_SETTING, history)])
}

impl Keys {
    /// A short, non-reversible fingerprint of a value: 8 hex digits of an HMAC under a vault key
    /// (never the value, never a plain hash of it that could be looked up).
    pub fn fingerprint(&self, value: &str) -> String {
        hmac_hex(&self.fingerprint, value.as_bytes())[..8].to_owned()
    }

    fn mac(&self, data: &[u8]) -> String {
        hmac_hex(&self.mac, data)
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    pub event: String,
    pub secret: Option<String>,
    pub fingerprint: Option<String>,
    pub details: Value,
}

impl Event {
    pub fn new(event: &str) -> Event {
        Event { event: event.into(), secret: None, fingerprint: None, details: Value::Null }
    }
    pub fn secret(mut self, name: &str) -> Event {
        self.secret = Some(name.into());
        self
    }
    pub fn fingerprint(mut self, fp: String) -> Event {
        self.fingerprint = Some(fp);
        self
    }
    pub fn details(mut self, details: Value) -> Event {
        self.details = details;
        self
    }
}

/// An entry as read back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub time: String,
    pub event: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub fp: Option<String>,
    pub actor: String,
    pub command: String,
    #[serde(default)]
    pub details: Value,
    #[serde(default, skip_serializing)]
    pub prev: Option<String>,
    #[serde(default, skip_serializing)]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unauthenticated: bool,
}

/// The bytes that are MAC'd, in a fixed field order.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    time: &'a str,
    event: &'a str,
    secret: Option<&'a str>,
    fp: Option<&'a str>,
    actor: &'a str,
    command: &'a str,
    details: &'a Value,
    prev: &'a str,
}

#[derive(Serialize)]
struct Unauthenticated<'a> {
    unauthenticated: bool,
    time: &'a str,
    event: &'a str,
    actor: &'a str,
    command: &'a str,
    details: &'a Value,
}

#[derive(Serialize, Deserialize)]
struct Head {
    segment: u32,
    seq: u64,
    last_mac: String,
    mac: String,
}

fn head_mac(keys: &Keys, segment: u32, seq: u64, last_mac: &str) -> String {
    keys.mac(format!("keyward-audit-head|{segment}|{seq}|{last_mac}").as_bytes())
}

/// The directory holding the logs (`$XDG_STATE_HOME/keyward/audit`), refused when it or its
/// parent is not the user's alone.
pub fn dir() -> Result<PathBuf> {
    let state = crate::paths::state_dir()?;
    let dir = state.join("audit");
    crate::paths::check_own(&state)?;
    crate::paths::check_own(&dir)?;
    Ok(dir)
}

/// One vault's log.
pub struct Log {
    dir: PathBuf,
    id: String,
    max_segment: u64,
}

impl Log {
    pub fn new(dir: PathBuf, vault_id_hex: &str, max_segment: u64) -> Log {
        Log { dir, id: vault_id_hex.to_owned(), max_segment: max_segment.max(1024) }
    }

    pub fn for_vault(vault_id_hex: &str) -> Result<Log> {
        Ok(Log::new(dir()?, vault_id_hex, DEFAULT_MAX_SEGMENT))
    }

    fn segment_path(&self, n: u32) -> PathBuf {
        if n <= 1 { self.dir.join(format!("{}.log", self.id)) } else { self.dir.join(format!("{}.{n}.log", self.id)) }
    }

    pub fn head_path(&self) -> PathBuf {
        self.dir.join(format!("{}.head", self.id))
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.id))
    }

    /// The segments that exist, oldest first.
    // Finite: segments are numbered from 1 without gaps, and the first missing one ends it.
    #[allow(clippy::maybe_infinite_iter)]
    pub fn segments(&self) -> Vec<PathBuf> {
        (1..).map(|n| self.segment_path(n)).take_while(|p| p.exists()).collect()
    }

    /// The current segment (where the next entry goes).
    pub fn path(&self) -> PathBuf {
        self.segments().pop().unwrap_or_else(|| self.segment_path(1))
    }

    /// All files of this log, for backups.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = self.segments();
        if self.head_path().exists() {
            files.push(self.head_path());
        }
        files
    }

    /// Appends one event to the chain. `durable` fsyncs it (events of commands that change the
    /// vault); a read's event may stay in the page cache.
    pub fn append(&self, keys: &Keys, event: &Event, time: &str, command: &str, durable: bool) -> Result<()> {
        crate::files::create_private_dir(&self.dir)?;
        let lock = crate::files::open_write_nofollow(&self.lock_path())
            .map_err(|e| Error::io("cannot open", self.lock_path(), e))?;
        lock.lock().map_err(|e| Error::io("cannot lock", self.lock_path(), e))?;

        let mut segment = self.segments().len().max(1) as u32;
        let (seq, prev) = self.last_chained(segment)?;
        let size = std::fs::metadata(self.segment_path(segment)).map_or(0, |m| m.len());
        if size >= self.max_segment {
            segment += 1;
        }
        let actor = crate::host::actor();
        let body = Body {
            seq: seq + 1,
            time,
            event: &event.event,
            secret: event.secret.as_deref(),
            fp: event.fingerprint.as_deref(),
            actor: &actor,
            command,
            details: &event.details,
            prev: &prev,
        };
        let body = serde_json::to_string(&body).expect("an entry serializes");
        let mac = keys.mac(body.as_bytes());
        let line = format!("{},\"mac\":\"{mac}\"}}\n", &body[..body.len() - 1]);
        self.write_line(segment, &line, durable)?;
        let head = Head { segment, seq: seq + 1, mac: head_mac(keys, segment, seq + 1, &mac), last_mac: mac };
        let mut head = serde_json::to_vec(&head).expect("the head serializes");
        // Padded to a fixed length (JSON allows trailing blanks), so it can be overwritten in place.
        head.resize(HEAD_LEN.max(head.len()), b' ');
        if durable {
            crate::files::remove_stale_temps(&self.head_path());
            crate::files::write_atomic(&self.head_path(), &head)
        } else {
            // A read's event: overwrite the small head in place, one write, no rename. The head
            // always has the same length, so a reader sees the old one or the new one.
            write_in_place(&self.head_path(), &head)
        }
    }

    /// Records a failed unlock: no key, so no MAC, marked as such (the one shape [`verify`] accepts
    /// without a MAC).
    pub fn append_unlock_failed(&self, vault: &str, reason: &str, time: &str, command: &str) -> Result<()> {
        crate::files::create_private_dir(&self.dir)?;
        let actor = crate::host::actor();
        let details = serde_json::json!({ "vault": vault, "reason": reason });
        let entry = Unauthenticated {
            unauthenticated: true,
            time,
            event: UNLOCK_FAILED,
            actor: &actor,
            command,
            details: &details,
        };
        let mut line = serde_json::to_string(&entry).expect("an entry serializes");
        line.push('\n');
        let segment = self.segments().len().max(1) as u32;
        self.write_line(segment, &line, true)
    }

    fn write_line(&self, segment: u32, line: &str, durable: bool) -> Result<()> {
        let path = self.segment_path(segment);
        // Never through a link: one planted here would send keyward's appends elsewhere.
        let mut file =
            crate::files::open_append_nofollow(&path).map_err(|e| Error::io("cannot open the audit log", &path, e))?;
        // One write(2) with O_APPEND: concurrent writers never interleave within a line.
        file.write_all(line.as_bytes()).map_err(|e| Error::io("cannot write the audit log", &path, e))?;
        if durable {
            file.sync_data().map_err(|e| Error::io("cannot flush the audit log", &path, e))?;
        }
        Ok(())
    }

    /// The last chained entry's seq and MAC, looking back across segments (genesis when none).
    fn last_chained(&self, segment: u32) -> Result<(u64, String)> {
        for n in (1..=segment).rev() {
            let path = self.segment_path(n);
            if let Some(entry) = last_chained_in(&path)? {
                return Ok((entry.seq.unwrap_or(0), entry.mac.unwrap_or_default()));
            }
        }
        Ok((0, GENESIS.to_owned()))
    }

    /// Every entry, oldest first. Lines that do not parse are skipped here (verify reports them).
    pub fn read(&self) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for path in self.segments() {
            let bytes = crate::files::read_nofollow(&path).map_err(|e| Error::io("cannot read", &path, e))?;
            let text = String::from_utf8_lossy(&bytes);
            entries.extend(text.lines().filter_map(|l| serde_json::from_str::<Entry>(l).ok()));
        }
        Ok(entries)
    }
}

fn write_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let file = crate::files::open_write_nofollow(path).map_err(|e| Error::io("cannot write", path, e))?;
    file.write_all_at(bytes, 0)
        .and_then(|()| file.set_len(bytes.len() as u64))
        .map_err(|e| Error::io("cannot write", path, e))
}

/// The last chained line of one segment file, reading backwards in blocks.
fn last_chained_in(path: &Path) -> Result<Option<Entry>> {
    let mut file = match crate::files::open_read_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read the audit log", path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io("cannot read the audit log", path, e))?.len();
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        let mut buf = Vec::new();
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_to_end(&mut buf))
            .map_err(|e| Error::io("cannot read", path, e))?;
        let text = String::from_utf8_lossy(&buf);
        let mut lines: Vec<&str> = text.lines().collect();
        if start > 0 {
            lines.remove(0); // may be cut
        }
        for line in lines.iter().rev() {
            if let Ok(e) = serde_json::from_str::<Entry>(line)
                && e.mac.is_some()
            {
                return Ok(Some(e));
            }
        }
        if start == 0 {
            return Ok(None);
        }
        window *= 4;
    }
}

/// What verification found when the chain is intact.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub entries: u64,
    pub segments: usize,
    pub unauthenticated: u64,
    /// The head lagged one entry behind: an append was interrupted before the head was replaced.
    pub head_lagging: bool,
}

/// Whether an unauthenticated line has the one shape keyward writes: exactly these fields, the
/// event `unlock.failed`, and details naming the vault and the reason, all of bounded size.
fn is_unlock_failed_line(line: &str) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else { return false };
    let text = |v: Option<&Value>, max: usize| v.and_then(Value::as_str).is_some_and(|s| s.len() <= max);
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    let mut expected = ["actor", "command", "details", "event", "time", "unauthenticated"];
    expected.sort_unstable();
    let details_ok = match map.get("details") {
        Some(Value::Object(d)) => d.len() == 2 && text(d.get("vault"), 4096) && text(d.get("reason"), 4096),
        _ => false,
    };
    keys == expected
        && map.get("unauthenticated") == Some(&Value::Bool(true))
        && map.get("event").and_then(Value::as_str) == Some(UNLOCK_FAILED)
        && text(map.get("time"), 64)
        && map.get("time").and_then(Value::as_str).is_some_and(|t| crate::parse::parse_time(t).is_some())
        && text(map.get("actor"), 512)
        && text(map.get("command"), 64)
        && details_ok
}

/// The bytes an entry's MAC covers: the line without its `mac` field.
fn signed_part(line: &str, mac: &str) -> Option<String> {
    let body = line.strip_suffix(&format!(",\"mac\":\"{mac}\"}}"))?;
    Some(format!("{body}}}"))
}

/// The entries a report may count: those whose MAC verifies under one of `keys` (any epoch), and
/// failed unlocks in their one unauthenticated shape. Anyone who can write the log can add
/// lines; only these were written by a holder of the audit key (or are harmless). The chain's
/// order and completeness are [`verify`]'s to check.
pub fn read_authenticated(log: &Log, keys: &[Keys]) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for path in log.segments() {
        let bytes = crate::files::read_nofollow(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        for line in String::from_utf8_lossy(&bytes).lines() {
            let Ok(entry) = serde_json::from_str::<Entry>(line) else { continue };
            let genuine = if entry.unauthenticated {
                is_unlock_failed_line(line)
            } else {
                entry
                    .mac
                    .as_deref()
                    .and_then(|mac| signed_part(line, mac).map(|signed| (mac, signed)))
                    .is_some_and(|(mac, signed)| keys.iter().any(|k| k.mac(signed.as_bytes()) == mac))
            };
            if genuine {
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

/// Checks the whole chain against the head. `keys` are the epochs' keys, oldest first (the
/// current one last): each entry must verify under the epoch in force or a later one, which then
/// is in force (never an earlier one), and the head likewise. The error names the
/// first broken entry.
pub fn verify(log: &Log, keys: &[Keys]) -> Result<Verified> {
    assert!(!keys.is_empty(), "at least the current keys");
    let broken = |path: &Path, line: usize, reason: &str| Error::AuditBroken {
        place: if line > 0 { format!("{} line {line}", path.display()) } else { path.display().to_string() },
        reason: reason.to_owned(),
    };
    let segments = log.segments();
    let mut expected_seq = 1u64;
    let mut prev = GENESIS.to_owned();
    let mut unauthenticated = 0;
    let mut previous_mac_of_last = GENESIS.to_owned();
    let mut epoch = 0usize;
    for path in &segments {
        let text = crate::files::read_nofollow(path).map_err(|e| Error::io("cannot read", path, e))?;
        let text = String::from_utf8(text).map_err(|_| broken(path, 0, "the file is not UTF-8 text"))?;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let entry: Entry =
                serde_json::from_str(line).map_err(|_| broken(path, n, "the line is not an audit entry"))?;
            if entry.unauthenticated {
                if entry.mac.is_some() || entry.seq.is_some() {
                    return Err(broken(path, n, "an unauthenticated entry carries chain fields"));
                }
                if !is_unlock_failed_line(line) {
                    return Err(broken(
                        path,
                        n,
                        "an entry without a MAC that is not a failed unlock (only those are written unauthenticated)",
                    ));
                }
                unauthenticated += 1;
                continue;
            }
            let (Some(seq), Some(mac), Some(entry_prev)) = (entry.seq, entry.mac.as_deref(), entry.prev.as_deref())
            else {
                return Err(broken(path, n, "the entry has no seq, prev or mac"));
            };
            let Some(signed) = signed_part(line, mac) else {
                return Err(broken(path, n, "the entry's MAC is not where it belongs"));
            };
            match (epoch..keys.len()).find(|&e| keys[e].mac(signed.as_bytes()) == mac) {
                Some(e) => epoch = e,
                None => return Err(broken(path, n, "the entry's MAC does not match (edited or forged)")),
            }
            if seq != expected_seq {
                return Err(broken(
                    path,
                    n,
                    &format!("entry {seq} where {expected_seq} was expected (deleted or reordered)"),
                ));
            }
            if entry_prev != prev {
                return Err(broken(path, n, "the entry does not chain to the one before (deleted or reordered)"));
            }
            previous_mac_of_last = prev;
            prev = mac.to_owned();
            expected_seq += 1;
        }
    }
    let last_seq = expected_seq - 1;
    let head_path = log.head_path();
    let head: Option<Head> = match crate::files::read_nofollow(&head_path) {
        Ok(bytes) => {
            Some(serde_json::from_slice(&bytes).map_err(|_| broken(&head_path, 0, "the head file is not valid"))?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("cannot read", &head_path, e)),
    };
    let mut head_lagging = false;
    match head {
        None if last_seq == 0 => {}
        None => return Err(broken(&head_path, 0, "the head file is missing")),
        Some(h) => {
            // The head is written with the entry it records, so under that entry's epoch, or a
            // later one (a rotation made elsewhere, on a shared vault, before the next append here).
            if !keys[epoch..].iter().any(|k| head_mac(k, h.segment, h.seq, &h.last_mac) == h.mac) {
                return Err(broken(&head_path, 0, "the head file's MAC does not match"));
            }
            if h.seq > last_seq {
                return Err(broken(
                    &head_path,
                    0,
                    &format!("the log ends at entry {last_seq} but the head says {} (truncated)", h.seq),
                ));
            }
            if h.seq == last_seq && h.last_mac != prev {
                return Err(broken(&head_path, 0, "the last entry is not the one the head recorded"));
            }
            if h.seq + 1 == last_seq && h.last_mac == previous_mac_of_last {
                head_lagging = true;
            } else if h.seq < last_seq {
                return Err(broken(
                    &head_path,
                    0,
                    &format!("entries after {} are not recorded in the head (appended)", h.seq),
                ));
            }
        }
    }
    Ok(Verified { entries: last_seq, segments: segments.len(), unauthenticated, head_lagging })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Log, Keys) {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::new(dir.path().join("audit"), "abcd", 4096);
        (dir, log, Keys::derive(b"secret"))
    }

    fn add(log: &Log, keys: &Keys, n: usize) {
        for i in 0..n {
            let e = Event::new("get").secret(&format!("s{i}")).fingerprint(keys.fingerprint("v"));
            log.append(keys, &e, "2026-01-01T00:00:00Z", "get", false).unwrap();
        }
    }

    fn lines(log: &Log) -> Vec<String> {
        std::fs::read_to_string(log.path()).unwrap().lines().map(str::to_owned).collect()
    }

    fn write(log: &Log, lines: &[String]) {
        std::fs::write(log.path(), lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }

    #[test]
    fn an_intact_chain_verifies_across_segments() {
        let (_d, log, keys) = setup();
        add(&log, &keys, 60);
        assert!(log.segments().len() > 1, "small segments rolled over");
        log.append_unlock_failed("/v.kw", "no way in", "2026-01-01T00:00:00Z", "get").unwrap();
        let v = verify(&log, std::slice::from_ref(&keys)).unwrap();
        assert_eq!((v.entries, v.unauthenticated, v.head_lagging), (60, 1, false));
        assert!(verify(&log, &[Keys::derive(b"other")]).is_err(), "another key does not verify");
    }

    #[test]
    fn every_kind_of_tampering_is_detected() {
        let (_d, log, keys) = setup();
        add(&log, &keys, 5);
        let original = lines(&log);
        let check = |mutated: Vec<String>, what: &str| {
            write(&log, &mutated);
            assert!(
                matches!(verify(&log, std::slice::from_ref(&keys)), Err(Error::AuditBroken { .. })),
                "{what} not detected"
            );
            write(&log, &original);
        };
        let mut edited = original.clone();
        edited[2] = edited[2].replace("\"s2\"", "\"sX\"");
        check(edited, "an edited entry");
        let mut deleted = original.clone();
        deleted.remove(2);
        check(deleted, "a deleted entry");
        let mut reordered = original.clone();
        reordered.swap(1, 2);
        check(reordered, "a reordered pair");
        check(original[..4].to_vec(), "a truncated tail");
        let mut forged = original.clone();
        let last = forged[4].clone();
        forged.push(last.replace("\"seq\":5", "\"seq\":6"));
        check(forged, "an appended forged entry");
        assert!(verify(&log, std::slice::from_ref(&keys)).is_ok());
    }

    #[test]
    fn the_chain_continues_across_epochs_and_never_goes_back() {
        let (_d, log, old) = setup();
        add(&log, &old, 3);
        let new = Keys::derive(b"the next secret");
        add(&log, &new, 2);
        let chain = [Keys::verifier(old.mac_key().clone()), Keys::derive(b"the next secret")];
        assert_eq!(verify(&log, &chain).unwrap().entries, 5);
        // Only the current epoch's key: the old entries do not verify.
        assert!(verify(&log, &chain[1..]).is_err());
        // Whoever kept the old key cannot append after the rotation: back to an old epoch is refused.
        let before = lines(&log);
        add(&log, &old, 1);
        let e = verify(&log, &chain).unwrap_err().to_string();
        assert!(e.contains("line 6") || e.contains("head"), "{e}");
        write(&log, &before);
    }

    #[test]
    fn only_failed_unlocks_may_stand_without_a_mac() {
        let (_d, log, keys) = setup();
        add(&log, &keys, 2);
        log.append_unlock_failed("/v.kw", "no way in", "2026-01-01T00:00:00Z", "get").unwrap();
        let original = lines(&log);
        assert_eq!(verify(&log, std::slice::from_ref(&keys)).unwrap().unauthenticated, 1);
        let forged_lines = [
            r#"{"unauthenticated":true,"time":"2026-01-01T00:00:00Z","event":"validate","actor":"a@b","command":"validate","details":{"online":{"x":"invalid"}}}"#,
            r#"{"unauthenticated":true,"time":"2026-01-01T00:00:00Z","event":"unlock.failed","actor":"a@b","command":"get","details":{"vault":"v","reason":"r"},"secret":"x"}"#,
            r#"{"unauthenticated":true,"time":"2026-01-01T00:00:00Z","event":"unlock.failed","actor":"a@b","command":"get","details":{"vault":"v","reason":"r","more":1}}"#,
            r#"{"unauthenticated":true,"time":"yesterday","event":"unlock.failed","actor":"a@b","command":"get","details":{"vault":"v","reason":"r"}}"#,
        ];
        for forged in forged_lines {
            let mut mutated = original.clone();
            mutated.insert(1, forged.to_owned());
            write(&log, &mutated);
            assert!(matches!(verify(&log, std::slice::from_ref(&keys)), Err(Error::AuditBroken { .. })), "{forged}");
        }
    }

    fn sample_vault() -> Vault {
        let mut vault = Vault::create(Path::new("/tmp/x.kw"), 1);
        init_secret(&mut vault).unwrap();
        vault
    }

    #[test]
    fn a_rotated_audit_secret_keeps_the_old_mac_keys_in_order() {
        let mut vault = sample_vault();
        let first = Keys::of(&vault).unwrap();
        rotate_secret(&mut vault).unwrap();
        let second = Keys::of(&vault).unwrap();
        rotate_secret(&mut vault).unwrap();
        let chain = key_chain(&vault).unwrap();
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[0].mac_key().expose(), first.mac_key().expose());
        assert_eq!(chain[1].mac_key().expose(), second.mac_key().expose());
        assert_eq!(chain[2].mac_key().expose(), Keys::of(&vault).unwrap().mac_key().expose());
        assert_ne!(chain[2].mac_key().expose(), second.mac_key().expose());
        assert_eq!(vault.records().unwrap().settings.iter().filter(|(k, _)| k == SECRET_SETTING).count(), 1);
    }

    #[test]
    fn audit_keys_come_from_the_audit_secret_and_survive_a_rekey() {
        let mut vault = sample_vault();
        let before = Keys::of(&vault).unwrap().fingerprint("v");
        vault.rekey();
        assert_eq!(Keys::of(&vault).unwrap().fingerprint("v"), before);
        assert_ne!(before, Keys::derive(vault.data_key().expose()).fingerprint("v"));

        // A vault from before the audit secret existed: keys from the data key.
        let mut records = vault.records().unwrap();
        records.settings.clear();
        vault.set_records(&records);
        let from_data_key = Keys::derive(vault.data_key().expose()).fingerprint("v");
        assert_eq!(Keys::of(&vault).unwrap().fingerprint("v"), from_data_key);
    }

    #[test]
    fn a_head_one_behind_is_an_interrupted_append() {
        let (_d, log, keys) = setup();
        add(&log, &keys, 3);
        let head = std::fs::read(log.head_path()).unwrap();
        add(&log, &keys, 1);
        std::fs::write(log.head_path(), head).unwrap();
        assert!(verify(&log, std::slice::from_ref(&keys)).unwrap().head_lagging);
        add(&log, &keys, 1); // the next append repairs it
        assert!(!verify(&log, std::slice::from_ref(&keys)).unwrap().head_lagging);
    }
}
