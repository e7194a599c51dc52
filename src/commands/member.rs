//! `keyward member add|list|rm|grant|revoke`: teammates by public key (format 2). A member is a
//! slot `member:NAME` holding only the member's public key; they open the vault with their own
//! identity. Removing or narrowing a member re-keys what they held, in the same write.

use std::collections::BTreeSet;

use serde_json::json;

use crate::Outcome;
use crate::cli::{MemberAddArgs, MemberCommand, MemberEnvArgs, MemberRmArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::metadata_flags as metadata;
use crate::parse;
use crate::unlock::identity;
use crate::vault::format::SlotKind;
use crate::vault::slots::{Access, SlotInfo};
use crate::vault::v2::members::fingerprint;

pub(super) fn run(command: MemberCommand, ctx: &Context) -> Result<Outcome> {
    match command {
        MemberCommand::Add(args) => add(args, ctx),
        MemberCommand::List(args) if args.pin => pin(ctx),
        MemberCommand::List(args) if args.changes => changes(ctx),
        MemberCommand::List(_) => list(ctx),
        MemberCommand::Accept(args) => accept(args.pin.as_deref(), ctx),
        MemberCommand::Rm(args) => rm(args, ctx),
        MemberCommand::Grant(args) => change(args, ctx, true),
        MemberCommand::Revoke(args) => change(args, ctx, false),
    }
}

fn name(text: &str) -> Result<String> {
    parse::label(text).map_err(|reason| Error::invalid("member name", text, reason))
}

fn envs(list: &[String]) -> Result<BTreeSet<String>> {
    list.iter().map(|e| metadata::env(e)).collect()
}

fn member<'a>(slots: &'a [SlotInfo], name: &str) -> Result<&'a SlotInfo> {
    slots
        .iter()
        .find(|s| s.kind == SlotKind::Member && s.label == name)
        .ok_or_else(|| Error::Refused(format!("no member {name} in this vault"), "see `keyward member list`"))
}

fn add(args: MemberAddArgs, ctx: &Context) -> Result<Outcome> {
    let name = name(&args.name)?;
    let (key_text, given_as) = match (&args.public_key, &args.key_file) {
        (Some(k), _) => (zeroize::Zeroizing::new(k.trim().to_owned()), "--key".to_owned()),
        (None, Some(path)) => {
            // A public key: a link (or `<(age-keygen -y key.txt)`) is fine; the size is bounded.
            // Sized once and wiped: a secret key given here by mistake must not linger.
            let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(64 * 1024 + 1));
            let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
            std::io::Read::read_to_end(&mut std::io::Read::take(file, 64 * 1024), &mut bytes)
                .map_err(|e| Error::io("cannot read", path, e))?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| Error::invalid("public key file", path.display().to_string(), "it is not text"))?;
            let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
            (zeroize::Zeroizing::new(line.to_owned()), path.display().to_string())
        }
        (None, None) => {
            return Err(Error::Usage("give the member's public key: --key age1… or --key-file PATH".into()));
        }
    };
    let upper = key_text.get(..16).map(str::to_ascii_uppercase).unwrap_or_default();
    if upper.starts_with("AGE-SECRET-KEY-") || upper.starts_with("AGE-PLUGIN-") {
        return Err(Error::Refused(
            "that is a secret key: a member is added by their public key".into(),
            "ask them for the output of `keyward identity show` (age1…); nothing was added",
        ));
    }
    let (recipient, ssh) = if key_text.starts_with("ssh-") {
        let (age, blob) =
            identity::parse_ssh_member(&key_text).map_err(|r| Error::invalid("public key", &given_as, r))?;
        (age, Some(blob))
    } else {
        (identity::parse_recipient(&key_text).map_err(|r| Error::invalid("public key", &given_as, r))?, None)
    };
    // A plugin's key: wrapping to it runs the plugin, which the user just named.
    if let Some(plugin) = crate::vault::v2::plugin::recipient_plugin(&recipient) {
        crate::vault::v2::plugin::allow(&plugin);
    }
    let envs = envs(&args.env)?;
    let access = if envs.is_empty() { Access::All } else { Access::Domains(envs.clone()) };
    ctx.modify(|vault, _| {
        let slots = vault.slots();
        if slots.iter().any(|s| s.kind == SlotKind::Member && s.label == name) {
            return Err(Error::Refused(
                format!("{name} is already a member"),
                "pick another name, or `keyward member rm` first",
            ));
        }
        if let Some(same) = slots.iter().find(|s| s.recipient.as_deref() == Some(recipient.as_str())) {
            return Err(Error::Refused(
                format!("that key is already in this vault, as {}", same.describe()),
                "nothing was added",
            ));
        }
        vault.add_member(&name, recipient.clone(), ssh.clone(), ctx.now, access.clone())
    })?;
    let envs: Vec<&String> = envs.iter().collect();
    ctx.audit(
        crate::audit::Event::new("member.add")
            .details(json!({"member": name, "fingerprint": fingerprint(&recipient), "env": envs})),
        true,
    )?;
    let holds = if envs.is_empty() {
        "every environment".to_owned()
    } else {
        format!("{} and secrets with no environment", envs.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "))
    };
    ctx.out.report(&json!({"added_member": name, "fingerprint": fingerprint(&recipient), "env": envs}), || {
        format!("added member {name} ({}): they hold {holds}; commit the vault so they get it", fingerprint(&recipient))
    });
    Ok(Outcome::Success)
}

/// Members are in the clear slot lines: listing them needs no unlock.
fn list(ctx: &Context) -> Result<Outcome> {
    let locked = ctx.read_locked()?;
    let slots = locked.slots();
    let members: Vec<&SlotInfo> = slots.iter().filter(|s| s.kind == SlotKind::Member).collect();
    let json = || {
        members
            .iter()
            .map(|s| {
                json!({
                    "name": s.label,
                    "key": s.recipient,
                    "key_type": key_type(s),
                    "ssh_key": s.ssh.as_ref().map(|b| format!("ssh-ed25519 {b}")),
                    "fingerprint": s.recipient.as_deref().map(fingerprint),
                    "access": super::key::access_json(&s.access),
                    "added": parse::time(s.created),
                    "added_by": s.added_by,
                })
            })
            .collect::<Vec<_>>()
    };
    let header = ["NAME", "TYPE", "FINGERPRINT", "ACCESS", "ADDED", "BY"];
    ctx.out.listing(json, &header, "no members; add one with `keyward member add NAME --key age1…`", |table| {
        for s in &members {
            table.add_row(vec![
                s.label.clone(),
                key_type(s),
                s.recipient.as_deref().map(fingerprint).unwrap_or_default(),
                super::key::access_text(&s.access),
                parse::time(s.created),
                s.added_by.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
    });
    Ok(Outcome::Success)
}

fn rm(args: MemberRmArgs, ctx: &Context) -> Result<Outcome> {
    let name = name(&args.name.name)?;
    if !crate::input::confirm_or_refuse(
        args.yes,
        "removing a member",
        &format!("Remove member {name}? Every environment they held is re-keyed"),
        "add --yes to remove them without asking; nothing was removed",
    )? {
        ctx.out.notice("nothing removed");
        return Ok(Outcome::Declined);
    }
    let (rekeyed, exposed) = ctx.modify(|vault, _| {
        member(&vault.slots(), &name)?;
        vault.remove_slots(|s| s.kind == SlotKind::Member && s.label == name)?;
        super::key::keep_a_way_in(vault, "removing that member")?;
        let rekeyed = vault.rekeyed_domains();
        let exposed = mark_exposed(vault, &rekeyed, &format!("member {name}"), ctx.now)?;
        Ok((rekeyed, exposed))
    })?;
    ctx.audit(crate::audit::Event::new("member.rm").details(json!({"member": name, "rekeyed": rekeyed})), true)?;
    ctx.out.report(&json!({"removed_member": name, "rekeyed": rekeyed}), || format!("removed member {name}"));
    super::key::removal_note(ctx, &rekeyed);
    if exposed > 0 {
        ctx.out.notice(&format!(
            "they saw the values they held: {exposed} secrets are marked exposed and listed by `keyward rotate --due` (exit 1) until rotated at their providers"
        ));
    }
    Ok(Outcome::Success)
}

fn change(args: MemberEnvArgs, ctx: &Context, grant: bool) -> Result<Outcome> {
    let name = name(&args.name.name)?;
    let asked = envs(&args.env)?;
    let mut lost_all = false;
    let rekeyed = ctx.modify(|vault, _| {
        let slots = vault.slots();
        let current = member(&slots, &name)?.access.clone();
        let known = vault.environments();
        if let Some(unknown) = asked.iter().find(|e| !grant && !known.contains(e)) {
            return Err(Error::UnknownEnvironment { env: unknown.clone(), suggestion: String::new() });
        }
        lost_all = !grant && current == Access::All;
        let access = match (&current, grant) {
            (Access::All, true) => {
                return Err(Error::Refused(format!("{name} already holds every environment"), "nothing changed"));
            }
            (Access::Domains(held), true) => Access::Domains(held.union(&asked).cloned().collect()),
            (Access::Domains(held), false) => Access::Domains(held.difference(&asked).cloned().collect()),
            (Access::All, false) => {
                // Every environment the vault has, minus those asked: the member stops holding
                // environments made later too.
                let all: BTreeSet<String> = vault.environments().into_iter().collect();
                Access::Domains(all.difference(&asked).cloned().collect())
            }
        };
        if access == current {
            return Err(Error::Refused(format!("{name}'s access is already that"), "nothing changed"));
        }
        vault.set_access(SlotKind::Member, &name, access)?;
        super::key::keep_a_way_in(vault, "that revocation")?;
        let rekeyed = vault.rekeyed_domains();
        if !grant {
            mark_exposed(vault, &rekeyed, &format!("member {name}"), ctx.now)?;
        }
        Ok(rekeyed)
    })?;
    let what = if grant { "member.grant" } else { "member.revoke" };
    let envs: Vec<&String> = asked.iter().collect();
    ctx.audit(crate::audit::Event::new(what).details(json!({"member": name, "env": envs, "rekeyed": rekeyed})), true)?;
    let verb = if grant { "granted" } else { "revoked" };
    let list = envs.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ");
    ctx.out.report(&json!({"member": name, verb: envs, "rekeyed": rekeyed}), || format!("{verb} {list} for {name}"));
    if !grant {
        super::key::removal_note(ctx, &rekeyed);
    }
    if lost_all {
        ctx.out.notice(&format!(
            "{name} no longer holds every environment: they can no longer add or remove members, and environments made from now on are not theirs"
        ));
    }
    Ok(Outcome::Success)
}

/// The pin of the vault as it is: for `KEYWARD_MEMBERS_PIN` in CI.
fn pin(ctx: &Context) -> Result<Outcome> {
    let locked = ctx.read_locked()?;
    let crate::vault::LockedFormat::V2(doc) = &locked.format else {
        return Err(Error::NeedsFormat2 { what: "a members pin".into() });
    };
    let pin = crate::vault::v2::members::pin(doc);
    if ctx.out.json {
        ctx.out.json(&json!({"pin": pin}));
    } else {
        ctx.out.write(format!("{pin}\n").as_bytes());
        ctx.out.notice("set it as KEYWARD_MEMBERS_PIN in CI: any added, removed or re-pointed member, change of access or re-key then stops the job (exit 6) until the pin is updated");
    }
    Ok(Outcome::Success)
}

/// What this machine noticed, oldest first.
fn changes(ctx: &Context) -> Result<Outcome> {
    use crate::vault::v2::seen;
    let locked = ctx.read_locked()?;
    let history = seen::file(&locked.path, &locked.id()).map(|f| seen::load(&f).history).unwrap_or_default();
    let json = || {
        history
            .iter()
            .map(|h| json!({"time": parse::time(h.time), "added": h.change.added, "removed": h.change.removed, "accepted": h.accepted}))
            .collect::<Vec<_>>()
    };
    let header = ["TIME", "CHANGE"];
    ctx.out.listing(json, &header, "no membership changes noticed on this machine", |table| {
        for h in &history {
            let mut what: Vec<String> = h.change.added.iter().map(|a| format!("added {a}")).collect();
            what.extend(h.change.removed.iter().map(|r| format!("removed {r}")));
            if h.accepted {
                what.push("(accepted)".into());
            }
            table.add_row(vec![parse::time(h.time), what.join("; ")]);
        }
    });
    Ok(Outcome::Success)
}

/// Records the current members as seen (after a strict-mode refusal).
fn accept(pin: Option<&str>, ctx: &Context) -> Result<Outcome> {
    use crate::vault::v2::{members, seen};
    let locked = ctx.read_locked()?;
    let crate::vault::LockedFormat::V2(doc) = &locked.format else {
        return Err(Error::NeedsFormat2 { what: "members".into() });
    };
    if let Some(expected) = pin
        && members::pin(doc) != expected.trim()
    {
        return Err(Error::Refused(
            "the vault is not the one that pin describes: it changed since you reviewed it".into(),
            "review `keyward member list` again and accept with its current pin; nothing was accepted",
        ));
    }
    let memory = seen::memory(&locked.path, &doc.id);
    let file = match (memory.branch, &memory.floor) {
        (Some(file), _) => file,
        (None, Some(_)) => {
            return Err(Error::Refused(
                "a detached HEAD remembers nothing, so there is nothing to accept into".into(),
                "check out a branch (`git switch -c review`) and accept there",
            ));
        }
        (None, None) => {
            return Err(Error::Refused(
                "there is no state directory to remember members in".into(),
                "set HOME or XDG_STATE_HOME",
            ));
        }
    };
    let mut state = seen::load(&file);
    let roster = members::roster(doc);
    // Keys accepted back are no longer news on the next branch either.
    if let Some(floor) = &memory.floor {
        let mut wide = seen::load(floor);
        let before = wide.removed.len();
        wide.removed.retain(|recipient, _| !roster.values().any(|m| &m.recipient == recipient));
        if wide.removed.len() != before {
            seen::save(floor, &wide);
        }
    }
    let change = state.members.as_ref().map(|before| members::compare(before, &roster)).unwrap_or_default();
    if !change.is_empty() {
        state.history.push(seen::Noticed { time: ctx.now, change: change.clone(), accepted: true });
    }
    state.vault = locked.path.display().to_string();
    state.members = Some(roster);
    seen::save(&file, &state);
    ctx.out.report(&json!({"accepted": change}), || {
        if change.is_empty() {
            "nothing new to accept".to_owned()
        } else {
            let added = change.added.iter().map(|a| format!("added {a}"));
            let removed = change.removed.iter().map(|r| format!("removed {r}"));
            format!("accepted: {}", added.chain(removed).collect::<Vec<_>>().join("; "))
        }
    });
    Ok(Outcome::Success)
}

/// Marks every secret of `domains` (environments, and `@default` for those with none) as exposed
/// to `who` now: its current value was readable by them, so `rotate --due` lists it until it is
/// rotated. Returns how many were marked.
pub(crate) fn mark_exposed(vault: &mut crate::vault::Vault, domains: &[String], who: &str, now: i64) -> Result<usize> {
    use crate::vault::secret::ext;
    let in_domain = |env: Option<&str>| domains.iter().any(|d| d == crate::vault::v2::text::domain_of(env));
    let mut records = vault.records()?;
    let mut marked = 0;
    for record in &mut records.records {
        if !in_domain(record.env.as_deref()) {
            continue;
        }
        let mut secret = record.decode().map_err(|e| vault.record_error(e))?;
        if secret.current().is_none() {
            continue;
        }
        secret.body.meta.ext.insert(ext::EXPOSED.into(), format!("{now} {who}"));
        *record = crate::vault::payload::Record::encode(&secret);
        marked += 1;
    }
    vault.set_records(records);
    Ok(marked)
}

/// A member key's type: `ssh-ed25519`, `age-x25519`, or `age-plugin-NAME`.
fn key_type(slot: &SlotInfo) -> String {
    let plugin = slot.recipient.as_deref().and_then(crate::vault::v2::plugin::recipient_plugin);
    match (&slot.ssh, plugin) {
        (Some(_), _) => "ssh-ed25519".into(),
        (None, Some(name)) => format!("age-plugin-{name}"),
        (None, None) => "age-x25519".into(),
    }
}
