//! `keyward init`: create a vault and its key slots.

use serde_json::json;

use crate::Outcome;
use crate::cli::InitArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::recovery_key::{self as recovery, Destination};
use crate::sensitive::Key32;
use crate::unlock::RandomSecret;
use crate::unlock::keyring::{self, Backend};
use crate::unlock::passphrase::PassphraseRecipient;
use crate::vault::Vault;
use crate::vault::crypto::Argon2Params;
use crate::vault::format::SlotKind;
use crate::vault::store::{FileStore, Store};

pub(super) fn run(args: InitArgs, ctx: &Context) -> Result<Outcome> {
    let location = ctx.location()?;
    let path = location.path;
    if path.exists() {
        return Err(Error::VaultExists { path });
    }
    let dest = if args.no_recovery {
        Destination::Nowhere
    } else {
        recovery::destination(args.recovery_key_file.as_deref(), ctx)
    };
    recovery::check_stdout(&dest, ctx)?;
    let backend = keyring::choose(args.keyring.into())?;
    if backend.is_none() && !args.passphrase && matches!(dest, Destination::Nowhere) {
        return Err(Error::Usage(
            "with --keyring none, give --passphrase or --recovery-key-file: otherwise nothing could open the vault"
                .into(),
        ));
    }
    // A keyring entry alone is no way back: the kernel keyring forgets it at reboot, and any
    // keyring is lost with the machine. Without a terminal to show a recovery key on, the run
    // must leave another way in, or say that it knowingly leaves none.
    if matches!(dest, Destination::Nowhere) && !args.passphrase && !args.no_recovery {
        return Err(Error::Usage(
            "no recovery key can be shown without a terminal, and a keyring entry alone is lost with the machine (or at reboot, for the kernel keyring): give --recovery-key-file PATH, --passphrase (with KEYWARD_PASSPHRASE_FILE), or --no-recovery to accept that risk; nothing was created".into(),
        ));
    }
    let passphrase = if args.passphrase { Some(input::new_passphrase()?) } else { None };

    if let Some(dir) = path.parent() {
        crate::files::create_private_dir(dir)?;
    }
    let store = FileStore::new(&path);
    let _lock = store.lock(std::time::Duration::from_secs(10))?;
    if path.exists() {
        return Err(Error::VaultExists { path });
    }
    let mut vault = if args.format == 1 { Vault::create_v1(&path, ctx.now) } else { Vault::create(&path, ctx.now) };
    crate::audit::init_secret(&mut vault)?;
    let entry = vault.keyring_name();

    let keyring_secret = backend.map(|_| Key32::random());
    if let (Some(backend), Some(secret)) = (backend, &keyring_secret) {
        keyring::set(backend, &entry, secret)?;
        vault.add_slot(&RandomSecret { kind: SlotKind::Keyring, label: backend.slot_label(), secret }, ctx.now)?;
    }
    if let Some(pass) = &passphrase {
        vault.add_slot(&PassphraseRecipient { passphrase: pass.expose(), params: Argon2Params::DEFAULT }, ctx.now)?;
    }
    let recovery_key = (!matches!(dest, Destination::Nowhere)).then(Key32::random);
    if let Some(key) = &recovery_key {
        vault.add_slot(&RandomSecret { kind: SlotKind::Recovery, label: String::new(), secret: key }, ctx.now)?;
    }

    let saved = recovery_key
        .as_ref()
        .map_or(Ok(()), |key| recovery::deliver(&dest, key, ctx))
        .and_then(|()| vault.save_to(&store));
    if let Err(e) = saved {
        if let Some(backend) = backend {
            let _ = keyring::delete(backend, &entry);
        }
        return Err(e);
    }

    ctx.remember(&vault)?;
    let kinds: Vec<&str> = vault.slots().iter().map(|s| s.kind.as_str()).collect();
    ctx.audit(crate::audit::Event::new("init").details(json!({"slots": kinds})), true)?;
    if backend == Some(Backend::Keyutils) {
        ctx.out.warn(&format!("the kernel keyring keeps the vault key in {}", Backend::Keyutils.persistence()));
    }
    if args.no_recovery && !args.passphrase {
        ctx.out.warn("no recovery key was made (--no-recovery): if this machine's keyring entry is lost, nothing opens the vault; make one with `keyward key recovery --recovery-key-file PATH`");
    }
    let slots: Vec<_> = vault.slots().iter().map(|s| json!({"kind": s.kind.as_str(), "label": s.label})).collect();
    let json = json!({
        "vault": path,
        "vault_id": vault.id_hex(),
        "format_version": vault.version(),
        "keyring": backend.map(Backend::name),
        "slots": slots,
    });
    recovery::report(&dest, ctx, &json, || {
        let how = backend.map_or("no keyring".to_string(), |b| format!("key in the {} keyring", b.name()));
        format!("created vault {} ({how})", path.display())
    });
    Ok(Outcome::Success)
}
