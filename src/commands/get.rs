//! `keyward get`: print a secret's value, byte for byte.

use serde::Serialize;
use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::GetArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::vault::secret::VersionSelector;

pub(super) fn run(args: GetArgs, ctx: &Context) -> Result<Outcome> {
    crate::vault::secret::check_name(&args.name)?;
    let selector: VersionSelector =
        args.version.parse().map_err(|reason: String| Error::invalid("version", &args.version, reason))?;
    let vault = ctx.open()?;
    let secret = vault.get(&args.name)?;
    let version = secret.usable(selector, ctx.now)?;

    // Recorded before the value leaves the process: no unaudited reads.
    let mut event = crate::audit::Event::new("get").secret(&secret.name);
    event.fingerprint = ctx.fingerprint(version.value.expose());
    ctx.audit(event.details(serde_json::json!({"version": version.id, "stage": version.stage.as_str()})), false)?;
    if crate::rotation::grace_notice(&secret, ctx.now).is_some() {
        super::grace_notice(&secret, ctx);
        super::notify_grace(&secret, ctx);
    }
    let value = version.value.expose();
    // Sized up front (JSON escaping at most sextuples a character) so the buffer never grows and
    // leaves copies of the value behind.
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 6 + 256));
    if ctx.out.json {
        #[derive(Serialize)]
        struct Shown<'a> {
            name: &'a str,
            version: u32,
            stage: &'a str,
            value: &'a str,
        }
        let shown = Shown { name: &secret.name, version: version.id, stage: version.stage.as_str(), value };
        serde_json::to_writer_pretty(&mut *out, &shown).expect("serializing into memory cannot fail");
        out.push(b'\n');
    } else {
        out.extend_from_slice(value.as_bytes());
        if !args.no_newline {
            out.push(b'\n');
        }
    }
    ctx.out.write_unbuffered(&out);
    Ok(Outcome::Success)
}
