//! `keyward inject`: render a template, replacing `{{ keyward:NAME }}` with values.

use std::borrow::Cow;
use std::io::Read;

use crate::Outcome;
use crate::cli::InjectArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::template::{self, TemplateError};
use crate::vault::secret::VersionSelector;

/// Templates are config files, not data sets.
const MAX_TEMPLATE: u64 = 16 * 1024 * 1024;

pub(super) fn run(args: InjectArgs, ctx: &Context) -> Result<Outcome> {
    let (text, source) = match &args.input {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
            (read_text(file, &path.display().to_string())?, path.display().to_string())
        }
        None => (read_text(std::io::stdin().lock(), "standard input")?, "standard input".to_owned()),
    };
    // Check the template's shape before unlocking, so a typo never waits on a prompt.
    let references = template::references(&text).map_err(|e| template_error(&source, e))?;
    let vault = ctx.open()?;
    // References to remote stores: read there first (concurrently); values wiped on drop.
    let remote: Vec<&str> = references.iter().filter(|r| r.version == template::REMOTE).map(|r| r.name).collect();
    let read = crate::remote::parallel(&remote, crate::remote::CONCURRENCY, |text| {
        let reference = crate::remote::reference::Reference::parse(text).and_then(std::result::Result::ok);
        let reference = reference.expect("checked by template::references");
        reference.resolve().map_err(|error| Error::Remote { remote: (*text).to_owned(), error })
    });
    let mut remote_values = std::collections::BTreeMap::new();
    for (text, value) in remote.iter().zip(read) {
        remote_values.insert(*text, value?);
    }
    let mut failure: Option<Error> = None;
    let rendered = template::render(&text, |name, version| {
        if version == template::REMOTE {
            return remote_values.get(name).map(|v| Cow::Borrowed(v.expose()));
        }
        let selector: VersionSelector = version.parse().ok()?;
        match vault.find(name) {
            Ok(secret) => {
                let secret = secret?;
                super::grace_notice(&secret, ctx);
                match secret.usable(selector, ctx.now) {
                    Ok(v) => Some(Cow::Owned(v.value.expose().to_owned())),
                    // A revoked value is refused, not reported as unknown.
                    Err(e @ (Error::Revoked { .. } | Error::GraceEnded { .. })) => {
                        failure = Some(e);
                        None
                    }
                    Err(_) => None,
                }
            }
            Err(e) => {
                failure = Some(e);
                None
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let rendered = rendered.map_err(|e| template_error(&source, e))?;
    let names: Vec<&str> =
        template::references(&text).map(|r| r.into_iter().map(|r| r.name).collect()).unwrap_or_default();
    ctx.audit(crate::audit::Event::new("inject").details(serde_json::json!({"secrets": names})), false)?;
    match &args.output {
        Some(path) => {
            crate::files::write_atomic(path, rendered.as_bytes())?;
            ctx.out.notice(&format!("wrote {} (mode 0600)", path.display()));
        }
        None => ctx.out.write_unbuffered(rendered.as_bytes()),
    }
    Ok(Outcome::Success)
}

fn read_text(reader: impl Read, what: &str) -> Result<String> {
    let mut text = String::new();
    reader.take(MAX_TEMPLATE + 1).read_to_string(&mut text).map_err(|e| Error::io("cannot read", what, e))?;
    if text.len() as u64 > MAX_TEMPLATE {
        return Err(Error::invalid("template", what, "it is larger than 16 MiB"));
    }
    Ok(text)
}

fn template_error(source: &str, e: TemplateError) -> Error {
    match e {
        TemplateError::Malformed { line, reason } => {
            Error::invalid("template", format!("{source}, line {line}"), reason)
        }
        TemplateError::Unknown { line, name, version } => {
            Error::UnknownReference { place: format!("{source}, line {line}"), name, version }
        }
    }
}
