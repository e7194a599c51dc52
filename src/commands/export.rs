//! `keyward export`: secrets as environment variables in the forms CI systems read.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::{ExportArgs, ExportFormat};
use crate::config::Config;
use crate::context::Context;
use crate::dotenv;
use crate::error::{Error, Result};
use crate::input;
use crate::interop::pass;
use crate::parse;
use crate::selection::{self, Injected};
use crate::vault::secret::Secret;
use crate::vault::secret::check_name;

pub(super) fn run(args: ExportArgs, ctx: &Context) -> Result<Outcome> {
    let env = args.env.as_deref().map(|e| parse::environment(e).map_err(|r| Error::invalid("environment", e, r)));
    let env = env.transpose()?;
    for name in &args.only {
        check_name(name)?;
    }
    // --json is --format json; with another format it is a contradiction.
    let format = match (args.format, ctx.out.json) {
        (None, false) => ExportFormat::Dotenv,
        (None | Some(ExportFormat::Json), true) => ExportFormat::Json,
        (Some(f), false) => f,
        (Some(_), true) => {
            return Err(Error::Usage("--json prints JSON: drop it, or drop --format".into()));
        }
    };
    if args.dir.is_some() && format != ExportFormat::Pass {
        return Err(Error::Usage("a directory is only for --format pass (the password store)".into()));
    }
    let github_env = std::env::var_os("GITHUB_ENV").filter(|p| !p.is_empty());
    // Values on a terminal are values on screen (::add-mask:: lines included): ask first. A
    // password store is written by gpg, not shown.
    let to_screen = ctx.out.stdout_tty && format != ExportFormat::Pass;
    if to_screen && !args.yes {
        if !input::can_prompt() {
            return Err(Error::NeedsTerminal {
                what: "printing secret values to a terminal",
                hint: "add --yes, or redirect the output to a file or a pipe",
            });
        }
        if !input::confirm("Print secret values to this terminal?")? {
            ctx.out.notice("nothing printed");
            return Ok(Outcome::Declined);
        }
    }
    let vault = ctx.open()?;
    let config = Config::load()?;
    let registry = config.registry();
    let secrets = selection::select(&vault, &args.only, env.as_deref())?;
    if !args.allow_env_mismatch {
        selection::check_environment(&secrets, env.as_deref(), registry)?;
    }
    let values = selection::current_values(&secrets, &config, &args.allow_vars, !args.only.is_empty())?;
    if let Some(warning) = selection::left_out_warning(&values.left_out) {
        ctx.out.warn(&warning);
    }
    let values = values.injected;
    for s in &secrets {
        super::grace_notice(s, ctx);
    }

    let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
    let store = match (format, &args.dir) {
        (ExportFormat::Pass, Some(dir)) => Some(dir.clone()),
        (ExportFormat::Pass, None) => Some(pass::default_store()?),
        _ => None,
    };
    if let Some(store) = &store {
        pass::check_store(store)?;
    }
    // A password store's entries are encrypted before anything is recorded or written.
    let prepared = match &store {
        Some(store) => prepare_pass(store, &values, &secrets, ctx)?,
        None => Vec::new(),
    };
    let format_name = format!("{format:?}").to_ascii_lowercase();
    ctx.audit(
        crate::audit::Event::new("export").details(serde_json::json!({"secrets": names, "format": format_name})),
        false,
    )?;
    // Sized once for the longest form (shell quoting turns `'` into four bytes, GitHub's mask
    // lines repeat each line of a value), so the buffer never reallocates behind a copy.
    let room: usize = values.iter().map(|v| 6 * v.value.len() + 2 * v.var.len() + 128).sum();
    let mut out = Zeroizing::new(Vec::with_capacity(room + 256));
    match format {
        ExportFormat::Dotenv => {
            for v in &values {
                line(&mut out, &[&v.var, "=", &dotenv::quote(v.value.expose())]);
            }
        }
        ExportFormat::Shell => {
            for v in &values {
                line(&mut out, &["export ", &v.var, "=", &dotenv::shell_quote(v.value.expose())]);
            }
        }
        ExportFormat::Json => {
            let map: Map<String, Value> =
                values.iter().map(|v| (v.var.clone(), Value::String(v.value.expose().to_owned()))).collect();
            serde_json::to_writer_pretty(&mut *out, &map).expect("writing JSON to memory cannot fail");
            out.push(b'\n');
        }
        ExportFormat::Github => github(&values, github_env.as_deref(), &mut out)?,
        ExportFormat::Pass => {
            let store = store.as_deref().expect("the store was chosen above");
            finish_pass(store, &prepared, ctx)?;
        }
        ExportFormat::OnepasswordCsv => {
            // Every field may be quoted with every quote doubled: twice each, plus the commas,
            // quotes and line end of a row. Sized once, so no copy of a value is left behind.
            let size: usize = values
                .iter()
                .map(|v| {
                    let meta = secrets.iter().find(|s| s.name == v.name).map(|s| &s.body.meta);
                    let note = meta.and_then(|m| m.note.as_ref()).map_or(0, String::len);
                    let tags: usize = meta.map_or(0, |m| m.tags.iter().map(|t| t.len() + 1).sum());
                    2 * (v.name.len() + v.value.len() + note + tags) + 48
                })
                .sum();
            out.reserve_exact(size + 128);
            let items: Vec<(&str, &str, &str, &[String])> = values
                .iter()
                .map(|v| {
                    let meta = secrets.iter().find(|s| s.name == v.name).map(|s| &s.body.meta);
                    let note = meta.and_then(|m| m.note.as_deref()).unwrap_or("");
                    (v.name.as_str(), v.value.expose(), note, meta.map_or(&[][..], |m| &m.tags[..]))
                })
                .collect();
            crate::interop::onepassword::write_csv(&mut out, &items);
        }
        ExportFormat::Gitlab => {
            ctx.out.warn("GitLab stores dotenv reports as job artifacts: these values will be kept with the job");
            for v in &values {
                if v.value.expose().contains(['\n', '\r']) {
                    ctx.out.warn(&format!(
                        "{} is not exported: GitLab dotenv reports cannot hold multi-line values",
                        v.var
                    ));
                    continue;
                }
                line(&mut out, &[&v.var, "=", v.value.expose()]);
            }
        }
    }
    ctx.out.write_unbuffered(&out);
    Ok(Outcome::Success)
}

/// One entry per secret, as `pass` reads them: the value on the first line, the note after it.
/// A multi-line value is the whole entry (pass shows it all; `pass -c` copies its first line).
/// Every entry is encrypted first ([`finish_pass`] writes them): all or nothing.
fn prepare_pass(
    store: &std::path::Path,
    values: &[Injected],
    secrets: &[Secret],
    ctx: &Context,
) -> Result<Vec<pass::Prepared>> {
    let mut prepared = Vec::with_capacity(values.len());
    for v in values {
        let note = secrets.iter().find(|s| s.name == v.name).and_then(|s| s.body.meta.note.as_deref());
        let value = v.value.expose();
        let mut entry = Zeroizing::new(Vec::with_capacity(value.len() + note.map_or(0, str::len) + 2));
        entry.extend_from_slice(value.as_bytes());
        entry.push(b'\n');
        let multi_line = value.contains('\n');
        match note {
            Some(note) if !multi_line => {
                entry.extend_from_slice(note.as_bytes());
                entry.push(b'\n');
            }
            Some(_) => {
                ctx.out.warn(&format!("{}: a multi-line value is the whole entry; its note is not exported", v.name));
            }
            None => {}
        }
        if multi_line && !value.starts_with("-----BEGIN ") {
            ctx.out.warn(&format!(
                "{}: pass tools read the first line of an entry as the password; this value has several",
                v.name
            ));
        }
        prepared.push(pass::prepare(store, &v.name, &entry)?);
    }
    Ok(prepared)
}

fn finish_pass(store: &std::path::Path, prepared: &[pass::Prepared], ctx: &Context) -> Result<()> {
    pass::write_all(prepared)?;
    let mut recipients: Vec<&str> = prepared.iter().flat_map(|p| p.recipients.iter().map(String::as_str)).collect();
    recipients.sort_unstable();
    recipients.dedup();
    ctx.out.done(&format!(
        "exported {} secrets to the password store {}, encrypted to {}",
        prepared.len(),
        crate::output::sanitize(&store.display().to_string()),
        crate::output::sanitize(&recipients.join(", "))
    ));
    if store.join(".git").exists() {
        ctx.out.notice(
            "the store is a git repository: commit with `pass git add -A && pass git commit -m 'from keyward'`",
        );
    }
    Ok(())
}

fn line(out: &mut Vec<u8>, parts: &[&str]) {
    for p in parts {
        out.extend_from_slice(p.as_bytes());
    }
    out.push(b'\n');
}

/// GitHub Actions: `::add-mask::` for each value and each of its lines (on standard output, where
/// the runner reads workflow commands), then `NAME<<DELIMITER` blocks appended to `$GITHUB_ENV`
/// (or printed, outside a runner).
fn github(values: &[Injected], github_env: Option<&std::ffi::OsStr>, out: &mut Vec<u8>) -> Result<()> {
    let mut env_file = Zeroizing::new(Vec::new());
    for v in values {
        let value = v.value.expose();
        let lines = value.split(['\n', '\r']).filter(|l| !l.is_empty() && *l != value);
        for masked in std::iter::once(value).chain(lines) {
            line(out, &["::add-mask::", &escape_workflow_data(masked)]);
        }
        let delimiter = loop {
            let d = format!("ghadelimiter_{}", data_encoding::HEXLOWER.encode(&crate::vault::crypto::random::<16>()));
            if !value.contains(&d) {
                break d;
            }
        };
        line(&mut env_file, &[&v.var, "<<", &delimiter]);
        line(&mut env_file, &[value]);
        line(&mut env_file, &[&delimiter]);
    }
    match github_env {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::io("cannot open", path, e))?;
            file.write_all(&env_file).and_then(|()| file.flush()).map_err(|e| Error::io("cannot write", path, e))?;
        }
        None => out.extend_from_slice(&env_file),
    }
    Ok(())
}

/// Workflow-command data escaping: `%`, CR and LF.
fn escape_workflow_data(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A"))
}
