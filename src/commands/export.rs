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
use crate::parse;
use crate::selection::{self, Injected};
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
    let github_env = std::env::var_os("GITHUB_ENV").filter(|p| !p.is_empty());
    // Values on a terminal are values on screen (::add-mask:: lines included): ask first.
    let to_screen = ctx.out.stdout_tty;
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
    let format_name = format!("{format:?}").to_ascii_lowercase();
    ctx.audit(
        crate::audit::Event::new("export").details(serde_json::json!({"secrets": names, "format": format_name})),
        false,
    )?;
    let mut out = Zeroizing::new(Vec::new());
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
