//! `keyward key kms add|rm`: slots a CI job's AWS identity unlocks through AWS KMS (see
//! [`crate::remote::kms`]). The slot is an ordinary format 2 recipient; only its secret's
//! keeping differs, so any later re-key wraps to it without KMS.

use std::collections::BTreeSet;

use serde_json::json;

use crate::Outcome;
use crate::cli::{KmsAddArgs, TokenRmArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::metadata_flags as metadata;
use crate::parse;
use crate::sensitive::Key32;
use crate::vault::format::SlotKind;
use crate::vault::slots::Access;
use crate::vault::v2::text::{KmsSecret, SlotName, sound_kms_key_id};

pub(super) fn add(args: KmsAddArgs, ctx: &Context) -> Result<Outcome> {
    let label = parse::label(&args.label).map_err(|reason| Error::invalid("KMS slot label", &args.label, reason))?;
    if !sound_kms_key_id(&args.key_id) {
        return Err(Error::invalid("KMS key", &args.key_id, "give a key id, key ARN or alias/NAME"));
    }
    let envs = args.env.iter().map(|e| metadata::env(e)).collect::<Result<BTreeSet<String>>>()?;
    let access = if envs.is_empty() { Access::All } else { Access::Domains(envs.clone()) };
    let slot = SlotName::new(SlotKind::Kms, &label).to_string();
    let secret = Key32::random();
    // Encrypted before the lock is taken (a network call); the context names this vault.
    let vault_id = ctx.read_locked()?.id_hex();
    let blob = crate::remote::kms::encrypt(&args.key_id, &vault_id, &slot, &secret)
        .map_err(|error| Error::Remote { remote: format!("KMS key {}", args.key_id), error })?;
    let kms = KmsSecret { key_id: args.key_id.clone(), blob };
    ctx.modify(|vault, _| {
        if vault.id_hex() != vault_id {
            return Err(Error::Refused("the vault was replaced while this ran".into(), "run the command again"));
        }
        if vault.slots().iter().any(|s| s.kind == SlotKind::Kms && s.label == label) {
            return Err(Error::Refused(format!("a KMS slot {label} exists"), "pick another label, or remove it first"));
        }
        vault.add_kms_slot(&label, &secret, kms.clone(), ctx.now, access.clone())
    })?;
    let envs: Vec<&String> = envs.iter().collect();
    ctx.audit(
        crate::audit::Event::new("key.kms.add").details(json!({"label": label, "key_id": args.key_id, "env": envs})),
        true,
    )?;
    ctx.out.report(&json!({"added_kms_slot": label, "key_id": args.key_id, "env": envs}), || {
        format!(
            "added KMS slot {label} ({}): a job whose AWS identity may decrypt with it unlocks this vault; commit the vault",
            args.key_id
        )
    });
    Ok(Outcome::Success)
}

pub(super) fn rm(args: TokenRmArgs, ctx: &Context) -> Result<Outcome> {
    let label = parse::label(&args.label.label)
        .map_err(|reason| Error::invalid("KMS slot label", &args.label.label, reason))?;
    super::token::remove_slot(ctx, args.yes, SlotKind::Kms, &label, "key.kms.rm", || {
        Error::Refused(format!("no KMS slot {label}"), "see `keyward key status`")
    })
}
