//! Reading the log back: verifying the whole chain against its head ([`verify`]), and the
//! entries a report may count ([`read_authenticated`]).

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{Entry, GENESIS, Head, Keys, Log, UNLOCK_FAILED, head_mac};
use crate::error::{Error, Result};

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
