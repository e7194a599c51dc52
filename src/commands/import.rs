//! `keyward import`: secrets from a .env file or a JSON object, or from the tools people come
//! from (pass, dotenvx, 1Password). Names come from the variables (`STRIPE_KEY` →
//! `stripe_key`), entry paths or item titles. A malformed line stops the import before anything
//! is stored.

use std::io::Read;

use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::{ImportFileArgs as ImportArgs, ImportFormat, ImportFrom};
use crate::config::Config;
use crate::context::Context;
use crate::dotenv;
use crate::error::{Error, Result};
use crate::input;
use crate::interop::{self, dotenvx, onepassword, pass};
use crate::output::sanitize;
use crate::parse;
use crate::providers::Registry;
use crate::rotation;
use crate::sensitive::SecretValue;
use crate::vault::payload::{Record, Records};
use crate::vault::secret::{Metadata, Secret, default_var, ext, validate_name, validate_var};

const MAX_INPUT: u64 = 16 * 1024 * 1024;
/// A `.1pux` is a zip that may carry attachments: it may be larger than a text file.
const MAX_1PUX: u64 = 256 * 1024 * 1024;

struct Candidate {
    var: String,
    name: String,
    value: SecretValue,
    line: usize,
    note: Option<String>,
    tags: Vec<String>,
    expires: Option<i64>,
}

#[derive(Serialize, Default)]
struct Report {
    added: Vec<String>,
    overwritten: Vec<String>,
    skipped: Vec<String>,
    rejected: Vec<Rejected>,
    #[serde(skip_serializing_if = "Option::is_none")]
    left_out: Option<String>,
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
    if let Some(id) = &args.provider
        && config.registry().get(id).is_none()
    {
        return Err(Error::UnknownProvider { id: id.clone() });
    }
    let mut report = Report::default();
    let (candidates, plaintext_file) = match args.from {
        Some(ImportFrom::Pass) => (from_pass(&args, &config, &mut report)?, None),
        Some(ImportFrom::Dotenvx) => (from_dotenvx(&args, &config, &mut report)?, None),
        Some(ImportFrom::Onepassword) => {
            let file = required_file(&args, "a 1Password export (.1pux or .csv)")?;
            (from_onepassword(file, &args, &config, &mut report)?, Some(file))
        }
        None => {
            let file = args.file.as_deref().unwrap_or("-");
            let (text, source) = read_text(file)?;
            let json = args.format == Some(ImportFormat::Json) || (args.format.is_none() && file.ends_with(".json"));
            let entries = if json { parse_json(&text, &source)? } else { parse_dotenv(&text, &source)? };
            (from_vars(entries, &args, &config, &mut report), (file != "-").then_some(file))
        }
    };
    store(&candidates, report, &args, env.as_deref(), &config, ctx)?;
    if let Some(file) = plaintext_file
        && !args.dry_run
    {
        remove_source(file, args.remove_source, ctx)?;
    }
    Ok(Outcome::Success)
}

fn required_file<'a>(args: &'a ImportArgs, what: &str) -> Result<&'a str> {
    match args.file.as_deref() {
        Some("-") => Err(Error::Usage(format!("{what} is read from a file, not standard input"))),
        Some(f) => Ok(f),
        None => Err(Error::Usage(format!("name the file: {what}"))),
    }
}

fn parse_dotenv(text: &str, source: &str) -> Result<Vec<(String, Zeroizing<String>, usize)>> {
    Ok(dotenv::parse(text)
        .map_err(|e| Error::invalid("line", format!("{source}, line {}", e.line), e.reason))?
        .into_iter()
        .map(|e| (e.var, e.value, e.line))
        .collect())
}

/// Candidates from `VARIABLE=value` pairs: the variable is kept, the name derived from it.
fn from_vars(
    entries: Vec<(String, Zeroizing<String>, usize)>,
    args: &ImportArgs,
    config: &Config,
    report: &mut Report,
) -> Vec<Candidate> {
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
        } else if let Err(reason) = check_value(&value) {
            report.rejected.push(reject(reason));
        } else {
            // A later line for the same variable wins, as dotenv loaders do.
            candidates.retain(|c| c.var != var);
            candidates.push(Candidate {
                var,
                name,
                value: SecretValue::new(value.to_string()),
                line,
                note: None,
                tags: Vec::new(),
                expires: None,
            });
        }
    }
    candidates
}

fn check_value(value: &str) -> std::result::Result<(), &'static str> {
    if value.is_empty() {
        Err("the value is empty")
    } else if value.len() > SecretValue::MAX_LEN {
        Err("the value is larger than 64 KiB")
    } else {
        Ok(())
    }
}

/// Candidates from items with a name of their own (a pass entry's path, a 1Password title).
fn from_named(
    items: Vec<interop::Item>,
    to_name: fn(&str) -> String,
    args: &ImportArgs,
    config: &Config,
    report: &mut Report,
) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = Vec::new();
    for item in items {
        let name = to_name(&item.label);
        let reject = |reason: String| Rejected { var: item.label.clone(), line: item.line, reason };
        let var = default_var(&name);
        if let Err(reason) = validate_name(&name) {
            report.rejected.push(reject(format!("{name:?} is not a valid secret name: {reason}")));
        } else if let Some(first) = candidates.iter().find(|c| c.name == name) {
            report
                .rejected
                .push(reject(format!("its name {name} is taken by the item at {} (rename one)", first.line)));
        } else if let Err(e) = config.check_startup_var(&var, &args.allow_vars, "store") {
            report.rejected.push(reject(format!("{e} (--allow-var {var})")));
        } else if let Err(reason) = check_value(&item.value) {
            report.rejected.push(reject(reason.into()));
        } else {
            let tags = item.tags.iter().filter_map(|t| import_tag(t)).collect();
            candidates.push(Candidate {
                var,
                name,
                value: SecretValue::new(item.value.to_string()),
                line: item.line,
                note: item.note,
                tags,
                expires: item.expires,
            });
        }
    }
    candidates
}

/// A tag as keyward keeps them (one word, at most 64 characters), or `None`.
fn import_tag(tag: &str) -> Option<String> {
    let tag: String = tag.split_whitespace().collect::<Vec<_>>().join("-");
    parse::text(&tag, 64).ok().filter(|t| !t.is_empty())
}

/// A title as a secret name: lower case, every run of other characters one `-`, and `/`
/// kept as the separator keyward's names use (`Stripe / Live` → `stripe/live`).
fn name_from_title(title: &str) -> String {
    let segments = title.split('/').map(|segment| {
        let mut name = String::new();
        for c in segment.trim().chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') {
                name.push(c);
            } else if !name.ends_with('-') {
                name.push('-');
            }
        }
        name.trim_matches(['-', '.', '_']).to_owned()
    });
    segments.filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/")
}

/// Stores the candidates in one write (all or nothing), or only reports with --dry-run.
fn store(
    candidates: &[Candidate],
    mut report: Report,
    args: &ImportArgs,
    env: Option<&str>,
    config: &Config,
    ctx: &Context,
) -> Result<()> {
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
    Ok(())
}

/// `import --from pass [DIR]`: every `*.gpg` entry of a password store, decrypted by `gpg` (the
/// user's own keys and agent, GNUPGHOME respected). An entry's path is the name, its first line
/// the value, the lines after it the note. Symbolic links in the store are not followed (a store
/// can be a checked-out repository).
fn from_pass(args: &ImportArgs, config: &Config, report: &mut Report) -> Result<Vec<Candidate>> {
    let dir = match &args.file {
        Some(d) => std::path::PathBuf::from(d),
        None => pass::default_store()?,
    };
    pass::check_store(&dir)?;
    let entries = pass::entries(&dir)?;
    let mut items = Vec::new();
    for (i, (name, file)) in entries.into_iter().enumerate() {
        let line = i + 1;
        let reject = |reason: String| Rejected { var: name.clone(), line, reason };
        if let Err(reason) = validate_name(&name) {
            report.rejected.push(reject(format!("{name:?} is not a valid secret name: {reason}")));
            continue;
        }
        let plain = match pass::decrypt(&file) {
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
        let note = rest.trim();
        items.push(interop::Item {
            line,
            label: name.clone(),
            value: Zeroizing::new(value.to_owned()),
            note: (!note.is_empty()).then(|| note.to_owned()),
            tags: Vec::new(),
            expires: None,
        });
    }
    Ok(from_named(items, str::to_owned, args, config, report))
}

/// `import --from dotenvx FILE`: the file's `encrypted:` values decrypted with the private key
/// named after its `DOTENV_PUBLIC_KEY*` line, taken from the environment or else from the
/// `.env.keys` beside the file (where dotenvx looks). Plain values are imported as they are.
fn from_dotenvx(args: &ImportArgs, config: &Config, report: &mut Report) -> Result<Vec<Candidate>> {
    let file = required_file(args, "an encrypted .env file")?;
    let (text, source) = read_text(file)?;
    let entries = parse_dotenv(&text, &source)?;
    let (public, entries): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(var, _, _)| dotenvx::private_key_var(var).is_some());
    let key_vars: Vec<String> = public.iter().filter_map(|(var, _, _)| dotenvx::private_key_var(var)).collect();
    let needs_key = entries.iter().any(|(_, v, _)| v.starts_with(dotenvx::PREFIX));
    let keys = dotenvx_keys(std::path::Path::new(file), &key_vars)?;
    if needs_key && keys.is_empty() {
        let wanted = key_vars.first().map_or("DOTENV_PRIVATE_KEY", String::as_str);
        return Err(Error::invalid(
            "dotenvx key",
            wanted,
            "it is neither in the environment nor in a .env.keys beside the file",
        ));
    }
    let matches = |public: &str| keys.iter().any(|k| k.public_hex().eq_ignore_ascii_case(public.trim()));
    if !keys.is_empty() && !public.is_empty() && !public.iter().any(|(_, p, _)| matches(p)) {
        return Err(Error::invalid(
            "dotenvx key",
            &source,
            "the private key does not match the file's DOTENV_PUBLIC_KEY",
        ));
    }
    let mut decrypted = Vec::new();
    for (var, value, line) in entries {
        if !value.starts_with(dotenvx::PREFIX) {
            decrypted.push((var, value, line));
            continue;
        }
        match dotenvx::decrypt_with_any(&keys, &value) {
            Ok(plain) => decrypted.push((var, plain, line)),
            Err(e) => report.rejected.push(Rejected { var, line, reason: e.to_string() }),
        }
    }
    Ok(from_vars(decrypted, args, config, report))
}

/// The private keys for `vars`: the environment first, then `.env.keys` beside `file`.
fn dotenvx_keys(file: &std::path::Path, vars: &[String]) -> Result<Vec<dotenvx::PrivateKey>> {
    let keys_file = file.parent().unwrap_or(std::path::Path::new(".")).join(".env.keys");
    let from_file = match std::fs::metadata(&keys_file) {
        Ok(_) => {
            let (text, source) = read_text(&keys_file.to_string_lossy())?;
            parse_dotenv(&text, &source)?
        }
        Err(_) => Vec::new(),
    };
    let mut keys = Vec::new();
    for var in vars {
        let value = match std::env::var(var) {
            Ok(v) if !v.is_empty() => Zeroizing::new(v),
            _ => match from_file.iter().find(|(v, _, _)| v == var) {
                Some((_, value, _)) => value.clone(),
                None => continue,
            },
        };
        for hex in value.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            keys.push(
                dotenvx::PrivateKey::from_hex(hex).map_err(|e| Error::invalid("dotenvx key", var, e.to_string()))?,
            );
        }
    }
    Ok(keys)
}

/// `import --from 1password FILE`: a `.1pux` (by its zip signature) or a CSV export.
fn from_onepassword(file: &str, args: &ImportArgs, config: &Config, report: &mut Report) -> Result<Vec<Candidate>> {
    let bytes = read_bytes(file, MAX_1PUX)?;
    let items = if bytes.starts_with(b"PK\x03\x04") {
        let (items, left_out) =
            onepassword::from_1pux(&bytes).map_err(|e| Error::invalid("1Password export", file, e.to_string()))?;
        if left_out.archived + left_out.other_categories > 0 {
            report.left_out = Some(format!(
                "{} archived or deleted items and {} items of other categories (cards, notes, identities…) left out",
                left_out.archived, left_out.other_categories
            ));
        }
        items
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::invalid("1Password export", file, "it is neither a .1pux nor CSV text"))?;
        onepassword::from_csv(text).map_err(|e| Error::invalid("1Password export", file, e.to_string()))?
    };
    Ok(from_named(items, name_from_title, args, config, report))
}

/// After a plaintext file was imported: overwrite and delete it when asked (`--remove-source`,
/// or yes on a terminal), else say that it still holds the values.
fn remove_source(file: &str, remove: bool, ctx: &Context) -> Result<()> {
    let path = std::path::Path::new(file);
    const CAVEAT: &str =
        "overwriting is no guarantee on copy-on-write or journaled file systems, SSDs, or for copies elsewhere";
    let remove = remove
        || (input::can_prompt() && input::confirm(&format!("Overwrite and delete {} ({CAVEAT})?", path.display()))?);
    if remove {
        crate::files::overwrite_and_remove(path).map_err(|e| Error::io("cannot remove", path, e))?;
        ctx.out.done(&format!("overwrote and deleted {} ({CAVEAT})", sanitize(&path.display().to_string())));
    } else {
        ctx.out.notice(&format!(
            "{} still holds the values in plain text: delete it (--remove-source overwrites it first)",
            sanitize(&path.display().to_string())
        ));
    }
    Ok(())
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
    meta.tags = c.tags.clone();
    meta.expires = c.expires;
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

/// A file (or `-`, standard input) whole, at most `max` bytes, into a wiped buffer.
fn read_bytes(file: &str, max: u64) -> Result<Zeroizing<Vec<u8>>> {
    let (reader, source): (Box<dyn Read>, &str) = if file == "-" {
        (Box::new(std::io::stdin().lock()), "standard input")
    } else {
        (Box::new(std::fs::File::open(file).map_err(|e| Error::io("cannot read", file, e))?), file)
    };
    let mut bytes = Zeroizing::new(Vec::new());
    reader.take(max + 1).read_to_end(&mut bytes).map_err(|e| Error::io("cannot read", source, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::invalid("input", source, format!("it is larger than {} MiB", max >> 20)));
    }
    Ok(bytes)
}

fn read_text(file: &str) -> Result<(Zeroizing<String>, String)> {
    let source = if file == "-" { "standard input".to_owned() } else { file.to_owned() };
    let mut bytes = read_bytes(file, MAX_INPUT)?;
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
        ctx.out.json(&json!({"dry_run": dry_run, "added": report.added, "overwritten": report.overwritten, "skipped": report.skipped, "rejected": report.rejected, "left_out": report.left_out}));
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
    if let Some(left_out) = &report.left_out {
        ctx.out.notice(left_out);
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

#[cfg(test)]
mod tests {
    #[test]
    fn titles_become_names() {
        for (title, name) in [
            ("Stripe live key", "stripe-live-key"),
            ("Stripe / Live", "stripe/live"),
            ("  GitHub (CI) token! ", "github-ci-token"),
            ("h/quotes", "h/quotes"),
            ("Clé API", "cl-api"),
            ("///", ""),
        ] {
            assert_eq!(super::name_from_title(title), name, "{title}");
        }
    }
}
