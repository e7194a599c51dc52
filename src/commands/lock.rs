//! `keyward lock`: remove this machine's keyring entry. The vault then opens only through another
//! slot (`keyward unlock` restores the entry).

use serde_json::json;

use super::key::keep_a_way_in;
use crate::Outcome;
use crate::context::Context;
use crate::error::Result;
use crate::unlock::Credential;
use crate::unlock::keyring::{self, Backend};
use crate::vault::format::SlotKind;

pub(super) fn lock(ctx: &Context) -> Result<Outcome> {
    let locked = ctx.read_locked()?;
    let slots = locked.slots();
    if !slots.iter().any(|s| s.kind != SlotKind::Keyring) {
        // Same rule as removing a slot: never strand the vault.
        let probe = crate::vault::Vault::create(&locked.path, 0);
        keep_a_way_in(&probe, "locking")?;
    }
    let id = locked.id_hex();
    let entry = locked.keyring_name();
    let mut removed = Vec::new();
    for backend in Backend::of_slots(&slots, false) {
        // The entry is named by the vault id in the header, which anyone can write: delete it
        // only once it has opened a slot of this file (another vault's entry is left alone).
        let secret = match keyring::get(backend, &entry) {
            Ok(Some(secret)) => secret,
            Ok(None) => continue,
            Err(e) => {
                ctx.out.warn(&e.to_string());
                continue;
            }
        };
        let mut credential = Credential::new(crate::unlock::keyring::KeyringIdentity { backend, secret });
        if credential.open(&locked).is_none() {
            ctx.out.warn(&format!(
                "the {} entry for vault id {id} does not open {}; it was left in place",
                backend.name(),
                locked.path.display()
            ));
            continue;
        }
        match keyring::delete(backend, &entry) {
            Ok(true) => removed.push(backend.name()),
            Ok(false) => {}
            Err(e) => ctx.out.warn(&e.to_string()),
        }
    }
    ctx.out.report(&json!({"locked": true, "removed_from": removed}), || {
        if removed.is_empty() {
            "no keyring entry for this vault on this machine; it was already locked".to_owned()
        } else {
            format!(
                "locked: removed the vault key from the {} keyring; `keyward unlock` restores it",
                removed.join(" and ")
            )
        }
    });
    Ok(Outcome::Success)
}
