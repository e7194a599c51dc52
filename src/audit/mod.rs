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

mod keys;
pub mod report;
mod verify;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

pub use self::keys::{HISTORY_SETTING, Keys, SECRET_SETTING, init_secret, key_chain, rotate_secret};
pub use self::verify::{Verified, read_authenticated, verify};
pub use crate::config::DEFAULT_MAX_SEGMENT;
/// The head file's length: its JSON padded with blanks.
const HEAD_LEN: usize = 256;
/// The one event recorded without a MAC.
pub const UNLOCK_FAILED: &str = "unlock.failed";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// The name of the log of the vault with id `id_hex` at `vault`: the id, and for a vault in a
/// git work tree, the branch checked out. One log per branch: each branch's vault has its own
/// audit key history (a member removed on a branch rotates it there), and a log that went to a
/// branch's newer key and came back to the older one cannot be told from one forged by whoever
/// kept the old key.
pub fn log_name(id_hex: &str, vault: &Path) -> String {
    use sha2::{Digest, Sha256};
    match crate::paths::git_branch(vault) {
        Some(crate::paths::GitHead::Branch(branch)) => {
            let digest = Sha256::digest(branch.as_bytes());
            format!("{id_hex}-{}", data_encoding::HEXLOWER.encode(&digest[..16]))
        }
        // A detached HEAD (a rebase, a bisect) and a vault outside git: the vault's own log.
        _ => id_hex.to_owned(),
    }
}

/// Every log file of the vault `id_hex` in `dir`, on every branch (segments and heads; not the
/// lock files): what a backup carries.
pub fn vault_files(dir: &Path, id_hex: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(id_hex) && (name.ends_with(".log") || name.ends_with(".head"))
        })
        .collect();
    files.sort();
    files
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::Vault;

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
        let mut vault = Vault::create_v1(Path::new("/tmp/x.kw"), 1);
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
        vault.rekey().unwrap();
        assert_eq!(Keys::of(&vault).unwrap().fingerprint("v"), before);
        assert_ne!(before, Keys::derive(vault.data_key().unwrap().expose()).fingerprint("v"));

        // A vault from before the audit secret existed: keys from the data key.
        let mut records = vault.records().unwrap();
        records.settings.clear();
        vault.set_records(records);
        let from_data_key = Keys::derive(vault.data_key().unwrap().expose()).fingerprint("v");
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
