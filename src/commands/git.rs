//! `keyward git setup|textconv`: a project vault that `git diff`, `git log -p` and `git show`
//! can read. `setup` registers the diff driver and marks `.keyward/*.kw` with it; `textconv`
//! is what git runs on each side of a diff: the vault as lines a person can review — members,
//! domains, and per secret its variable, metadata and versions — never a value or its base64.
//! It never prompts, never writes, and a domain this machine cannot open shows names and a short
//! tag of each sealed body only, so a change still shows as a changed line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Outcome;
use crate::cli::{GitCommand, GitResolveArgs, GitSetupArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::sanitize;
use crate::parse;
use crate::unlock::{self, Policy};
use crate::vault::v2::{members, text};
use crate::vault::{Locked, LockedFormat};

/// The `.gitattributes` line `setup` makes sure of.
const ATTRIBUTES: &str = ".keyward/*.kw diff=keyward merge=keyward";

pub(super) fn run(command: GitCommand, ctx: &Context) -> Result<Outcome> {
    match command {
        GitCommand::Setup(args) => setup(&args, ctx),
        GitCommand::Textconv { file } => textconv(&file, ctx),
        GitCommand::Resolve(args) => resolve(&args, ctx),
        GitCommand::MergeDriver { base, ours, theirs, path } => merge(&base, &ours, &theirs, path.as_deref(), ctx),
    }
}

/// git with the options that keep a repository's own config from running anything.
fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir).stdin(Stdio::null());
    c.args(["--no-pager", "-c", "core.fsmonitor=", "-c", "core.hooksPath=/dev/null"]);
    c
}

fn run_git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = git(dir).args(args).stderr(Stdio::piped()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Usage("`keyward git` needs the `git` program, and it is not on PATH".into())
        } else {
            Error::io("cannot run", Path::new("git"), e)
        }
    })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_owned();
        return Err(Error::Usage(format!("git {}: {}", args.first().copied().unwrap_or(""), sanitize(&why))));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// Registers the diff driver (idempotent: a second run changes nothing) and the attributes.
fn setup(args: &GitSetupArgs, ctx: &Context) -> Result<Outcome> {
    let here = std::env::current_dir().map_err(|e| Error::io("cannot read", Path::new("."), e))?;
    let top = run_git(&here, &["rev-parse", "--show-toplevel"]).ok().map(PathBuf::from);
    if top.is_none() && !args.global {
        return Err(Error::Usage("not inside a git repository: run it in the clone, or use --global".into()));
    }
    let scope = if args.global { "--global" } else { "--local" };
    let dir = top.clone().unwrap_or(here);
    let mut changed = Vec::new();
    let wanted = "keyward git textconv";
    let current = run_git(&dir, &["config", scope, "--get", "diff.keyward.textconv"]).unwrap_or_default();
    if current != wanted {
        run_git(&dir, &["config", scope, "diff.keyward.textconv", wanted])?;
        changed.push(format!("git config {scope} diff.keyward.textconv \"{wanted}\""));
    }
    // git may cache textconv output in the repository (notes): never for a vault's.
    let cache = run_git(&dir, &["config", scope, "--get", "diff.keyward.cachetextconv"]).unwrap_or_default();
    if cache != "false" {
        run_git(&dir, &["config", scope, "diff.keyward.cachetextconv", "false"])?;
        changed.push(format!("git config {scope} diff.keyward.cachetextconv false"));
    }
    for (key, wanted) in [
        ("merge.keyward.name", "keyward vault merge"),
        ("merge.keyward.driver", "keyward git merge-driver %O %A %B %P"),
    ] {
        if run_git(&dir, &["config", scope, "--get", key]).unwrap_or_default() != wanted {
            run_git(&dir, &["config", scope, key, wanted])?;
            changed.push(format!("git config {scope} {key} \"{wanted}\""));
        }
    }
    if let Some(top) = &top {
        if append_line(&top.join(".gitattributes"), ATTRIBUTES)? {
            changed.push(format!("{ATTRIBUTES} in .gitattributes"));
        }
        let keyward_dir = top.join(".keyward");
        // Not through a link: a repository decides what `.keyward` is.
        let real_dir = std::fs::symlink_metadata(&keyward_dir).is_ok_and(|m| m.file_type().is_dir());
        if real_dir && append_line(&keyward_dir.join(".gitignore"), "*.lock")? {
            changed.push("*.lock in .keyward/.gitignore".into());
        }
    }
    ctx.out.report(&serde_json::json!({"changed": changed}), || {
        if changed.is_empty() {
            "already set up: git diff shows the vault by secret".to_owned()
        } else {
            format!("set up: {}; commit .gitattributes so teammates get the same diffs", changed.join("; "))
        }
    });
    Ok(Outcome::Success)
}

/// Adds `line` to the text file at `path` unless a line equal to it is there; never rewrites
/// the others. Whether it added it.
fn append_line(path: &Path, line: &str) -> Result<bool> {
    // A regular file, or none: a FIFO or device planted there is refused, not waited on.
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_file()) {
        return Err(Error::invalid("file", path.display().to_string(), "it is not a regular file"));
    }
    let (text, exists) = match crate::files::read_nofollow(path) {
        Ok(bytes) => (
            String::from_utf8(bytes)
                .map_err(|_| Error::invalid("file", path.display().to_string(), "it is not text"))?,
            true,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), false),
        Err(e) => return Err(Error::io("cannot read", path, e)),
    };
    if text.lines().any(|l| l.trim() == line) {
        return Ok(false);
    }
    let mut new = text;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(line);
    new.push('\n');
    if exists {
        crate::files::replace_keeping_mode(path, new.as_bytes())?;
    } else {
        // Committed and read by everyone who clones: not a private file.
        crate::files::write_atomic_mode(path, new.as_bytes(), 0o644)?;
    }
    Ok(true)
}

/// A domain's name, generation, short key id, its wraps and vouches as lines, and its secrets'
/// name, variable and short tag.
type DomainLines = (String, u64, String, Vec<String>, Vec<(String, String, String)>);

/// The vault at `file` as reviewable lines, on standard output.
fn textconv(file: &Path, ctx: &Context) -> Result<Outcome> {
    let locked = Locked::read(file)?;
    let LockedFormat::V2(doc) = &locked.format else {
        ctx.out.write(b"keyward vault 1 (binary: `keyward key upgrade` makes it a text vault git can diff)\n");
        return Ok(Outcome::Success);
    };
    let mut out = String::new();
    let _ = writeln!(out, "keyward vault 2, id {}", data_encoding::HEXLOWER.encode(&doc.id));
    for (name, m) in members::roster(doc) {
        let slot = text::SlotName::parse(&name).map_or(name.clone(), |n| n.describe());
        let holds = if m.access == ["*"] { "every environment".to_owned() } else { m.access.join(", ") };
        let _ = writeln!(out, "{}: key {}, {holds}", sanitize(&slot), members::fingerprint(&m.recipient));
    }
    // Clear parts first, then what this machine can open (never prompting).
    let heads: Vec<DomainLines> = doc
        .domains
        .iter()
        .map(|d| {
            let lines = d
                .secrets
                .iter()
                .map(|s| {
                    let tag = data_encoding::HEXLOWER.encode(&s.tag[..4]);
                    (doc.secret_name(s).to_owned(), doc.secret_var(s).to_owned(), tag)
                })
                .collect();
            // Who each key is wrapped to (a short digest of the wrap: a re-pointed wrap shows),
            // and the vouches of its re-keys.
            let mut keys: Vec<String> = d
                .head
                .to
                .iter()
                .map(|w| {
                    let digest = <sha2::Sha256 as sha2::Digest>::digest(&w.age);
                    format!("  key wrapped for {}: {}", w.slot.describe(), data_encoding::HEXLOWER.encode(&digest[..4]))
                })
                .collect();
            keys.extend(d.head.vouches.iter().map(|v| format!("  vouched re-key to generation {}", v.generation)));
            (d.head.name.clone(), d.head.generation, data_encoding::HEXLOWER.encode(&d.head.key_id[..4]), keys, lines)
        })
        .collect();
    let opened = unlock::unlock(&locked, Policy { passphrase: false, kms: false }, &mut unlock::NoOne).ok();
    let vault = opened.and_then(|(_, o)| locked.open(o.key).ok());
    // Every secret this machine can read, decoded once (not a lookup per line).
    let readable_secrets: std::collections::HashMap<String, crate::vault::secret::Secret> = vault
        .as_ref()
        .and_then(|v| v.secrets().ok())
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    for (domain, generation, key_id, keys, lines) in heads {
        let readable = vault.as_ref().is_some_and(|v| v.v2().is_some_and(|v2| v2.holds(&domain)));
        let _ = writeln!(
            out,
            "[{domain}] generation {generation}, key {key_id}{}",
            if readable || lines.is_empty() { "" } else { " (this machine cannot open it)" }
        );
        for line in keys {
            let _ = writeln!(out, "{}", sanitize(&line));
        }
        for (name, var, tag) in lines {
            let secret = if readable { readable_secrets.get(&name) } else { None };
            match secret {
                Some(s) => {
                    let _ = writeln!(out, "{} {}: {}", sanitize(&name), sanitize(&var), describe(s));
                }
                None => {
                    let _ = writeln!(out, "{} {}: sealed {tag}", sanitize(&name), sanitize(&var));
                }
            }
        }
    }
    ctx.out.write(out.as_bytes());
    Ok(Outcome::Success)
}

/// A secret's metadata and versions on one line: never its value.
fn describe(s: &crate::vault::secret::Secret) -> String {
    let m = &s.body.meta;
    let mut parts = Vec::new();
    if let Some(p) = &m.provider {
        parts.push(format!("provider {p}"));
    }
    if let Some(e) = m.expires {
        parts.push(format!("expires {}", parse::time(e)));
    }
    match m.rotate_every {
        Some(r) => parts.push(format!("rotate every {}", parse::short_duration(r))),
        None => parts.push("never rotated".into()),
    }
    for (what, list) in
        [("scopes", &m.scopes), ("allow-ip", &m.allow_ips), ("allow-origin", &m.allow_origins), ("tags", &m.tags)]
    {
        if !list.is_empty() {
            parts.push(format!("{what} {}", list.join(",")));
        }
    }
    if let Some(r) = &m.rate_limit {
        parts.push(format!("rate limit {}/{}s", r.count, r.per_secs));
    }
    if let Some(n) = &m.note {
        parts.push(format!("note {n:?}"));
    }
    if let Some(c) = crate::vault::v2::merge::secret::Conflict::of(s) {
        parts.push(format!("merge conflict ({})", c.describe()));
    }
    let versions: Vec<String> = s
        .body
        .versions
        .iter()
        .rev()
        .map(|v| format!("v{} {} since {}", v.id, v.stage.as_str(), parse::time(v.stage_since)))
        .collect();
    parts.push(versions.join(", "));
    sanitize(&parts.join("; "))
}

/// One side of a merge: the parsed file.
fn side(path: &Path, what: &str) -> Result<text::Document> {
    let bytes = crate::files::read_nofollow(path).map_err(|e| Error::io("cannot read", path, e))?;
    text::parse_owned(bytes).map_err(|_| {
        Error::invalid("vault", format!("{what} ({})", path.display()), "not a format 2 vault this keyward reads")
    })
}

/// A side opened with whatever unlocks it here without asking; `None` when nothing does.
fn opened(path: &Path) -> Option<crate::vault::Vault> {
    let locked = Locked::read(path).ok()?;
    let (_, unlocked) = unlock::unlock(&locked, Policy { passphrase: false, kms: false }, &mut unlock::NoOne).ok()?;
    locked.open(unlocked.key).ok()
}

/// git's merge driver for a vault (`%O %A %B %P`): see [`crate::vault::v2::merge`]. Writes the
/// result over ours (`%A`), as git expects; a conflict is exit 1 with ours left in place.
fn merge(base: &Path, ours: &Path, theirs: &Path, shown: Option<&str>, ctx: &Context) -> Result<Outcome> {
    use crate::vault::v2::merge::{self, Keys, Merged};
    let shown = sanitize(shown.unwrap_or(".keyward/vault.kw"));
    let (base_doc, ours_doc, theirs_doc) =
        (side(base, "the common ancestor")?, side(ours, "ours")?, side(theirs, "theirs")?);
    let (was, mine, other) = (opened(base), opened(ours), opened(theirs));
    let keys = Keys {
        base: was.as_ref().and_then(crate::vault::Vault::v2),
        ours: mine.as_ref().and_then(crate::vault::Vault::v2),
        theirs: other.as_ref().and_then(crate::vault::Vault::v2),
        now: ctx.now,
    };
    match merge::merge(&base_doc, &ours_doc, &theirs_doc, &keys)? {
        Merged::Conflict(why) => {
            ctx.out.warn(&format!(
                "{shown}: cannot merge by secret: {why}; ours is left in place: keep one side (`git checkout --ours` or `--theirs`) and redo the other side's change with keyward"
            ));
            Ok(Outcome::ChecksFailed)
        }
        Merged::Text { text, resealed, conflicts } => {
            crate::files::replace_keeping_mode(ours, text.as_bytes())?;
            if !resealed.is_empty() {
                ctx.out.notice(&format!("{shown}: merged {} secret by secret", resealed.join(", ")));
            }
            if conflicts.is_empty() {
                return Ok(Outcome::Success);
            }
            for (name, why) in &conflicts {
                ctx.out.warn(&format!(
                    "{shown}: {} changed differently on both sides: {}",
                    sanitize(name),
                    sanitize(why)
                ));
            }
            let names: Vec<String> = conflicts.iter().map(|(n, _)| sanitize(n)).collect();
            ctx.out.warn(&format!(
                "{shown}: nothing is lost; finish with `keyward git resolve {} --ours` or `--theirs`, then commit",
                names.join(" ")
            ));
            Ok(Outcome::ChecksFailed)
        }
    }
}

/// `keyward git resolve`: lists the secrets a merge left in conflict, or finishes them by
/// keeping one side (see [`crate::vault::v2::merge::secret::resolve`]); stages the vault in
/// git once none is left.
fn resolve(args: &GitResolveArgs, ctx: &Context) -> Result<Outcome> {
    use crate::vault::v2::merge::secret::{self, Conflict, Side};
    let side = match (args.ours, args.theirs) {
        (true, _) => Some(Side::Ours),
        (_, true) => Some(Side::Theirs),
        _ => None,
    };
    let Some(side) = side else {
        if !args.names.is_empty() || args.all {
            return Err(Error::Usage("say which side to keep: --ours or --theirs".into()));
        }
        let vault = ctx.open()?;
        let secrets = vault.secrets()?;
        let found: Vec<(String, String)> =
            secrets.iter().filter_map(|s| Conflict::of(s).map(|c| (s.name.clone(), c.describe()))).collect();
        ctx.out.report(&serde_json::json!({"conflicts": found.iter().map(|(n, why)| serde_json::json!({"name": n, "why": why})).collect::<Vec<_>>()}), || {
            if found.is_empty() {
                "no secret is in conflict".to_owned()
            } else {
                found.iter().map(|(n, why)| format!("{}: {}", sanitize(n), sanitize(why))).collect::<Vec<_>>().join("\n")
            }
        });
        return Ok(if found.is_empty() { Outcome::Success } else { Outcome::ChecksFailed });
    };
    if args.names.is_empty() && !args.all {
        return Err(Error::Usage("name the secrets to finish, or use --all".into()));
    }
    for name in &args.names {
        crate::vault::secret::check_name(name)?;
    }
    let default_grace = crate::config::Config::load()?.grace;
    let now = ctx.now;
    let names: std::collections::BTreeSet<&str> = args.names.iter().map(String::as_str).collect();
    let (done, left, unreadable) = ctx.modify(|vault, _| {
        let mut records = vault.records()?;
        let mut done = std::collections::BTreeSet::new();
        let mut renamed = Vec::new();
        let mut kept = Vec::with_capacity(records.records.len());
        for record in std::mem::take(&mut records.records) {
            let wanted = args.all || names.contains(record.name.as_str());
            let secret = if wanted { record.decode().ok() } else { None };
            let Some(secret) = secret.filter(|s| Conflict::of(s).is_some()) else {
                kept.push(record);
                continue;
            };
            let grace = crate::rotation::grace_of(&secret, default_grace);
            let (name, var) = (secret.name.clone(), secret.var.clone());
            match secret::resolve(secret, side, now, grace) {
                Some(Some(s)) => {
                    // Their variable is what a branch wrote: checked as `add` checks one.
                    crate::vault::secret::validate_record_fields(&s.name, &s.var, s.env.as_deref())
                        .map_err(|why| Error::invalid("secret", s.name.clone(), why))?;
                    if s.var != var {
                        renamed.push(name.clone());
                    }
                    kept.push(crate::vault::payload::Record::encode(&s));
                }
                Some(None) => {}
                None => kept.push(record),
            }
            done.insert(name);
        }
        if let Some(missing) = names.iter().find(|n| !done.contains(**n)) {
            return Err(Error::Usage(format!(
                "{} is not in conflict (`keyward git resolve` lists those that are)",
                sanitize(missing)
            )));
        }
        records.records = kept;
        for name in &renamed {
            if let Some(r) = records.records.iter().find(|r| &r.name == name) {
                records.check_var_conflict(&r.name, &r.var, r.env.as_deref())?;
            }
        }
        // Which conflicts remain, and the domains this key cannot read (which may hold more).
        let mut left = Vec::new();
        let mut unreadable = std::collections::BTreeSet::new();
        for r in &records.records {
            match r.decode() {
                Ok(s) if Conflict::of(&s).is_some() => left.push(s.name),
                Ok(_) => {}
                Err(_) => {
                    unreadable.insert(crate::vault::v2::text::domain_of(r.env.as_deref()).to_owned());
                }
            }
        }
        vault.set_records(records);
        Ok((done, left, unreadable))
    })?;
    let which = if side == Side::Ours { "ours" } else { "theirs" };
    ctx.audit(
        crate::audit::Event::new("git resolve").details(serde_json::json!({"secrets": done, "kept": which})),
        true,
    )?;
    if !unreadable.is_empty() {
        ctx.out.warn(&format!(
            "this key cannot read {}: conflicts there need someone who holds them; the vault is not staged",
            unreadable.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let staged = if left.is_empty() && unreadable.is_empty() { stage_if_conflicted(&ctx.vault_path()?) } else { None };
    ctx.out.report(
        &serde_json::json!({"resolved": done, "kept": which, "left": left, "staged": staged.is_some()}),
        || {
            let mut line =
                format!("kept {which} for {}", done.iter().map(|n| sanitize(n)).collect::<Vec<_>>().join(", "));
            match (&staged, left.is_empty()) {
                (_, false) => line.push_str(&format!(
                    "; still in conflict: {}",
                    left.iter().map(|n| sanitize(n)).collect::<Vec<_>>().join(", ")
                )),
                (Some(path), true) => {
                    line.push_str(&format!(
                        "; no conflict left: staged {} (git add), commit to finish the merge",
                        sanitize(path)
                    ));
                }
                (None, true) => line.push_str("; no conflict left"),
            }
            line
        },
    );
    Ok(Outcome::Success)
}

/// Stages the vault with `git add` when git has it as a conflicted (unmerged) path; the path
/// as git names it when it did.
fn stage_if_conflicted(vault: &Path) -> Option<String> {
    let dir = vault.parent()?;
    let name = vault.file_name()?.to_str()?;
    let unmerged = run_git(dir, &["ls-files", "--unmerged", "--", name]).ok()?;
    if unmerged.is_empty() {
        return None;
    }
    run_git(dir, &["add", "--", name]).ok()?;
    run_git(dir, &["ls-files", "--full-name", "--", name]).ok().filter(|p| !p.is_empty())
}
