//! Reading (and writing) the files of the tools people come from: dotenvx's encrypted `.env`
//! files, 1Password's CSV and `.1pux` exports, and password stores (`pass`), whose entries the
//! user's own `gpg` decrypts and encrypts.
//!
//! Every reader returns [`Item`]s and never stores anything; the import command validates names,
//! detects providers and writes them all or nothing.

pub mod csv;
pub mod dotenvx;
pub mod onepassword;
pub mod pass;

use zeroize::Zeroizing;

/// One secret read from another tool's file, before keyward has judged it.
pub struct Item {
    /// Where it was found, for the report: a line number or an item's position.
    pub line: usize,
    /// The other tool's name for it (a variable, or an item's title).
    pub label: String,
    pub value: Zeroizing<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    /// Unix seconds, where the tool recorded an expiry.
    pub expires: Option<i64>,
}

impl std::fmt::Debug for Item {
    /// Everything but the value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item").field("line", &self.line).field("label", &self.label).finish_non_exhaustive()
    }
}
