//! `keyward exec`: run a command with secrets in its environment and its output masked, as
//! `op run` and `envchain` do.
//!
//! Exit codes: the command's own; 128+N when it is killed by signal N; 125 when keyward itself
//! fails, 126 when the command cannot run and 127 when it is not found, as env(1) does.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use crate::Outcome;
use crate::cli::ExecArgs;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::mask::{Engine, Options, stream};
use crate::output::Stream;
use crate::parse;
use crate::selection::{self, Injected};
use crate::sensitive;
use crate::vault::secret::{VersionSelector, check_name};
use zeroize::Zeroizing;

/// An environment variable whose value is `keyward:NAME` (or `keyward:NAME@previous`) gets the
/// secret's value, as `op run` resolves `op://` references.
pub(super) const REFERENCE_PREFIX: &str = "keyward:";

pub(super) fn run(args: ExecArgs, ctx: &Context) -> Result<Outcome> {
    crate::hardening::set_shrunk_file_exit(exit::EXEC_FAILED);
    match prepare(&args, ctx) {
        Ok(prepared) => launch(&args, prepared),
        Err(e) => Err(Error::Exec(Box::new(e))),
    }
}

struct Prepared {
    /// The child's environment; the values (injected secrets, and whatever else ours held) are
    /// wiped when this is dropped.
    env: Vec<(OsString, Zeroizing<Vec<u8>>)>,
    engine: Option<Engine>,
}

fn prepare(args: &ExecArgs, ctx: &Context) -> Result<Prepared> {
    let env_name = args.env.as_deref().map(|e| parse::environment(e).map_err(|r| Error::invalid("environment", e, r)));
    let env_name = env_name.transpose()?;
    for name in &args.only {
        check_name(name)?;
    }
    let references = references()?;
    let remote_refs = remote_references()?;
    let vault = ctx.open()?;
    let config = Config::load()?;
    let registry = config.registry();
    // Decoded once: the selection, the references and the mask engine all read from these.
    let mut all = vault.secrets()?;
    let secrets = selection::select_from(&vault, &all, &args.only, env_name.as_deref())?;
    if !args.allow_env_mismatch {
        selection::check_environment(&secrets, env_name.as_deref(), registry)?;
    }
    let values = selection::current_values(&secrets, &config, &args.allow_vars, !args.only.is_empty())?;
    if let Some(warning) = selection::left_out_warning(&values.left_out) {
        ctx.out.warn(&warning);
    }
    let mut injected = values.injected;
    for s in &secrets {
        super::grace_notice(s, ctx);
    }
    // A reference names a secret as surely as --only does: the same checks apply (revoked
    // versions, environment, live and test keys). Its variable is the caller's own.
    for (var, name, selector) in references {
        let secret = selection::find(&vault, &all, &name)?;
        let version = secret.usable(selector, ctx.now)?;
        if !args.allow_env_mismatch {
            selection::check_one(secret, &version.value, env_name.as_deref(), registry)?;
        }
        injected.push(Injected { name: secret.name.clone(), var, value: version.value.clone() });
    }
    // References to a remote store: read there, then checked and masked as a stored secret is
    // (its provider told by its shape). The variable is the caller's own.
    let resolved = crate::remote::parallel(&remote_refs, crate::remote::CONCURRENCY, |(_, text, r)| {
        r.resolve().map_err(|error| Error::Remote { remote: text.clone(), error })
    });
    for ((var, text, _), value) in remote_refs.iter().zip(resolved) {
        let value = value?;
        let mut meta = crate::vault::secret::Metadata::new(ctx.now);
        meta.provider = registry.detect(value.expose()).map(|(p, _)| p.id.clone());
        let secret = crate::vault::secret::Secret::new(text.clone(), var.clone(), None, meta, value.clone(), ctx.now);
        if !args.allow_env_mismatch {
            selection::check_one(&secret, &value, env_name.as_deref(), registry)?;
        }
        injected.push(Injected { name: text.clone(), var: var.clone(), value });
        all.push(secret);
    }

    // The child's environment: ours without KEYWARD_* (an install script must not get the vault
    // token) and without the references, then the injected variables.
    let mut env: BTreeMap<OsString, Zeroizing<Vec<u8>>> = BTreeMap::new();
    for (k, v) in sensitive::env_vars() {
        let remote_ref = std::str::from_utf8(&v).ok().and_then(crate::remote::reference::Reference::parse);
        if !k.to_string_lossy().starts_with("KEYWARD_") && reference(&v).is_none() && remote_ref.is_none() {
            env.insert(k, v);
        }
    }
    for i in &injected {
        if i.value.expose().contains('\0') {
            return Err(Error::invalid(
                "value",
                "(hidden)",
                format!("{} holds a NUL byte, which no environment variable can", i.name),
            ));
        }
        env.insert(i.var.clone().into(), Zeroizing::new(i.value.expose().as_bytes().to_vec()));
    }
    let names: Vec<&str> = injected.iter().map(|i| i.name.as_str()).collect();
    let program = std::path::Path::new(&args.command[0]).file_name().map(|n| n.to_string_lossy().into_owned());
    ctx.audit(
        crate::audit::Event::new("exec").details(serde_json::json!({"secrets": names, "program": program})),
        false,
    )?;
    let engine = (!args.no_mask).then(|| Engine::for_secrets(&all, Some(registry), Options::default()));
    // Said before the command runs, not after it ends.
    ctx.print_vault_warnings();
    Ok(Prepared { env: env.into_iter().collect(), engine })
}

/// `keyward:NAME[@VERSION]` in a variable's value: the reference, if it is one.
fn reference(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value).ok().and_then(|v| v.strip_prefix(REFERENCE_PREFIX))
}

/// The references in our environment, checked before the vault is opened: (variable, secret
/// name, version).
fn references() -> Result<Vec<(String, String, VersionSelector)>> {
    let mut found = Vec::new();
    for (k, v) in sensitive::env_vars() {
        if k.to_string_lossy().starts_with("KEYWARD_") {
            continue;
        }
        let Some(reference) = reference(&v) else { continue };
        let (name, version) = reference.split_once('@').unwrap_or((reference, "current"));
        let invalid = |r: String| Error::invalid("reference", format!("{REFERENCE_PREFIX}{reference}"), r);
        let selector: VersionSelector = version.parse().map_err(invalid)?;
        check_name(name)?;
        found.push((k.to_string_lossy().into_owned(), name.to_owned(), selector));
    }
    Ok(found)
}

/// The references to remote stores in our environment (`aws-sm://…`, `vault:…#field`), checked
/// before anything is opened: (variable, reference, parsed).
fn remote_references() -> Result<Vec<(String, String, crate::remote::reference::Reference)>> {
    let mut found = Vec::new();
    for (k, v) in sensitive::env_vars() {
        if k.to_string_lossy().starts_with("KEYWARD_") {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&v) else { continue };
        match crate::remote::reference::Reference::parse(text) {
            None => {}
            // Named by its variable: a value that merely looks like a reference may be a secret.
            Some(Err(reason)) => {
                return Err(Error::invalid("reference", format!("in {}", k.to_string_lossy()), reason));
            }
            Some(Ok(r)) => found.push((k.to_string_lossy().into_owned(), text.to_owned(), r)),
        }
    }
    Ok(found)
}

/// The signals keyward passes on to the command when another process sends them. Signals from
/// the terminal (Ctrl-C) already reach the command's process group and are not sent twice.
const FORWARDED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialize and fill a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        for s in FORWARDED {
            libc::sigaddset(&raw mut set, s);
        }
        set
    }
}

fn launch(args: &ExecArgs, prepared: Prepared) -> Result<Outcome> {
    let Prepared { env, engine } = prepared;
    // Block the forwarded signals in every thread of keyward; one thread waits for them.
    let set = signal_set();
    // SAFETY: pthread_sigmask with a valid set, before any other thread exists.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut()) };

    let mut command = Command::new(&args.command[0]);
    command.args(&args.command[1..]).env_clear().stdin(Stdio::inherit());
    for (k, v) in &env {
        command.env(k, std::ffi::OsStr::from_bytes(v));
    }
    // std's Command keeps its own copies (see the heap-leak test's exceptions); ours go now.
    drop(env);
    if engine.is_some() {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // SAFETY: the closure only calls async-signal-safe functions (setrlimit, pthread_sigmask).
    unsafe {
        command.pre_exec(|| {
            crate::hardening::restore_core_limit();
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&raw mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &raw const empty, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let program = args.command[0].to_string_lossy();
            let (code, what) = match e.kind() {
                std::io::ErrorKind::NotFound => (exit::EXEC_NOT_FOUND, "command not found"),
                _ => (exit::EXEC_CANNOT_RUN, "cannot run the command"),
            };
            eprintln!(
                "keyward: {what}: {} — check the name, the PATH and its permissions",
                crate::output::sanitize(&program)
            );
            return Ok(Outcome::Child(code));
        }
    };
    let pid = child.id() as libc::pid_t;
    std::thread::spawn(move || forward_signals(set, pid));

    let mut pumps = Vec::new();
    if let Some(engine) = engine {
        let engine = std::sync::Arc::new(engine);
        for (pipe, fd) in [
            (child.stdout.take().map(std::convert::Into::into), Stream::Stdout),
            (child.stderr.take().map(std::convert::Into::into), Stream::Stderr),
        ] {
            let pipe: Option<std::os::fd::OwnedFd> = pipe;
            let Some(pipe) = pipe else { continue };
            let engine = engine.clone();
            pumps.push(std::thread::spawn(move || {
                let reader = File::from(pipe);
                let raw = reader.as_raw_fd();
                let mut out = crate::output::raw(fd);
                // A reader of ours that went away is the command's problem, not a reason to stop
                // draining its output.
                if stream::mask_fd(&engine, &reader, &mut *out, Some(raw)).is_err() {
                    let _ = std::io::copy(&mut &reader, &mut std::io::sink());
                }
            }));
        }
    }
    let status = child.wait().map_err(|e| Error::Exec(Box::new(Error::io("cannot wait for", "the command", e))))?;
    for pump in pumps {
        let _ = pump.join();
    }
    Ok(Outcome::Child(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => exit::EXEC_FAILED,
    }))
}

/// Waits for the forwarded signals and passes those sent by a process (not the terminal) on.
fn forward_signals(set: libc::sigset_t, child: libc::pid_t) {
    loop {
        // SAFETY: sigwaitinfo with a valid set and info struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let signal = unsafe { libc::sigwaitinfo(&raw const set, &raw mut info) };
        if signal < 0 {
            continue;
        }
        // si_code <= 0: sent by kill(2), sigqueue(3) or tkill; > 0: the kernel (a terminal).
        if info.si_code <= 0 {
            // SAFETY: kill with a pid we spawned.
            unsafe { libc::kill(child, signal) };
        }
    }
}
