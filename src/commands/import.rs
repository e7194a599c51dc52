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
/// Notes other tools kept are longer than `--note` allows (1,000 bytes); beyond this they are cut.
const MAX_NOTE: usize = 4096;
const MAX_1PUX: u64 = 128 * 1024 * 1024;

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
    /// What the source held that was not imported and is not a rejection (archived items,
    /// other categories, one-time-password seeds, shortened notes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    left_out: Vec<String>,
    /// Of `skipped`, those whose value is already the vault's: nothing of theirs is lost if the
    /// source goes.
    #[serde(skip)]
    skipped_same: usize,
}

impl Report {
    /// Whether everything the source held is now in the vault: only then may it be deleted.
    fn source_is_redundant(&self) -> Option<String> {
        let mut why = Vec::new();
        if !self.rejected.is_empty() {
            why.push(format!("{} rejected", self.rejected.len()));
        }
        if self.skipped.len() > self.skipped_same {
            why.push(format!("{} skipped with another value than the vault's", self.skipped.len() - self.skipped_same));
        }
        if !self.left_out.is_empty() {
            why.push(self.left_out.join(", "));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
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
    if args.remove_source
        && (matches!(args.from, Some(ImportFrom::Pass | ImportFrom::Dotenvx))
            || args.file.as_deref().is_none_or(|f| f == "-"))
    {
        return Err(Error::Usage(
            "--remove-source is for a plaintext file (.env, JSON, a 1Password export), not standard input, a password store or an encrypted file".into(),
        ));
    }
    if args.remove_source
        && let Some(file) = args.file.as_deref()
    {
        // Checked before anything is stored: a link or a FIFO would fail only after the import.
        let meta = std::fs::symlink_metadata(file).map_err(|e| Error::io("cannot read", file, e))?;
        if !meta.file_type().is_file() {
            return Err(Error::invalid(
                "--remove-source",
                file,
                "it is not a regular file (a link or a device): remove what it points to yourself",
            ));
        }
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
    let report = store(&candidates, report, &args, env.as_deref(), &config, ctx)?;
    if let Some(file) = plaintext_file
        && !args.dry_run
    {
        remove_source(file, args.remove_source, &report, ctx)?;
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
            let note = item.note.map(|mut note| {
                if note.len() > MAX_NOTE {
                    let mut cut = MAX_NOTE;
                    while !note.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    note.truncate(cut);
                    report.left_out.push(format!("the end of {}'s note (notes are kept to 4 KiB)", item.label));
                }
                note
            });
            candidates.push(Candidate {
                var,
                name,
                value: SecretValue::new(item.value.to_string()),
                line: item.line,
                note,
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
) -> Result<Report> {
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
    Ok(report)
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
        // A PEM block (a key, a certificate) is the whole entry, as `pass insert -m` keeps one
        // and `export --format pass` writes one; anything else is a password line and a note.
        let (value, rest) = if text.starts_with("-----BEGIN ") {
            (text.trim_end_matches(['\n', '\r']), "")
        } else {
            let (value, rest) = text.split_once('\n').unwrap_or((text, ""));
            (value.strip_suffix('\r').unwrap_or(value), rest)
        };
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
    // The key's name: from the file's public-key line, else from the file name, as dotenvx does.
    let mut key_vars: Vec<String> = public.iter().filter_map(|(var, _, _)| dotenvx::private_key_var(var)).collect();
    if key_vars.is_empty() {
        let file_name =
            std::path::Path::new(file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        key_vars.push(dotenvx::private_key_var_for_file(&file_name));
    }
    let needs_key = entries.iter().any(|(_, v, _)| v.starts_with(dotenvx::PREFIX));
    let keys = if needs_key { dotenvx_keys(std::path::Path::new(file), &key_vars)? } else { Vec::new() };
    if needs_key && keys.is_empty() {
        return Err(Error::invalid(
            "dotenvx key",
            &key_vars[0],
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
    // All or nothing: a value that does not decrypt stops the import.
    let mut decrypted = Vec::new();
    for (var, value, line) in entries {
        if !value.starts_with(dotenvx::PREFIX) {
            decrypted.push((var, value, line));
            continue;
        }
        let plain = dotenvx::decrypt_with_any(&keys, &value)
            .map_err(|e| Error::invalid("encrypted value", format!("{source}, line {line} ({var})"), e.to_string()))?;
        decrypted.push((var, plain, line));
    }
    Ok(from_vars(decrypted, args, config, report))
}

/// The private keys for `vars`: the environment first; `.env.keys` beside `file` (not through a
/// link, at most 64 KiB) only for what the environment does not give.
fn dotenvx_keys(file: &std::path::Path, vars: &[String]) -> Result<Vec<dotenvx::PrivateKey>> {
    let mut keys = Vec::new();
    let mut from_file: Option<Vec<(String, Zeroizing<String>, usize)>> = None;
    for var in vars {
        let value = match std::env::var(var) {
            Ok(v) if !v.is_empty() => Zeroizing::new(v),
            _ => {
                if from_file.is_none() {
                    from_file = Some(read_keys_file(file)?);
                }
                match from_file.as_ref().and_then(|f| f.iter().find(|(v, _, _)| v == var)) {
                    Some((_, value, _)) => value.clone(),
                    None => continue,
                }
            }
        };
        for hex in value.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            keys.push(
                dotenvx::PrivateKey::from_hex(hex).map_err(|e| Error::invalid("dotenvx key", var, e.to_string()))?,
            );
        }
    }
    Ok(keys)
}

fn read_keys_file(file: &std::path::Path) -> Result<Vec<(String, Zeroizing<String>, usize)>> {
    let path =
        file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).join(".env.keys");
    let f = match crate::files::open_read_nofollow(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("cannot read", &path, e)),
    };
    let meta = f.metadata().map_err(|e| Error::io("cannot read", &path, e))?;
    if !meta.is_file() || meta.len() > 64 * 1024 {
        return Err(Error::invalid(
            "dotenvx keys",
            path.display().to_string(),
            "it is not a regular file of at most 64 KiB",
        ));
    }
    let text =
        crate::sensitive::into_text(crate::sensitive::read_bounded(&mut { f }, 64 * 1024, "cannot read", &path)?)?;
    parse_dotenv(&text, &path.display().to_string())
}

/// `import --from 1password FILE`: a `.1pux` (by its zip signature) or a CSV export.
fn from_onepassword(file: &str, args: &ImportArgs, config: &Config, report: &mut Report) -> Result<Vec<Candidate>> {
    let bytes = read_bytes(file, MAX_1PUX)?;
    let items = if bytes.starts_with(b"PK\x03\x04") {
        let (items, left_out) =
            onepassword::from_1pux(&bytes).map_err(|e| Error::invalid("1Password export", file, e.to_string()))?;
        report.left_out.extend(left_out.describe());
        items
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::invalid("1Password export", file, "it is neither a .1pux nor CSV text"))?;
        let (items, left_out) =
            onepassword::from_csv(text).map_err(|e| Error::invalid("1Password export", file, e.to_string()))?;
        report.left_out.extend(left_out.describe());
        items
    };
    Ok(from_named(items, name_from_title, args, config, report))
}

/// After a plaintext file was imported: overwrite and delete it when asked (`--remove-source`,
/// or yes on a terminal), else say that it still holds the values.
fn remove_source(file: &str, remove: bool, report: &Report, ctx: &Context) -> Result<()> {
    const CAVEAT: &str =
        "overwriting is no guarantee on copy-on-write or journaled file systems, SSDs, or for copies elsewhere";
    let path = std::path::Path::new(file);
    let shown = sanitize(&path.display().to_string());
    if let Some(why) = report.source_is_redundant() {
        let verb = if remove { "not removed" } else { "kept" };
        ctx.out.warn(&format!("{shown} {verb}: it holds what the vault does not ({why})"));
        return Ok(());
    }
    let remove =
        remove || (input::can_prompt() && input::confirm(&format!("Overwrite and delete {shown} ({CAVEAT})?"))?);
    if remove {
        crate::files::overwrite_and_remove(path).map_err(|e| Error::io("cannot remove", path, e))?;
        ctx.out.done(&format!("overwrote and deleted {shown} ({CAVEAT})"));
    } else {
        ctx.out.notice(&format!(
            "{shown} still holds the values in plain text: delete it (--remove-source overwrites it first)"
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
        let mut secret = records.records[index].decode().map_err(|_| undecodable())?;
        let same = secret.current().is_some_and(|v| v.value == c.value);
        if !args.overwrite || same {
            report.skipped.push(c.name.clone());
            report.skipped_same += usize::from(same);
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

/// A file (or `-`, standard input) whole, at most `max` bytes, into a wiped buffer that never
/// reallocates behind a copy: a file's buffer is sized from its length; standard input grows
/// into a new wiped buffer each time.
fn read_bytes(file: &str, max: u64) -> Result<Zeroizing<Vec<u8>>> {
    let too_large = |source: &str| Error::invalid("input", source, format!("it is larger than {} MiB", max >> 20));
    if file != "-" {
        let f = std::fs::File::open(file).map_err(|e| Error::io("cannot read", file, e))?;
        let len = f.metadata().map_err(|e| Error::io("cannot read", file, e))?.len();
        if len > max {
            return Err(too_large(file));
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(len).unwrap_or(0) + 1));
        // `len + 1`: a file that grew meanwhile is read up to that and refused below.
        let mut limited = f.take(len + 1);
        while bytes.len() < bytes.capacity() {
            let start = bytes.len();
            let room = bytes.capacity() - start;
            bytes.resize(start + room, 0);
            let n = limited.read(&mut bytes[start..]).map_err(|e| Error::io("cannot read", file, e))?;
            bytes.truncate(start + n);
            if n == 0 {
                break;
            }
        }
        if bytes.len() as u64 > len {
            return Err(Error::invalid("input", file, "it changed while it was read"));
        }
        return Ok(bytes);
    }
    let mut stdin = std::io::stdin().lock();
    let mut bytes = Zeroizing::new(Vec::with_capacity(64 * 1024));
    loop {
        if bytes.len() == bytes.capacity() {
            if bytes.len() as u64 > max {
                return Err(too_large("standard input"));
            }
            let mut bigger = Zeroizing::new(Vec::with_capacity(bytes.capacity() * 2));
            bigger.extend_from_slice(&bytes);
            bytes = bigger;
        }
        let start = bytes.len();
        let room = bytes.capacity() - start;
        bytes.resize(start + room, 0);
        let n = stdin.read(&mut bytes[start..]).map_err(|e| Error::io("cannot read", "standard input", e))?;
        bytes.truncate(start + n);
        if n == 0 {
            break;
        }
    }
    if bytes.len() as u64 > max {
        return Err(too_large("standard input"));
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
    if !report.left_out.is_empty() {
        ctx.out.notice(&format!("left out: {}", report.left_out.join("; ")));
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
