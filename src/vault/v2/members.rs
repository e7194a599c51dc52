//! Who can open a format 2 vault, as its clear slot lines and `to` lines say: the roster this
//! machine compares with what it saw before (a membership change gets one notice), and the pin a
//! CI job compares with what it expects (`KEYWARD_MEMBERS_PIN`).
//!
//! Anyone who can write the file can add a recipient: the grants stop a slot that does not hold
//! `@all` from doing so, but a pull request from someone who does hold it — or one whose change
//! a reviewer did not read — is exactly what these two checks surface.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::text::{self, Document, Slot, SlotName};
use super::vault::access_of;
use crate::vault::slots::Access;

/// One slot as the roster keeps it: its public key and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub recipient: String,
    /// `["*"]` for every environment, present and future; else the environments it holds.
    pub access: Vec<String>,
}

/// Every slot, by name (`member:alice`, `token:ci`, …).
pub type Roster = BTreeMap<String, Member>;

fn access_list(access: &Access) -> Vec<String> {
    match access {
        Access::All => vec!["*".to_owned()],
        Access::Domains(d) => d.iter().cloned().collect(),
    }
}

/// The roster of a parsed vault.
#[must_use]
pub fn roster(doc: &Document) -> Roster {
    let access = access_of(doc);
    roster_of(&doc.slots, &access)
}

/// The roster of slots and their access (an opened vault after a write).
#[must_use]
pub fn roster_of(slots: &[Slot], access: &BTreeMap<SlotName, Access>) -> Roster {
    slots
        .iter()
        .map(|s| {
            let a = access.get(&s.name).map_or_else(Vec::new, access_list);
            (s.name.to_string(), Member { recipient: s.recipient.clone(), access: a })
        })
        .collect()
}

/// What changed between two rosters, in words: additions (a new slot, a new key for a slot, or
/// more environments) and removals.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Change {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

fn describe(name: &str, m: &Member) -> String {
    let holds = if m.access == ["*"] { "every environment".to_owned() } else { m.access.join(", ") + " and @default" };
    let slot = SlotName::parse(name).map_or_else(|_| name.to_owned(), |n| n.describe());
    format!("{slot} (key {}, {holds})", fingerprint(&m.recipient))
}

/// The first 8 bytes of the SHA-256 of a recipient, in hex: what `member list` shows.
#[must_use]
pub fn fingerprint(recipient: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(recipient.as_bytes())[..8])
}

#[must_use]
pub fn compare(before: &Roster, now: &Roster) -> Change {
    let mut change = Change::default();
    for (name, m) in now {
        match before.get(name) {
            None => change.added.push(describe(name, m)),
            Some(old) if old.recipient != m.recipient => {
                change.added.push(format!("a new key for {}", describe(name, m)));
            }
            Some(old) => {
                let wider = m.access == ["*"] && old.access != ["*"]
                    || m.access.iter().any(|e| e != "*" && !old.access.contains(e) && old.access != ["*"]);
                if wider {
                    change.added.push(format!("more environments for {}", describe(name, m)));
                } else if m.access != old.access {
                    change.removed.push(format!("environments from {}", describe(name, m)));
                }
            }
        }
    }
    for (name, m) in before {
        if !now.contains_key(name) {
            change.removed.push(describe(name, m));
        }
    }
    change
}

/// A digest of who holds what and of every domain's key: `kwpin1-` and 64 hex digits. Any added,
/// removed or re-pointed recipient, any change of access, and any re-key changes it.
#[must_use]
pub fn pin(doc: &Document) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update(u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        h.update(b);
    };
    field(b"keyward/v2/members-pin");
    field(&doc.id);
    for (name, m) in roster(doc) {
        field(name.as_bytes());
        field(m.recipient.as_bytes());
        field(m.access.join(",").as_bytes());
    }
    // Every domain's key, and who it is wrapped to: a wrap re-pointed to another key (which the
    // roster, by slot names, would not show) changes the pin. Unchanged wraps are written back
    // byte for byte, so ordinary writes keep the pin.
    for d in &doc.domains {
        field(d.head.name.as_bytes());
        field(&d.head.generation.to_le_bytes());
        field(&d.head.key_id);
        for w in &d.head.to {
            field(w.slot.to_string().as_bytes());
            field(&Sha256::digest(&w.age));
        }
        for v in &d.head.vouches {
            field(&v.generation.to_le_bytes());
            field(&v.previous);
            field(&v.mac);
        }
    }
    format!("kwpin1-{}", data_encoding::HEXLOWER.encode(&h.finalize()))
}

/// Whether a domain name is one of the environments (for messages).
#[must_use]
pub fn is_environment(domain: &str) -> bool {
    text::environment(domain).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(recipient: &str, access: &[&str]) -> Member {
        Member { recipient: recipient.into(), access: access.iter().map(|s| (*s).to_owned()).collect() }
    }

    #[test]
    fn changes_are_named_and_widening_counts_as_an_addition() {
        let before: Roster = [
            ("member:alice".to_owned(), member("age1a", &["*"])),
            ("member:bob".to_owned(), member("age1b", &["dev"])),
        ]
        .into();
        let mut now = before.clone();
        assert!(compare(&before, &now).is_empty());
        now.insert("member:eve".into(), member("age1e", &["prod"]));
        now.get_mut("member:bob").unwrap().access.push("prod".into());
        now.remove("member:alice");
        let c = compare(&before, &now);
        assert_eq!(c.added.len(), 2, "{c:?}");
        assert!(c.added.iter().any(|a| a.starts_with("member eve")), "{c:?}");
        assert!(c.added.iter().any(|a| a.starts_with("more environments for member bob")), "{c:?}");
        assert_eq!(c.removed.len(), 1);
        // A new key under an old name is an addition, not a quiet swap.
        let mut swapped = before.clone();
        swapped.get_mut("member:alice").unwrap().recipient = "age1x".into();
        assert!(compare(&before, &swapped).added[0].starts_with("a new key for member alice"));
    }
}
