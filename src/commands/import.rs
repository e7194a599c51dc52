//! `keyward import`: secrets from a .env file or a JSON object. Names come from the variables
//! (`STRIPE_KEY` → `stripe_key`). A malformed line stops the import before anything is stored.

use std::io::Read;

use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::{ImportFileArgs as ImportArgs, ImportFormat};
use crate::config::Config;
use crate::context::Context;
use crate::dotenv;
use crate::error::{Error, Result};
use crate::output::sanitize;
use crate::parse;
use crate::providers::Registry;
use crate::rotation;
use crate::sensitive::SecretValue;
use crate::vault::payload::{Record, Records};
use crate::vault::secret::{Metadata, Secret, ext, validate_name, validate_var};

const MAX_INPUT: u64 = 16 * 1024 * 1024;

struct Candidate {
    var: String,
    name: String,
    value: SecretValue,
    line: usize,
    note: Option<String>,
}

#[derive(Serialize, Default)]
struct Report {
    added: Vec<String>,
    overwritten: Vec<String>,
    skipped: Vec<String>,
    rejected: Vec<Rejected>,
}

#[derive(Serialize)]
struct Rejected {
    var: String,
    line: usize,
    reason: String,
}

pub(super) fn run(args: ImportArgs, ctx: &Context) -> Result<Outcome> {
    let env = args.env.as_deref().map(|e| parse::environment(e).map_err(|r| Error::invalid("environment", e, r)));
    let env = env.transpose()?;
    let config = Config::load()?;
    if args.from == Some(crate::cli::ImportFrom::Pass) {
        return from_pass(&args, env.as_deref(), &config, ctx);
    }
    let file = args.file.clone().unwrap_or_else(|| "-".into());
    let (text, source) = read_input(&file)?;
    let format = args.format.unwrap_or(if file.ends_with(".json") { ImportFormat::Json } else { ImportFormat::Dotenv });
    let entries = match format {
        ImportFormat::Dotenv => dotenv::parse(&text)
            .map_err(|e| Error::invalid("line", format!("{source}, line {}", e.line), e.reason))?
            .into_iter()
            .map(|e| (e.var, e.value, e.line))
            .collect(),
        ImportFormat::Json => parse_json(&text, &source)?,
    };
    let registry = config.registry();
    if let Some(id) = &args.provider
        && registry.get(id).is_none()
    {
        return Err(Error::UnknownProvider { id: id.clone() });
    }

    let mut report = Report::default();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (var, value, line) in entries {
        let reject = |reason: &str| Rejected { var: var.clone(), line, reason: reason.into() };
        let name = import_name(&var);
        if let Err(reason) = validate_var(&var) {
            report.rejected.push(reject(reason));
        } else if let Err(e) = config.check_startup_var(&var, &args.allow_vars, "store") {
            report.rejected.push(reject(&format!("{e} (--allow-var {var})")));
        } else if let Err(reason) = validate_name(&name) {
            report.rejected.push(reject(&format!("{name:?} is not a valid secret name: {reason}")));
        } else if value.is_empty() {
            report.rejected.push(reject("the value is empty"));
        } else if value.len() > SecretValue::MAX_LEN {
            report.rejected.push(reject("the value is larger than 64 KiB"));
        } else {
            // A later line for the same variable wins, as dotenv loaders do.
            candidates.retain(|c| c.var != var);
            candidates.push(Candidate { var, name, value: SecretValue::new(value.to_string()), line, note: None });
        }
    }

    store(&candidates, report, &args, env.as_deref(), &config, ctx)
}

/// Stores the candidates in one write (all or nothing), or only reports with --dry-run.
fn store(
    candidates: &[Candidate],
    mut report: Report,
    args: &ImportArgs,
    env: Option<&str>,
    config: &Config,
    ctx: &Context,
) -> Result<Outcome> {
    let registry = config.registry();
    let mut apply = |records: &mut Records| -> Result<()> {
        for c in candidates {
            apply_one(records, c, args, env, registry, ctx.now, config.grace, &mut report)?;
        }
        Ok(())
    };
    if args.dry_run {
        apply(&mut ctx.open()?.records()?)?;
    } else {
        ctx.modify(|vault, _| {
            let mut records = vault.records()?;
            apply(&mut records)?;
            vault.set_records(records);
            Ok(())
        })?;
    }
    if !args.dry_run {
        let details = json!({"added": report.added, "overwritten": report.overwritten, "skipped": report.skipped, "rejected": report.rejected.len()});
        ctx.audit(crate::audit::Event::new("import").details(details), true)?;
    }
    print(&report, args.dry_run, ctx);
    Ok(Outcome::Success)
}

/// `import --from pass [DIR]`: every `*.gpg` entry of a password store, decrypted by `gpg` (the
/// user's own keys and agent, GNUPGHOME respected). An entry's path is the name, its first line
/// the value, the lines after it the note. Symbolic links in the store are not followed (a store
/// can be a checked-out repository).
fn from_pass(args: &ImportArgs, env: Option<&str>, config: &Config, ctx: &Context) -> Result<Outcome> {
    let dir = match &args.file {
        Some(d) => std::path::PathBuf::from(d),
        None => match std::env::var_os("PASSWORD_STORE_DIR") {
            Some(d) => d.into(),
            None => crate::paths::home()?.join(".password-store"),
        },
    };
    if !dir.join(".gpg-id").is_file() {
        return Err(Error::invalid("password store", dir.display().to_string(), "it has no .gpg-id: not a pass store"));
    }
    let mut entries = Vec::new();
    pass_entries(&dir, &dir, &mut entries)?;
    entries.sort();
    let mut report = Report::default();
    let mut candidates = Vec::new();
    for (i, (name, file)) in entries.into_iter().enumerate() {
        let line = i + 1;
        let reject = |reason: String| Rejected { var: name.clone(), line, reason };
        if let Err(reason) = validate_name(&name) {
            report.rejected.push(reject(format!("{name:?} is not a valid secret name: {reason}")));
            continue;
        }
        let var = crate::vault::secret::default_var(&name);
        if let Err(e) = config.check_startup_var(&var, &args.allow_vars, "store") {
            report.rejected.push(reject(format!("{e} (--allow-var {var})")));
            continue;
        }
        let plain = match gpg_decrypt(&file) {
            Ok(p) => p,
            Err(reason) => {
                report.rejected.push(reject(reason));
                continue;
            }
        };
        let Ok(text) = std::str::from_utf8(&plain) else {
            report.rejected.push(reject("the entry is not UTF-8 text".into()));
            continue;
        };
        let (value, rest) = text.split_once('\n').unwrap_or((text, ""));
        let value = value.strip_suffix('\r').unwrap_or(value);
        if value.is_empty() || value.len() > SecretValue::MAX_LEN {
            report.rejected.push(reject("the first line (the value) is empty or larger than 64 KiB".into()));
            continue;
        }
        let note = rest.trim();
        candidates.push(Candidate {
            var,
            name: name.clone(),
            value: SecretValue::new(value.to_owned()),
            line,
            note: (!note.is_empty()).then(|| note.to_owned()),
        });
    }
    store(&candidates, report, args, env, config, ctx)
}

/// The `*.gpg` files under `dir`, as (entry name, file), not following symbolic links.
fn pass_entries(
    root: &std::path::Path,
    dir: &std::path::Path,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))? {
        let entry = entry.map_err(|e| Error::io("cannot read", dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io("cannot read", &path, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            pass_entries(root, &path, out)?;
        } else if let Some(stem) = file_name.strip_suffix(".gpg") {
            let rel = path.parent().and_then(|p| p.strip_prefix(root).ok()).unwrap_or(std::path::Path::new(""));
            let name = rel.join(stem).to_string_lossy().into_owned();
            out.push((name, path));
        }
    }
    Ok(())
}

/// One entry decrypted by `gpg`, into a wiped buffer; a failure says why in a line.
fn gpg_decrypt(file: &std::path::Path) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let out = std::process::Command::new("gpg")
        .args(["--quiet", "--batch", "--yes", "--decrypt"])
        .arg(file)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run gpg: {e}"))?;
    let plain = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err("gpg could not decrypt it (is its key in your keyring, and the agent unlocked?)".into());
    }
    Ok(plain)
}

#[allow(clippy::too_many_arguments)]
fn apply_one(
    records: &mut Records,
    c: &Candidate,
    args: &ImportArgs,
    env: Option<&str>,
    registry: &Registry,
    now: i64,
    grace: u64,
    report: &mut Report,
) -> Result<()> {
    let undecodable = || Error::damaged("the vault", "a record cannot be decoded");
    if let Some(index) = records.position(&c.name) {
        if !args.overwrite {
            report.skipped.push(c.name.clone());
            return Ok(());
        }
        let mut secret = records.records[index].decode().map_err(|_| undecodable())?;
        if secret.current().is_some_and(|v| v.value == c.value) {
            report.skipped.push(c.name.clone());
            return Ok(());
        }
        // The old value stays as previous: a rotation without verification.
        rotation::abort(&mut secret).ok();
        let id = rotation::stage(&mut secret, c.value.clone(), now)?;
        let promoted = rotation::promote(&mut secret, Some(id), now, grace)?;
        secret.body.meta.ext.insert(ext::verified(id), "not verified (import --overwrite)".into());
        records.records[index] = Record::encode(&secret);
        if let Some((_, deadline)) = promoted.previous {
            rotation::note_deadline(records, deadline);
        }
        report.overwritten.push(c.name.clone());
        return Ok(());
    }
    if let Err(Error::VarConflict { other, .. }) = records.check_var_conflict(&c.name, &c.var, env) {
        report.rejected.push(Rejected {
            var: c.var.clone(),
            line: c.line,
            reason: format!("the variable is used by {other}"),
        });
        return Ok(());
    }
    let mut meta = Metadata::new(now);
    meta.note = c.note.clone();
    meta.provider = match &args.provider {
        Some(p) => Some(p.clone()),
        None => registry.detect(c.value.expose()).map(|(p, _)| p.id.clone()),
    };
    let secret = Secret::new(c.name.clone(), c.var.clone(), env.map(str::to_owned), meta, c.value.clone(), now);
    records.records.push(Record::encode(&secret));
    report.added.push(c.name.clone());
    Ok(())
}

/// `STRIPE_KEY` → `stripe_key`; leading underscores dropped (names start with a letter or digit).
fn import_name(var: &str) -> String {
    var.trim_start_matches('_').to_ascii_lowercase()
}

fn read_input(file: &str) -> Result<(Zeroizing<String>, String)> {
    let (reader, source): (Box<dyn Read>, String) = if file == "-" {
        (Box::new(std::io::stdin().lock()), "standard input".into())
    } else {
        let f = std::fs::File::open(file).map_err(|e| Error::io("cannot read", file, e))?;
        (Box::new(f), file.to_owned())
    };
    let mut bytes = Zeroizing::new(Vec::new());
    reader.take(MAX_INPUT + 1).read_to_end(&mut bytes).map_err(|e| Error::io("cannot read", &source, e))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(Error::invalid("input", source, "it is larger than 16 MiB"));
    }
    let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
        let mut b = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut b);
        Error::invalid("input", source.clone(), "it is not UTF-8 text")
    })?;
    Ok((Zeroizing::new(text), source))
}

fn parse_json(text: &str, source: &str) -> Result<Vec<(String, Zeroizing<String>, usize)>> {
    use dotenv::JsonError;
    let entries = dotenv::parse_json(text).map_err(|e| match e {
        JsonError::Syntax { line } => {
            Error::invalid("JSON", format!("{source}, line {line}"), "it is not a JSON object of strings")
        }
        JsonError::NotAnObject => Error::invalid("JSON", source, "expected one object of VARIABLE: \"value\" pairs"),
        JsonError::NotAString { key } => {
            Error::invalid("JSON", format!("{source}, key {key:?}"), "every value must be a string")
        }
    })?;
    Ok(entries.into_iter().map(|e| (e.var, e.value, e.line)).collect())
}

fn print(report: &Report, dry_run: bool, ctx: &Context) {
    if ctx.out.json {
        ctx.out.json(&json!({"dry_run": dry_run, "added": report.added, "overwritten": report.overwritten, "skipped": report.skipped, "rejected": report.rejected}));
        return;
    }
    let would = if dry_run { "would be " } else { "" };
    for (what, names) in
        [("added", &report.added), ("overwritten", &report.overwritten), ("skipped (exists)", &report.skipped)]
    {
        if !names.is_empty() {
            ctx.out.done(&format!("{would}{what}: {}", sanitize(&names.join(", "))));
        }
    }
    for r in &report.rejected {
        ctx.out.warn(&format!("rejected {} (line {}): {}", sanitize(&r.var), r.line, sanitize(&r.reason)));
    }
    ctx.out.done(&format!(
        "{} added, {} overwritten, {} skipped, {} rejected{}",
        report.added.len(),
        report.overwritten.len(),
        report.skipped.len(),
        report.rejected.len(),
        if dry_run { " (dry run: nothing stored)" } else { "" }
    ));
}
