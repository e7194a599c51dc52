//! `keyward key token add|list|rm`: revocable tokens for CI systems and teammates.

use serde_json::json;

use crate::Outcome;
use std::collections::BTreeSet;

use crate::cli::{LabelArg, TokenAddArgs, TokenRmArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::metadata_flags as metadata;
use crate::parse;
use crate::sensitive::Key32;
use crate::unlock::RandomSecret;
use crate::unlock::codes::{self, CodeKind};
use crate::vault::format::SlotKind;
use crate::vault::slots::Access;

/// What removing a slot does not do in format 1: said after every removal there, so nobody
/// takes it for a revocation of what the secret already opened.
pub(super) const UNCHANGED_DATA_KEY: &str = "the data key is unchanged: with any earlier copy of this vault (git history, a backup) the removed secret still yields it, and it opens this file and every later version; run `keyward key upgrade` (format 2 re-keys on every removal), or `keyward key rotate` if the secret may have leaked";

/// What a removal did to the keys: in format 2 the domains it re-keyed, in format 1 nothing.
pub(crate) fn removal_note(ctx: &Context, rekeyed: &[String]) {
    if rekeyed.is_empty() {
        ctx.out.notice(UNCHANGED_DATA_KEY);
    } else {
        ctx.out.notice(&format!(
            "re-keyed {}: the removed secret opens nothing written from now on, even with an older copy of the file (what it could read before, it may have kept)",
            rekeyed.join(", ")
        ));
    }
}

fn label(args: &LabelArg) -> Result<String> {
    parse::label(&args.label).map_err(|reason| Error::invalid("token label", &args.label, reason))
}

pub(super) fn add(args: TokenAddArgs, ctx: &Context) -> Result<Outcome> {
    let label = parse::label(&args.label).map_err(|reason| Error::invalid("token label", &args.label, reason))?;
    let envs = args.env.iter().map(|e| metadata::env(e)).collect::<Result<BTreeSet<String>>>()?;
    let access = if envs.is_empty() { Access::All } else { Access::Domains(envs.clone()) };
    let secret = Key32::random();
    ctx.modify(|vault, _| {
        if vault.slots().iter().any(|s| s.kind == SlotKind::Token && s.label == label) {
            return Err(Error::TokenExists { label: label.clone() });
        }
        if vault.slots().len() >= crate::vault::format::MAX_SLOTS {
            return Err(Error::Refused(
                "the vault has the maximum number of key slots".into(),
                "remove unused tokens first",
            ));
        }
        let recipient = RandomSecret { kind: SlotKind::Token, label: label.clone(), secret: &secret };
        vault.add_slot_with(&recipient, ctx.now, access.clone())
    })?;
    let envs: Vec<&String> = envs.iter().collect();
    ctx.audit(crate::audit::Event::new("key.token.add").details(json!({"label": label, "env": envs})), true)?;
    let token = codes::encode(CodeKind::Token, &secret);
    // The token is printed once, even with --quiet: it is what the command is for.
    if ctx.out.json {
        ctx.out.json(&json!({"label": label, "env": envs, "token": &*token}));
    } else {
        let mut line = zeroize::Zeroizing::new(String::with_capacity(token.len() + 1));
        line.push_str(&token);
        line.push('\n');
        ctx.out.write(line.as_bytes());
        ctx.out.notice(&format!(
            "token {label} made; store it as KEYWARD_VAULT_KEY in the CI secret store. It is not shown again."
        ));
    }
    Ok(Outcome::Success)
}

/// Token labels are in the clear header: listing them needs no unlock.
pub(super) fn list(ctx: &Context) -> Result<Outcome> {
    let locked = ctx.read_locked()?;
    let slots = locked.slots();
    let tokens: Vec<_> = slots.iter().filter(|s| s.kind == SlotKind::Token).collect();
    let json = || {
        tokens
            .iter()
            .map(|s| json!({"label": s.label, "created": parse::time(s.created), "access": super::access_json(&s.access)}))
            .collect::<Vec<_>>()
    };
    let header = ["LABEL", "CREATED", "ACCESS"];
    ctx.out.listing(json, &header, "no tokens; make one with `keyward key token add LABEL`", |table| {
        for s in &tokens {
            table.add_row(vec![s.label.clone(), parse::time(s.created), super::access_text(&s.access)]);
        }
    });
    Ok(Outcome::Success)
}

pub(super) fn rm(args: TokenRmArgs, ctx: &Context) -> Result<Outcome> {
    let label = label(&args.label)?;
    remove_slot(ctx, args.yes, SlotKind::Token, &label, "key.token.rm", || Error::TokenNotFound {
        label: label.clone(),
    })
}

/// Removes slot `kind:label` after asking (or with `yes`): what it held is re-keyed and marked
/// exposed, and the vault must keep a way in. `missing` is the error when there is no such slot.
pub(super) fn remove_slot(
    ctx: &Context,
    yes: bool,
    kind: SlotKind,
    label: &str,
    event: &str,
    missing: impl FnOnce() -> Error,
) -> Result<Outcome> {
    let slot = crate::vault::v2::text::SlotName::new(kind, label).describe();
    if !crate::input::confirm_or_refuse(
        yes,
        "removing a key slot",
        &format!("Remove {slot}? Every job that uses it stops working"),
        "add --yes to remove it without asking; nothing was removed",
    )? {
        ctx.out.notice("nothing removed");
        return Ok(Outcome::Declined);
    }
    let rekeyed = ctx.modify(|vault, _| {
        let removed = vault.remove_slots(|s| s.kind == kind && s.label == label)?;
        if removed.is_empty() {
            return Err(missing());
        }
        super::keep_a_way_in(vault, &format!("removing {slot}"))?;
        let rekeyed = vault.rekeyed_domains();
        // Whoever held the slot could read those values: they are due for rotation now.
        crate::commands::member::mark_exposed(vault, &rekeyed, &slot, ctx.now)?;
        Ok(rekeyed)
    })?;
    ctx.audit(crate::audit::Event::new(event).details(json!({"label": label, "rekeyed": rekeyed})), true)?;
    ctx.out.report(&json!({"removed": slot, "rekeyed": rekeyed}), || {
        format!("removed {slot}: it no longer opens this file as it is now")
    });
    removal_note(ctx, &rekeyed);
    Ok(Outcome::Success)
}
