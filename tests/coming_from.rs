//! Issue 21: coming from pass, dotenvx and 1Password, and going back — each through the real
//! tool where one runs here (pass with a throwaway GNUPGHOME, the dotenvx CLI from npm), and
//! 1Password's exports as its documented formats (1Password itself does not run on Linux CI).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common;

use common::{Env, stderr, stdout};

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs a tool with `input` on standard input; it must succeed. Returns its standard output.
fn tool(program: &Path, args: &[&str], envs: &[(&str, &Path)], input: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, *v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{} {args:?}: {}", program.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A password store made by the real `pass`, with a throwaway GPG key; `None` (and a skip
/// message) outside CI when pass or gpg is missing.
struct Store {
    gnupg: PathBuf,
    dir: PathBuf,
}

impl Store {
    fn new(env: &mut Env, name: &str) -> Option<Store> {
        if !have("pass") || !have("gpg") {
            assert!(std::env::var_os("CI").is_none(), "CI must install pass and gnupg (see .ci/run)");
            eprintln!("SKIPPED: pass or gpg is not installed");
            return None;
        }
        let gnupg = env.path("gnupg");
        if !gnupg.exists() {
            std::fs::create_dir(&gnupg).unwrap();
            std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
            tool(
                Path::new("gpg"),
                &[
                    "--batch",
                    "--passphrase",
                    "",
                    "--quick-gen-key",
                    "keyward test <kw@example.com>",
                    "default",
                    "default",
                    "never",
                ],
                &[("GNUPGHOME", &gnupg)],
                "",
            );
            env.set("GNUPGHOME", gnupg.to_str().unwrap());
        }
        let store = Store { gnupg, dir: env.path(name) };
        store.pass(&["init", "kw@example.com"], "");
        Some(store)
    }

    fn pass(&self, args: &[&str], input: &str) -> String {
        tool(Path::new("pass"), args, &[("GNUPGHOME", &self.gnupg), ("PASSWORD_STORE_DIR", &self.dir)], input)
    }
}

/// Item 3 (pass): a store the real `pass` made.
#[test]
fn import_from_a_real_pass_store() {
    let mut env = Env::with_recovery_key();
    let Some(store) = Store::new(&mut env, "store") else { return };
    store.pass(
        &["insert", "--multiline", "stripe/live"],
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc\nlogin: ops@example.com\nrotated quarterly\n",
    );
    store.pass(&["insert", "--multiline", "email/work"], "correct horse battery\n");
    store.pass(&["insert", "--multiline", ".hidden/entry"], "x\n");
    store.pass(
        &["insert", "--multiline", "certs/tls"],
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    // A link inside the store (a store can be a checked-out repository) is not followed.
    std::os::unix::fs::symlink(store.dir.join("email"), store.dir.join("linked")).unwrap();

    // --dry-run stores nothing.
    let out = env.cmd().args(["import", "--from", "pass", "--dry-run"]).arg(&store.dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("would be added: certs/tls, email/work, stripe/live"), "{}", stdout(&out));
    env.cmd().args(["get", "stripe/live"]).assert().code(3);

    let out = env.cmd().args(["import", "--from", "pass"]).arg(&store.dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("3 added"), "{}", stdout(&out));
    assert_eq!(env.get("stripe/live"), "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    assert_eq!(
        env.get("certs/tls"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        "a PEM entry is whole"
    );
    assert_eq!(env.get("email/work"), "correct horse battery");
    let info = env.cmd().args(["info", "stripe/live", "--json"]).output().unwrap();
    let info = stdout(&info);
    assert!(
        info.contains("login: ops@example.com") && info.contains("stripe"),
        "the rest is the note, the provider detected: {info}"
    );
    // Again: everything exists, nothing changes.
    let out = env.cmd().args(["import", "--from", "pass"]).arg(&store.dir).output().unwrap();
    assert!(stdout(&out).contains("0 added") && stdout(&out).contains("3 skipped"), "{}", stdout(&out));
    // Not a store: a clear error.
    let out = env.cmd().args(["import", "--from", "pass"]).arg(env.path("")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Item 4: `export --format pass DIR`, read back by `pass show` and imported again.
#[test]
fn export_to_pass_round_trips_through_pass_itself() {
    let mut env = Env::with_recovery_key();
    let Some(store) = Store::new(&mut env, "store") else { return };
    let values = [
        ("stripe/live", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("quotes", "it's \"quoted\" $(id) `id`"),
        ("spaces", "  padded value  "),
        ("unicode", "clé-ünïcødé-🔑"),
    ];
    for (name, value) in &values[1..] {
        env.add(name, value, &[]);
    }
    env.add(values[0].0, values[0].1, &["--note", "billing; rotate in May"]);
    env.add("pem", "-----BEGIN KEY-----\nAAAA\n-----END KEY-----", &["--note", "not exported: the value has lines"]);
    // A subfolder with its own .gpg-id (a second key): its entries are encrypted to that one.
    tool(
        Path::new("gpg"),
        &[
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "team key <team@example.com>",
            "default",
            "default",
            "never",
        ],
        &[("GNUPGHOME", &store.gnupg)],
        "",
    );
    store.pass(&["init", "--path", "team", "team@example.com"], "");
    env.add("team/deploy", "team-deploy-value-0001", &[]);

    let out = env.cmd().args(["export", "--format", "pass"]).arg(&store.dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("exported 6 secrets"), "{}", stdout(&out));
    assert!(stdout(&out).contains("kw@example.com, team@example.com"), "the recipients are named: {}", stdout(&out));
    assert_eq!(store.pass(&["show", "team/deploy"], ""), "team-deploy-value-0001\n");
    let packets = tool(
        Path::new("gpg"),
        &["--batch", "--list-packets", store.dir.join("team/deploy.gpg").to_str().unwrap()],
        &[("GNUPGHOME", &store.gnupg)],
        "",
    );
    let team_id = tool(
        Path::new("gpg"),
        &["--batch", "--with-colons", "--list-keys", "team@example.com"],
        &[("GNUPGHOME", &store.gnupg)],
        "",
    );
    let sub = team_id.lines().filter(|l| l.starts_with("sub:")).find_map(|l| l.split(':').nth(4)).unwrap();
    assert!(packets.contains(sub), "team/deploy is encrypted to the subfolder's key {sub}: {packets}");
    assert_eq!(store.pass(&["show", "stripe/live"], ""), "sk_live_4eC39HqLyjWDarjtT1zdp7dc\nbilling; rotate in May\n");
    assert_eq!(store.pass(&["show", "pem"], ""), "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n");
    for (name, value) in values {
        assert_eq!(store.pass(&["show", name], "").lines().next().unwrap(), value, "{name}");
    }
    let mode = common::mode(&store.dir.join("stripe/live.gpg"));
    assert_eq!(mode & 0o077, 0, "entries are private: {mode:o}");

    // Exporting again over existing entries writes nothing, not even the new ones.
    env.add("zzz/new", "new-value-0001", &[]);
    let out = env.cmd().args(["export", "--format", "pass"]).arg(&store.dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already has"), "{}", stderr(&out));
    assert!(!store.dir.join("zzz").exists(), "all or nothing");

    // And back into an empty vault: single-line values and notes unchanged.
    let mut fresh = Env::with_recovery_key();
    fresh.set("GNUPGHOME", store.gnupg.to_str().unwrap());
    let out = fresh.cmd().args(["import", "--from", "pass"]).arg(&store.dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, value) in values {
        assert_eq!(fresh.get(name), value, "{name}");
    }
    assert_eq!(fresh.get("pem"), "-----BEGIN KEY-----\nAAAA\n-----END KEY-----", "a PEM value comes back whole");
    let info = stdout(&fresh.cmd().args(["info", "stripe/live", "--json"]).output().unwrap());
    assert!(info.contains("billing; rotate in May"), "{info}");

    // No store there: refused before anything is written.
    let out = env.cmd().args(["export", "--format", "pass"]).arg(env.path("nowhere")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pass init"), "{}", stderr(&out));
}

/// The real dotenvx CLI: `KEYWARD_TEST_DOTENVX`, else `dotenvx` on PATH (.ci/run installs it from npm).
fn dotenvx() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KEYWARD_TEST_DOTENVX") {
        return Some(path.into());
    }
    if have("dotenvx") {
        return Some("dotenvx".into());
    }
    assert!(std::env::var_os("CI").is_none(), "CI must install dotenvx (see .ci/run)");
    eprintln!("SKIPPED: dotenvx is not installed (npm install @dotenvx/dotenvx)");
    None
}

/// Item 3 (dotenvx): files the real CLI encrypted, with `.env.keys` beside them or the private
/// key in the environment; every value equal to what `dotenvx get` decrypts.
#[test]
fn import_from_files_the_real_dotenvx_encrypted() {
    let Some(dotenvx) = dotenvx() else { return };
    let env = Env::with_recovery_key();
    let project = env.path("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join(".env"),
        "STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc\nQUOTED=\"it's \\\"quoted\\\", twice\"\nMULTI=\"line one\\nline two\"\nCOMMAND=\"$(id) ${HOME}\"\n",
    )
    .unwrap();
    std::fs::write(project.join(".env.production"), "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789\n")
        .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&dotenvx).args(args).current_dir(&project).output().unwrap();
        assert!(out.status.success(), "dotenvx {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["encrypt"]);
    run(&["encrypt", "-f", ".env.production"]);
    let encrypted = std::fs::read_to_string(project.join(".env")).unwrap();
    assert!(encrypted.contains("STRIPE_KEY=encrypted:") && !encrypted.contains("sk_live_"), "{encrypted}");

    let out = env.cmd().args(["import", "--from", "dotenvx"]).arg(project.join(".env")).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("4 added"), "{}", stdout(&out));
    for var in ["STRIPE_KEY", "QUOTED", "MULTI"] {
        let expected = run(&["get", var]);
        assert_eq!(env.get(&var.to_ascii_lowercase()), expected.trim_end_matches('\n'), "{var}");
    }
    assert_eq!(env.get("multi"), "line one\nline two");
    // dotenvx runs $(…) and expands ${…} when it loads a file; keyward never runs what a file says.
    assert_eq!(env.get("command"), "$(id) ${HOME}");

    // The production key from the environment, .env.keys out of the way.
    let keys = std::fs::read_to_string(project.join(".env.keys")).unwrap();
    let key = keys.lines().find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY_PRODUCTION=")).unwrap().trim_matches('"');
    std::fs::rename(project.join(".env.keys"), env.path("keys-elsewhere")).unwrap();
    let out = env
        .cmd()
        .args(["import", "--from", "dotenvx", "--env", "prod"])
        .arg(project.join(".env.production"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no key anywhere: {}", stderr(&out));
    assert!(stderr(&out).contains("DOTENV_PRIVATE_KEY_PRODUCTION"), "{}", stderr(&out));
    let out = env
        .cmd()
        .args(["import", "--from", "dotenvx", "--env", "prod"])
        .arg(project.join(".env.production"))
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.get("openai_api_key"), "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789");
    assert!(!stderr(&out).contains(key) && !stdout(&out).contains(key), "the key is never printed");

    // A value changed in the file: the whole import stops, nothing stored.
    let tampered = encrypted.replacen("STRIPE_KEY=encrypted:B", "STRIPE_KEY=encrypted:C", 1);
    let fresh = Env::with_recovery_key();
    let dir = fresh.path("tampered");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(".env"), &tampered).unwrap();
    std::fs::copy(env.path("keys-elsewhere"), dir.join(".env.keys")).unwrap();
    let out = fresh.cmd().args(["import", "--from", "dotenvx"]).arg(dir.join(".env")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("STRIPE_KEY"), "{}", stderr(&out));
    fresh.cmd().args(["get", "quoted"]).assert().code(3);
    // Without the public-key line, the key's name comes from the file name, as dotenvx does.
    let bare: String =
        encrypted.lines().filter(|l| !l.starts_with("DOTENV_PUBLIC_KEY")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join(".env"), bare).unwrap();
    let out = fresh.cmd().args(["import", "--from", "dotenvx"]).arg(dir.join(".env")).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fresh.get("stripe_key"), "sk_live_4eC39HqLyjWDarjtT1zdp7dc");

    // Another key: refused, nothing stored, and neither key nor value in the message.
    let other = "11".repeat(32);
    let out = env
        .cmd()
        .args(["import", "--from", "dotenvx", "--overwrite"])
        .arg(project.join(".env"))
        .env("DOTENV_PRIVATE_KEY", &other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    common::assert_one_line_error(&stderr(&out));
}

const ONEPASSWORD_CSV: &str = "Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes\r\n\
Stripe / Live,https://dashboard.stripe.com,ops@example.com,sk_live_4eC39HqLyjWDarjtT1zdp7dc,,false,false,\"billing,prod\",\"rotate in May\"\r\n\
Old router,,admin,hunter2,,false,true,,\r\n\
Empty,,,,,false,false,,\r\n";

/// Item 3 (1Password, CSV): its export's columns; archived items left out, empty ones rejected;
/// and `--remove-source` overwrites and deletes the plaintext file.
#[test]
fn import_a_1password_csv_export_then_remove_it() {
    let env = Env::with_recovery_key();
    let file = env.path("1password.csv");
    std::fs::write(&file, ONEPASSWORD_CSV).unwrap();
    let out = env.cmd().args(["import", "--from", "1password", "--dry-run"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("would be added: stripe/live"), "{}", stdout(&out));
    assert!(file.exists(), "a dry run removes nothing");

    let out = env.cmd().args(["import", "--from", "1password", "--json"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["added"], serde_json::json!(["stripe/live"]));
    assert_eq!(report["rejected"][0]["var"], "Empty");
    assert!(file.exists(), "without --remove-source (and no terminal to ask on) the file stays");
    assert!(stderr(&out).contains("holds what the vault does not"), "{}", stderr(&out));
    assert_eq!(env.get("stripe/live"), "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    let info: serde_json::Value =
        serde_json::from_str(&stdout(&env.cmd().args(["info", "stripe/live", "--json"]).output().unwrap())).unwrap();
    let text = info.to_string();
    assert!(text.contains("billing") && text.contains("rotate in May") && text.contains("ops@example.com"), "{text}");
    assert!(text.contains("\"stripe\""), "provider detected: {text}");

    // A file with a rejected row and an archived one is not removed: they exist nowhere else.
    let copy = env.path("copy.csv");
    std::fs::write(&copy, ONEPASSWORD_CSV.replace("Stripe / Live", "Stripe / Test")).unwrap();
    let out = env.cmd().args(["import", "--from", "1password", "--remove-source"]).arg(&copy).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(copy.exists(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not removed") && stderr(&out).contains("1 rejected"), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 archived"), "{}", stderr(&out));

    // Everything imported (or already there with the same value): overwritten with zeros, then
    // deleted. A hard link shows what the blocks held after.
    let clean =
        "Title,Password\nStripe / Live,sk_live_4eC39HqLyjWDarjtT1zdp7dc\nSlack bot,xoxb-1234567890-abcdefghijkl\n";
    std::fs::write(&copy, clean).unwrap();
    let link = env.path("copy-link.csv");
    std::fs::hard_link(&copy, &link).unwrap();
    let out = env.cmd().args(["import", "--from", "1password", "--remove-source"]).arg(&copy).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!copy.exists(), "--remove-source deletes the file: {}", stderr(&out));
    let left = std::fs::read(&link).unwrap();
    assert_eq!(left.len(), clean.len());
    assert!(left.iter().all(|&b| b == 0), "overwritten before the unlink");
    assert!(stdout(&out).contains("no guarantee"), "and says what that is worth: {}", stdout(&out));
    // A link as the source: refused before anything is stored.
    std::os::unix::fs::symlink(&link, &copy).unwrap();
    let out = env.cmd().args(["import", "--from", "1password", "--remove-source"]).arg(&copy).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // --remove-source makes no sense for standard input or an encrypted source.
    let out = env.cmd().args(["import", "--remove-source", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Item 3 (1Password, .1pux): a zip with export.data as 1Password documents it; API credentials
/// (with their expiry), passwords and logins read, other categories and archived items counted.
#[test]
fn import_a_1password_1pux_export() {
    let env = Env::with_recovery_key();
    let field = |id: &str, value: serde_json::Value| serde_json::json!({"title": id, "id": id, "value": value});
    let item = |category: &str, title: &str, state: &str, details: serde_json::Value| {
        serde_json::json!({"uuid": title, "categoryUuid": category, "state": state,
            "overview": {"title": title, "url": "", "tags": ["imported from 1p"]}, "details": details})
    };
    let data = serde_json::json!({"accounts": [{"attrs": {"name": "Me"}, "vaults": [{"attrs": {"name": "Private"}, "items": [
        item("112", "GitHub CI token", "active", serde_json::json!({"notesPlain": "for the deploy job", "sections": [{"title": "", "fields": [
            field("username", serde_json::json!({"string": "ci-bot"})),
            field("credential", serde_json::json!({"concealed": "ghp_R8ZnfKqcmb0qfVSW1GrLUaGZ8jn1Oq2Xq1bB"})),
            field("expires", serde_json::json!({"date": 1_893_456_000})),
        ]}]})),
        item("005", "Database password", "active", serde_json::json!({"password": "correct horse battery"})),
        item("001", "Shop login", "active", serde_json::json!({"loginFields": [
            {"designation": "username", "value": "me@example.com"}, {"designation": "password", "value": "s3cret!"}]})),
        item("002", "Credit card", "active", serde_json::json!({})),
        item("005", "Old password", "archived", serde_json::json!({"password": "gone"})),
        item("112", "Far future", "active", serde_json::json!({"sections": [{"fields": [
            field("credential", serde_json::json!({"concealed": "far-future-credential-0001"})),
            field("expires", serde_json::json!({"date": i64::MAX})),
        ]}]})),
    ]}]}]});
    let file = env.path("export.1pux");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&file).unwrap());
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("export.attributes", options).unwrap();
        zip.write_all(br#"{"version": 3, "description": "1Password Unencrypted Export"}"#).unwrap();
        zip.start_file("export.data", options).unwrap();
        zip.write_all(data.to_string().as_bytes()).unwrap();
        zip.finish().unwrap();
    }
    let out = env.cmd().args(["import", "--from", "1password"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("4 added"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("1 archived") && stderr(&out).contains("1 items of other categories"),
        "{}",
        stderr(&out)
    );
    // An expiry past year 9999 is not a date: dropped, and nothing panics on it later.
    env.cmd().args(["list"]).assert().success();
    env.cmd().args(["info", "far-future"]).assert().success();
    assert_eq!(env.get("github-ci-token"), "ghp_R8ZnfKqcmb0qfVSW1GrLUaGZ8jn1Oq2Xq1bB");
    assert_eq!(env.get("database-password"), "correct horse battery");
    assert_eq!(env.get("shop-login"), "s3cret!");
    let info = stdout(&env.cmd().args(["info", "github-ci-token", "--json"]).output().unwrap());
    assert!(info.contains("ci-bot") && info.contains("for the deploy job") && info.contains("github"), "{info}");
    assert!(info.contains("2030-01-01"), "the credential's expiry is kept: {info}");

    // Not a 1Password export: one line, exit 2, nothing stored.
    std::fs::write(&file, b"PK\x03\x04 truncated").unwrap();
    let out = env.cmd().args(["import", "--from", "1password"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    common::assert_one_line_error(&stderr(&out));
}

/// Item 4: `export --format 1password-csv` reads back as a 1Password CSV import, hostile values
/// and all.
#[test]
fn onepassword_csv_export_imports_back_unchanged() {
    let env = Env::with_recovery_key();
    let values = [
        ("svc/quotes", "it's \"quoted\", twice"),
        ("svc/lines", "line one\nline two\r\nline three"),
        ("svc/spaces", "  padded value  "),
        ("svc/unicode", "clé-ünïcødé-🔑"),
    ];
    for (name, value) in values {
        env.add(name, value, &["--tag", "team-a", "--note", "a note, with \"quotes\""]);
    }
    let out = env.cmd().args(["export", "--format", "1password-csv"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("Title,Url,Username,Password,"), "{}", stdout(&out));
    let file = env.path("out.csv");
    std::fs::write(&file, &out.stdout).unwrap();
    let fresh = Env::with_recovery_key();
    let out = fresh.cmd().args(["import", "--from", "1password", "--remove-source"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, value) in values {
        assert_eq!(fresh.get(name), value, "{name}");
    }
    let info = stdout(&fresh.cmd().args(["info", "svc/quotes", "--json"]).output().unwrap());
    assert!(info.contains("team-a") && info.contains(r#"a note, with \"quotes\""#), "{info}");
}
