//! The last online check of each secret of a committed vault, kept on this machine
//! (`$XDG_STATE_HOME/keyward/checks/`, one small JSON file per vault path and id): `validate
//! --online` in CI must not rewrite the file everyone shares, and a verdict is a fact about this
//! check, not part of the secret. No values: a verdict, a time and the provider's one-line detail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: String,
    pub at: i64,
    pub detail: String,
}

/// Verdicts by secret name.
pub type Verdicts = BTreeMap<String, Verdict>;

/// The file of the vault at `vault` with id `id`.
pub fn file(vault: &Path, id: &[u8; 16]) -> Option<PathBuf> {
    crate::paths::vault_state_file("checks", vault, id)
}

/// What is remembered (nothing when the file is missing or unreadable: a help, not a need).
pub fn load(file: &Path) -> Verdicts {
    match crate::files::read_nofollow(file) {
        Ok(bytes) if bytes.len() <= 4 << 20 => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => Verdicts::new(),
    }
}

/// Writes them atomically in a private directory.
pub fn save(file: &Path, verdicts: &Verdicts) -> crate::error::Result<()> {
    let dir = crate::files::parent_dir(file);
    crate::files::create_private_dir(dir)?;
    crate::paths::check_own(dir)?;
    let bytes = serde_json::to_vec_pretty(verdicts).expect("verdicts serialize");
    crate::files::write_atomic(file, &bytes)
}
