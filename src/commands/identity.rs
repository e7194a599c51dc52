//! `keyward identity new|show|import`: your own age identity for team vaults.

use serde_json::json;

use crate::Outcome;
use crate::cli::{IdentityCommand, IdentityNewArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::sensitive::Key32;
use crate::unlock::identity::{self, Source};
use crate::unlock::keyring;
use crate::vault::v2::keys;

pub(super) fn run(command: IdentityCommand, ctx: &Context) -> Result<Outcome> {
    match command {
        IdentityCommand::New(args) => keep(Key32::random(), &args, ctx, "made"),
        IdentityCommand::Show => show(ctx),
        IdentityCommand::Import(args) => {
            let secret = if args.path.as_os_str() == "-" {
                let stdin = std::path::Path::new("standard input");
                let buf =
                    crate::sensitive::read_bounded(&mut std::io::stdin().lock(), 16 * 1024, "cannot read", stdin)?;
                let text = crate::sensitive::into_text(buf)?;
                identity::parse(&text).map_err(|r| Error::invalid("identity", "standard input", r))?
            } else {
                identity::read_file(&args.path)?
            };
            keep(secret, &args.how, ctx, "imported")
        }
    }
}

/// Keeps `secret` as this user's identity and prints its public key.
fn keep(secret: Key32, args: &IdentityNewArgs, ctx: &Context, verb: &str) -> Result<Outcome> {
    if std::env::var_os(identity::IDENTITY_VAR).is_some_and(|v| !v.is_empty()) {
        return Err(Error::Refused(
            format!(
                "{} is set: that file is your identity here, and one kept now would never be used",
                identity::IDENTITY_VAR
            ),
            "unset it first; nothing was changed",
        ));
    }
    let public = keys::recipient(&secret);
    if let Some((existing, source)) = identity::load()? {
        if existing.expose() == secret.expose() {
            ctx.out.notice(&format!("that is already your identity (in {source})"));
            ctx.out.write(format!("{public}\n").as_bytes());
            return Ok(Outcome::Success);
        }
        if !args.force {
            return Err(Error::Refused(
                format!("you already have an identity ({}, in {source})", keys::recipient(&existing)),
                "--force replaces it: vaults that list the old key as a member stop opening with it",
            ));
        }
    }
    let file = identity::default_file()?;
    let kept_in = if args.file {
        crate::files::create_private_dir(crate::files::parent_dir(&file))?;
        let text = identity::file_text(&secret, &crate::parse::time(ctx.now));
        crate::files::write_atomic(&file, text.as_bytes())?;
        // The keyring is looked at first: an old identity there would go on winning.
        for backend in identity::BACKENDS {
            if keyring::get(backend, identity::KEYRING_NAME).is_ok_and(|s| s.is_some()) {
                keyring::delete(backend, identity::KEYRING_NAME)?;
            }
        }
        Source::File(file)
    } else {
        let backend = identity::BACKENDS.into_iter().find(|b| keyring::probe(*b).is_ok()).ok_or(Error::Refused(
            "no persistent keyring answers here (Secret Service or the macOS keychain; the kernel keyring forgets at reboot)".into(),
            "keep it in a 0600 file with --file",
        ))?;
        keyring::set(backend, identity::KEYRING_NAME, &secret)?;
        // An old identity file would be used whenever the keyring cannot be reached.
        if std::fs::symlink_metadata(&file).is_ok() {
            crate::files::overwrite_and_remove(&file).map_err(|e| Error::io("cannot remove", &file, e))?;
        }
        Source::Keyring(backend)
    };
    if ctx.out.json {
        ctx.out.json(&json!({"public_key": public, "kept_in": kept_in.to_string()}));
    } else {
        ctx.out.write(format!("{public}\n").as_bytes());
        ctx.out.notice(&format!(
            "identity {verb}, kept in {kept_in}; share the public key above: a teammate runs `keyward member add YOUR-NAME --key {public}`"
        ));
    }
    Ok(Outcome::Success)
}

fn show(ctx: &Context) -> Result<Outcome> {
    let Some((secret, source)) = identity::load()? else {
        return Err(Error::Refused(
            "you have no identity on this machine".into(),
            "make one with `keyward identity new`, or bring one with `keyward identity import FILE`",
        ));
    };
    let public = keys::recipient(&secret);
    if ctx.out.json {
        ctx.out.json(&json!({"public_key": public, "kept_in": source.to_string()}));
    } else {
        ctx.out.write(format!("{public}\n").as_bytes());
        ctx.out.notice(&format!("kept in {source}"));
    }
    Ok(Outcome::Success)
}
