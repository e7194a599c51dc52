//! `keyward key token add|list|rm`: revocable tokens for CI systems and teammates.

use serde_json::json;

use crate::Outcome;
use crate::cli::LabelArg;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::parse;
use crate::sensitive::Key32;
use crate::unlock::RandomSecret;
use crate::unlock::codes::{self, CodeKind};
use crate::vault::format::SlotKind;

/// What removing a slot does not do (until slots are recipients that a removal re-keys): said
/// after every removal, so nobody takes it for a revocation of what the secret already opened.
pub(super) const UNCHANGED_DATA_KEY: &str = "the data key is unchanged: with any earlier copy of this vault (git history, a backup) the removed secret still yields it, and it opens this file and every later version; if the secret may have leaked, run `keyward key rotate`";

fn label(args: &LabelArg) -> Result<String> {
    parse::label(&args.label).map_err(|reason| Error::invalid("token label", &args.label, reason))
}

pub(super) fn add(args: LabelArg, ctx: &Context) -> Result<Outcome> {
    let label = label(&args)?;
    let secret = Key32::random();
    ctx.modify(|vault, _| {
        if vault.header.slots.iter().any(|s| s.kind == SlotKind::Token && s.label == label) {
            return Err(Error::TokenExists { label: label.clone() });
        }
        if vault.header.slots.len() >= crate::vault::format::MAX_SLOTS {
            return Err(Error::Refused(
                "the vault has the maximum number of key slots".into(),
                "remove unused tokens first",
            ));
        }
        vault.add_slot(&RandomSecret { kind: SlotKind::Token, label: label.clone(), secret: &secret }, ctx.now);
        Ok(())
    })?;
    ctx.audit(crate::audit::Event::new("key.token.add").details(json!({"label": label})), true)?;
    let token = codes::encode(CodeKind::Token, &secret);
    // The token is printed once, even with --quiet: it is what the command is for.
    if ctx.out.json {
        ctx.out.json(&json!({"label": label, "token": &*token}));
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
    let tokens: Vec<_> = locked.header.slots.iter().filter(|s| s.kind == SlotKind::Token).collect();
    let json =
        || tokens.iter().map(|s| json!({"label": s.label, "created": parse::time(s.created)})).collect::<Vec<_>>();
    ctx.out.listing(json, &["LABEL", "CREATED"], "no tokens; make one with `keyward key token add LABEL`", |table| {
        for s in &tokens {
            table.add_row(vec![s.label.clone(), parse::time(s.created)]);
        }
    });
    Ok(Outcome::Success)
}

pub(super) fn rm(args: LabelArg, ctx: &Context) -> Result<Outcome> {
    let label = label(&args)?;
    ctx.modify(|vault, _| {
        let removed = vault.remove_slots(|s| s.kind == SlotKind::Token && s.label == label);
        if removed.is_empty() {
            return Err(Error::TokenNotFound { label: label.clone() });
        }
        super::keep_a_way_in(vault, "removing that token")
    })?;
    ctx.audit(crate::audit::Event::new("key.token.rm").details(json!({"label": label})), true)?;
    ctx.out.report(&json!({"removed_token": label}), || {
        format!("removed token {label}: it no longer opens this file as it is now")
    });
    ctx.out.notice(UNCHANGED_DATA_KEY);
    Ok(Outcome::Success)
}
