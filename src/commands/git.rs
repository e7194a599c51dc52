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
use crate::cli::{GitCommand, GitSetupArgs};
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
        if keyward_dir.is_dir() && append_line(&keyward_dir.join(".gitignore"), "*.lock")? {
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

/// A domain's name, generation, short key id, and its secrets' name, variable and short tag.
type DomainLines = (String, u64, String, Vec<(String, String, String)>);

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
                    let tag = text::sealed_tag(doc.sealed_text(s)).map(|t| data_encoding::HEXLOWER.encode(&t[..4]));
                    (doc.secret_name(s).to_owned(), doc.secret_var(s).to_owned(), tag.unwrap_or_default())
                })
                .collect();
            (d.head.name.clone(), d.head.generation, data_encoding::HEXLOWER.encode(&d.head.key_id[..4]), lines)
        })
        .collect();
    let opened = unlock::unlock(&locked, Policy { passphrase: false }, &mut unlock::NoOne).ok();
    let vault = opened.and_then(|(_, o)| locked.open(o.key).ok());
    for (domain, generation, key_id, lines) in heads {
        let readable = vault.as_ref().is_some_and(|v| v.v2().is_some_and(|v2| v2.holds(&domain)));
        let _ = writeln!(
            out,
            "[{domain}] generation {generation}, key {key_id}{}",
            if readable || lines.is_empty() { "" } else { " (this machine cannot open it)" }
        );
        for (name, var, tag) in lines {
            let secret = if readable { vault.as_ref().and_then(|v| v.find(&name).ok().flatten()) } else { None };
            match secret {
                Some(s) => {
                    let _ = writeln!(out, "{} {}: {}", sanitize(&name), sanitize(&var), describe(&s));
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

/// A domain block as text: how the sides are compared.
fn block(doc: &text::Document, d: &text::Domain) -> String {
    let mut out = String::new();
    let secrets = d.secrets.iter().map(|s| text::PrintSecret {
        name: doc.secret_name(s),
        var: doc.secret_var(s),
        sealed: doc.sealed_text(s),
    });
    text::print_domain(&mut out, &d.head, secrets);
    out
}

/// A domain's secret lines: name → (variable, sealed body).
fn lines<'d>(
    doc: &'d text::Document,
    d: Option<&'d text::Domain>,
) -> std::collections::BTreeMap<&'d str, (&'d str, &'d str)> {
    let Some(d) = d else { return Default::default() };
    d.secrets.iter().map(|s| (doc.secret_name(s), (doc.secret_var(s), doc.sealed_text(s)))).collect()
}

/// git's merge driver for a vault (`%O %A %B %P`): a three-way merge by secret. Domains only
/// one side changed are taken from it as they are; a domain both sides changed under the same key
/// and recipients is merged secret by secret (a secret changed on one side takes that side's
/// line) and re-sealed with this machine's key of it. Members changed on both sides, a domain
/// re-keyed on one side, or one secret changed differently on both sides is a conflict: exit 1,
/// ours left in place, the reason named. Writes the result over ours (`%A`), as git expects.
fn merge(base: &Path, ours: &Path, theirs: &Path, shown: Option<&str>, ctx: &Context) -> Result<Outcome> {
    use std::collections::BTreeSet;
    let shown = sanitize(shown.unwrap_or(".keyward/vault.kw"));
    let (base_doc, ours_doc, theirs_doc) =
        (side(base, "the common ancestor")?, side(ours, "ours")?, side(theirs, "theirs")?);
    let conflict = |why: String| -> Result<Outcome> {
        ctx.out.warn(&format!(
            "{shown}: cannot merge by secret: {why}; ours is left in place: keep one side (`git checkout --ours` or `--theirs`) and redo the other side's change with keyward"
        ));
        Ok(Outcome::ChecksFailed)
    };
    if ours_doc.id != theirs_doc.id || ours_doc.id != base_doc.id {
        return conflict("the sides are different vaults (another vault id)".into());
    }
    if ours_doc.slots != theirs_doc.slots {
        return conflict("members or key slots changed on both sides".into());
    }
    let mut names: Vec<String> = ours_doc
        .domains
        .iter()
        .chain(&theirs_doc.domains)
        .map(|d| d.head.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| match n.as_str() {
        text::ALL => (0, String::new()),
        text::DEFAULT => (1, String::new()),
        other => (2, other.to_owned()),
    });
    let mut opened: Option<crate::vault::Vault> = None;
    let mut theirs_opened: Option<crate::vault::Vault> = None;
    let mut out = String::new();
    text::print_header(&mut out, &ours_doc.id, ours_doc.created, &ours_doc.slots);
    let mut merged_domains = Vec::new();
    for name in &names {
        let (da, db, dob) = (ours_doc.domain(name), theirs_doc.domain(name), base_doc.domain(name));
        let text_of = |doc: &text::Document, d: Option<&text::Domain>| d.map(|d| block(doc, d));
        let (ta, tb, to) = (text_of(&ours_doc, da), text_of(&theirs_doc, db), text_of(&base_doc, dob));
        if ta == tb || tb == to {
            out.push_str(&ta.unwrap_or_default());
            continue;
        }
        if ta == to {
            out.push_str(&tb.unwrap_or_default());
            continue;
        }
        // Both sides changed this domain.
        let (Some(da), Some(db)) = (da, db) else {
            return conflict(format!("{name} was made on both sides"));
        };
        let mut ha = da.head.clone();
        let mut hb = db.head.clone();
        ha.seal = [0; 32];
        hb.seal = [0; 32];
        let settings_differ = ha.settings != hb.settings;
        ha.settings = None;
        hb.settings = None;
        if ha != hb {
            return conflict(format!("{name} was re-keyed, or its recipients changed, on one side"));
        }
        let (la, lb, lo) = (lines(&ours_doc, Some(da)), lines(&theirs_doc, Some(db)), lines(&base_doc, dob));
        let mut merged: Vec<(&str, &str, &str)> = Vec::new();
        let mut clashes = Vec::new();
        let all: BTreeSet<&str> = la.keys().chain(lb.keys()).copied().collect();
        for secret in all {
            let (mine, other, was) = (la.get(secret), lb.get(secret), lo.get(secret));
            let pick = if mine == other || other == was {
                mine
            } else if mine == was {
                other
            } else {
                clashes.push(secret);
                continue;
            };
            if let Some((var, sealed)) = pick {
                merged.push((secret, var, sealed));
            }
        }
        if !clashes.is_empty() {
            return conflict(format!("changed differently on both sides: {}", clashes.join(", ")));
        }
        // A name in two domains would be damage: checked on the result below.
        if opened.is_none() {
            let locked = Locked::read(ours)?;
            let unlocked = unlock::unlock(&locked, Policy { passphrase: false }, &mut unlock::NoOne);
            match unlocked {
                Ok((_, unlocked)) => opened = Some(locked.open(unlocked.key)?),
                Err(_) => {
                    return conflict(format!(
                        "{name} changed on both sides, and this machine cannot open the vault to re-seal it (no keyring entry, identity or KEYWARD_VAULT_KEY opens it)"
                    ));
                }
            }
        }
        let v2 = opened.as_ref().and_then(crate::vault::Vault::v2).expect("a format 2 vault");
        if !v2.holds(name) {
            return conflict(format!("{name} changed on both sides and needs someone who holds it to merge"));
        }
        // Re-sealing vouches for every line kept: both sides' blocks must authenticate first
        // (a branch is anyone's writing), under the key this machine holds.
        v2.domain_key(name)?;
        if theirs_opened.is_none() {
            let locked = Locked::read(theirs)?;
            let (_, unlocked) = unlock::unlock(&locked, Policy { passphrase: false }, &mut unlock::NoOne)?;
            theirs_opened = Some(locked.open(unlocked.key)?);
        }
        theirs_opened.as_ref().and_then(crate::vault::Vault::v2).expect("a format 2 vault").domain_key(name)?;
        let mut head = da.head.clone();
        if settings_differ {
            // Settings hold the audit secret: kept in `Settings`, which wipes itself.
            let read = |d: Option<&text::Domain>| -> Result<crate::vault::v2::vault::Settings> {
                match d.and_then(|d| d.head.settings.as_ref()) {
                    Some(sealed) => v2.open_settings(sealed),
                    None => Ok(crate::vault::v2::vault::Settings::default()),
                }
            };
            let (sa, sb, so) = (read(Some(da))?, read(Some(db))?, read(dob)?);
            match merge_settings(&sa.0, &sb.0, &so.0) {
                Ok(merged) => {
                    let settings = crate::vault::v2::vault::Settings(merged);
                    head.settings = Some(v2.seal_settings(&settings)?);
                }
                Err(key) => return conflict(format!("the vault setting {key} changed differently on both sides")),
            }
        }
        head.seal = v2.seal_for(&head, &merged)?;
        let secrets = merged.iter().map(|(n, v, s)| text::PrintSecret { name: n, var: v, sealed: s });
        text::print_domain(&mut out, &head, secrets);
        merged_domains.push(name.clone());
    }
    text::print_end(&mut out);
    // The result must read back as a vault, and every domain this machine holds must open.
    let check = Locked::from_bytes(ours, zeroize::Zeroizing::new(out.clone().into_bytes()), None)
        .map_err(|e| Error::invalid("merge", shown.clone(), format!("the merged file does not read back ({e})")))?;
    if opened.is_some() {
        let unlocked = unlock::unlock(&check, Policy { passphrase: false }, &mut unlock::NoOne)?;
        let merged = check.open(unlocked.1.key)?;
        let v2 = merged.v2().expect("a format 2 vault");
        for name in &merged_domains {
            v2.domain_key(name)?;
        }
    }
    crate::files::replace_keeping_mode(ours, out.as_bytes())?;
    if !merged_domains.is_empty() {
        ctx.out.notice(&format!("{shown}: merged {} secret by secret", merged_domains.join(", ")));
    }
    Ok(Outcome::Success)
}

/// Three-way merge of `@default`'s settings by key. The earliest grace deadline wins when both
/// sides moved it (a sweep then finds every due grace period); any other key changed differently
/// on both sides is a conflict (its name is returned).
fn merge_settings(
    ours: &[(String, String)],
    theirs: &[(String, String)],
    base: &[(String, String)],
) -> std::result::Result<Vec<(String, String)>, String> {
    let get = |s: &[(String, String)], k: &str| s.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let mut keys: Vec<&String> = ours.iter().chain(theirs).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let (mine, other, was) = (get(ours, k), get(theirs, k), get(base, k));
        let v = if mine == other || other == was {
            mine
        } else if mine == was {
            other
        } else if k == crate::rotation::GRACE_NEXT {
            let n = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<i64>().ok());
            [n(&mine), n(&other)].into_iter().flatten().min().map(|t| t.to_string())
        } else {
            return Err(k.clone());
        };
        if let Some(v) = v {
            out.push((k.clone(), v));
        }
    }
    Ok(out)
}
