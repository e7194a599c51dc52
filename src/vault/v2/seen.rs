//! What this machine remembers of each format 2 vault it opened: for each domain, the highest
//! generation seen and that generation's key id (`$XDG_STATE_HOME/keyward/seen/`, one small JSON
//! file per vault path and vault id, no secrets).
//!
//! A domain whose generation is lower than remembered was rolled back (refused). A domain at a
//! higher generation must carry vouches that chain back to the remembered key; one that does not
//! was replaced by someone who did not hold the old key, and is reported. A reader with nothing
//! remembered (a fresh CI runner) can tell neither: see the threat model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Warnings found while opening domains, for the command-line layer to print (a domain is
/// opened on demand, deep inside whatever command needed it).
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The warnings found so far, taken.
pub fn take_warnings() -> Vec<String> {
    std::mem::take(&mut *WARNINGS.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

pub(super) fn warn(message: String) {
    let mut warnings = WARNINGS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !warnings.contains(&message) {
        warnings.push(message);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub generation: u64,
    #[serde(with = "hex16")]
    pub key_id: [u8; 16],
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// The vault file, for a person reading the state directory.
    #[serde(default)]
    pub vault: String,
    #[serde(default)]
    pub domains: BTreeMap<String, Entry>,
    /// Who could open the vault when this machine last looked (see [`super::members`]).
    #[serde(default)]
    pub members: Option<super::members::Roster>,
    /// The membership changes this machine noticed, oldest first (at most 100).
    #[serde(default)]
    pub history: Vec<Noticed>,
    /// Vault-wide file only: every key this machine has seen leave the vault on some branch
    /// (recipient → slot), which only grows: a branch new to this machine that has one of them
    /// as a member is news, whatever other branches were opened in between.
    #[serde(default)]
    pub removed: BTreeMap<String, String>,
}

/// One membership change this machine noticed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Noticed {
    pub time: i64,
    #[serde(flatten)]
    pub change: super::members::Change,
    /// Whether it was accepted by `member accept` (strict mode), rather than just noticed.
    #[serde(default)]
    pub accepted: bool,
}

mod hex16 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(id: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_encoding::HEXLOWER.encode(id))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = data_encoding::HEXLOWER.decode(text.as_bytes()).map_err(serde::de::Error::custom)?;
        bytes.try_into().map_err(|_| serde::de::Error::custom("a key id is 16 bytes"))
    }
}

/// The state file of the vault at `vault` with id `id`, when there is a state directory.
///
/// A vault in a git work tree is remembered per branch (see [`memory`]); `None` while a commit
/// rather than a branch is checked out (nothing is remembered then).
pub fn file(vault: &Path, id: &[u8; 16]) -> Option<PathBuf> {
    memory(vault, id).branch
}

/// The files this machine keeps about a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    /// What this branch (or, outside git, this vault) has shown: a rollback below it is refused,
    /// a replacement reported. `None` on a detached HEAD.
    pub branch: Option<PathBuf>,
    /// In a git work tree, the most this machine has seen of the vault on any branch: a branch
    /// opened for the first time (a pull request checked out) that is behind it is reported, and
    /// its members are compared with it.
    pub floor: Option<PathBuf>,
}

/// The files for the vault `id` at `vault`. Outside git, one file per vault path and id. In a
/// git work tree, one per branch as well, so switching to a branch that has not seen another
/// branch's re-key (a member removed there) is neither a rollback nor member news; the
/// vault-wide file is the floor a branch new to this machine is judged against.
pub fn memory(vault: &Path, id: &[u8; 16]) -> Memory {
    use crate::paths::{GitHead, vault_state_file_on};
    match crate::paths::git_branch(vault) {
        None => Memory { branch: vault_state_file_on("seen", vault, id, None), floor: None },
        Some(GitHead::Branch(branch)) => Memory {
            branch: vault_state_file_on("seen-branch", vault, id, Some(&branch)),
            floor: vault_state_file_on("seen", vault, id, None),
        },
        Some(GitHead::Detached) => Memory { branch: None, floor: vault_state_file_on("seen", vault, id, None) },
    }
}

/// The remembered state (empty when there is none, or it cannot be read: memory is a help, not
/// a requirement).
pub fn load(file: &Path) -> State {
    let Ok(bytes) = crate::files::read_nofollow(file) else { return State::default() };
    if bytes.len() > 1 << 20 {
        return State::default();
    }
    serde_json::from_slice(&bytes).unwrap_or_default()
}

/// Writes the state, atomically, in a private directory; a failure is ignored (the next command
/// remembers instead).
pub fn save(file: &Path, state: &State) {
    let Some(dir) = file.parent() else { return };
    if crate::files::create_private_dir(dir).is_err() || crate::paths::check_own(dir).is_err() {
        return;
    }
    if let Ok(bytes) = serde_json::to_vec_pretty(state) {
        let _ = crate::files::write_atomic(file, &bytes);
    }
}

/// What the remembered entry says of a domain found at `found`.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing remembered, or the same key: fine, remember it.
    Known,
    /// A lower generation than remembered.
    RolledBack { remembered: u64 },
    /// The same generation with another key, or a higher one whose vouches do not reach the
    /// remembered key.
    Replaced,
    /// A higher generation: the caller checks the vouches against this.
    Later(Entry),
}

pub fn judge(remembered: Option<&Entry>, found: Entry) -> Verdict {
    match remembered {
        None => Verdict::Known,
        Some(r) if found.generation < r.generation => Verdict::RolledBack { remembered: r.generation },
        Some(r) if found.generation == r.generation && found.key_id == r.key_id => Verdict::Known,
        Some(r) if found.generation == r.generation => Verdict::Replaced,
        Some(r) => Verdict::Later(*r),
    }
}
