//! `keyward lock`: remove this machine's keyring entry. The vault then opens only through another
//! slot (`keyward unlock` restores the entry).

use serde_json::json;

use super::key::keep_a_way_in;
use crate::context::Context;
use crate::error::Result;
use crate::unlock::keyring::{self, Backend};
use crate::vault::format::SlotKind;

pub fn lock(ctx: &Context) -> Result<i32> {
    let locked = ctx.read_locked()?;
    if !locked.header.slots.iter().any(|s| s.kind != SlotKind::Keyring) {
        // Same rule as removing a slot: never strand the vault.
        let probe = crate::vault::Vault::create(&locked.path, 0);
        keep_a_way_in(&probe, "locking")?;
    }
    let id = locked.header.vault_id_hex();
    let mut backends: Vec<Backend> = locked
        .header
        .slots
        .iter()
        .filter(|s| s.kind == SlotKind::Keyring)
        .filter_map(|s| Backend::of_label(&s.label))
        .collect();
    backends.dedup();
    let mut removed = Vec::new();
    for backend in backends {
        match keyring::delete(backend, &id) {
            Ok(true) => removed.push(backend.name()),
            Ok(false) => {}
            Err(e) => ctx.out.warn(&e.to_string()),
        }
    }
    if ctx.out.json {
        ctx.out.json(&json!({"locked": true, "removed_from": removed}));
    } else if removed.is_empty() {
        ctx.out.done("no keyring entry for this vault on this machine; it was already locked");
    } else {
        ctx.out.done(&format!(
            "locked: removed the vault key from the {} keyring; `keyward unlock` restores it",
            removed.join(" and ")
        ));
    }
    Ok(0)
}
