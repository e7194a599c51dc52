//! `scan` end to end: a fixture repository built here (commits that add and later remove a key,
//! a key in a base64 blob, a suppressed line, an ignored directory, a binary file), git history,
//! a real `git commit` through the installed hook, SARIF, baselines, and `--verify` against a
//! loopback server standing in for the provider.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::provider_server::{Reply, Request, Server};
use common::{Env, stderr, stdout};
use serde_json::Value;

const STRIPE: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
const GITHUB: &str = "ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO";
const OPENAI: &str = "sk-proj-Tq3bV8mWz1LcK9rX2sYp4NfG7hJd5QaEz8Kw3Lm2";

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Std::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out)
}

fn write(dir: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The fixture: history with a key added then removed, and a work tree with one of each case.
fn fixture(env: &Env) -> PathBuf {
    let repo = env.home.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git_ok(&repo, &["init", "-q", "-b", "main"]);
    write(&repo, "app/config.py", format!("import os\nSTRIPE_KEY = \"{STRIPE}\"\nDEBUG = True\n"));
    git_ok(&repo, &["add", "-A"]);
    git_ok(&repo, &["commit", "-qm", "add config"]);
    write(&repo, "app/config.py", "import os\nSTRIPE_KEY = os.environ[\"STRIPE_KEY\"]\nDEBUG = True\n");
    git_ok(&repo, &["commit", "-qam", "read the key from the environment"]);

    let b64 = data_encoding::BASE64.encode(format!("OPENAI_API_KEY={OPENAI}\n").as_bytes());
    write(&repo, "deploy/secret.yaml", format!("apiVersion: v1\nkind: Secret\ndata:\n  env: {b64}\n"));
    write(&repo, "tests/fixture.py", format!("TOKEN = \"{GITHUB}\"  # keyward:allow test fixture\n"));
    write(&repo, ".gitignore", "build/\n");
    write(&repo, "build/out.txt", format!("token={GITHUB}\n"));
    let mut binary = b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec();
    binary.extend_from_slice(GITHUB.as_bytes());
    write(&repo, "app/logo.bin", binary);
    git_ok(&repo, &["add", "-A"]);
    git_ok(&repo, &["commit", "-qm", "deploy files"]);
    repo
}

fn scan_json(env: &Env, dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = env.cmd().current_dir(dir).args(["scan", "--format", "json"]).args(args).output().unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap(), doc)
}

/// (path, line, rule) of each finding.
fn findings(doc: &Value) -> Vec<(String, u64, String)> {
    located(doc, "rule")
}

/// (path, line, `field`) of each finding.
fn located(doc: &Value, field: &str) -> Vec<(String, u64, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["path"].as_str().unwrap().to_owned(), f["line"].as_u64().unwrap(), f[field].as_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn the_work_tree_is_walked_as_ripgrep_would() {
    let env = Env::new();
    let repo = fixture(&env);
    let (code, doc) = scan_json(&env, &repo, &["--no-known"]);
    assert_eq!(code, 1);
    // Found: the key inside the base64 blob. Not: the suppressed line, the ignored directory,
    // the binary file, the key that history removed.
    assert_eq!(findings(&doc), vec![("deploy/secret.yaml".to_owned(), 4, "openai".to_owned())]);
    let f = &doc["findings"][0];
    assert_eq!(f["encoding"], "base64");
    assert_eq!(f["column"], 8);
    assert_eq!(doc["stats"]["skipped_binary"], 1);
    assert_eq!(doc["stats"]["suppressed"], 1);
    let text = doc.to_string();
    assert!(!text.contains(OPENAI) && !text.contains(&OPENAI[8..]), "the value leaked: {text}");

    // --all-files looks into ignored directories too.
    let (_, doc) = scan_json(&env, &repo, &["--no-known", "--all-files"]);
    assert!(findings(&doc).contains(&("build/out.txt".to_owned(), 1, "github".to_owned())), "{doc}");

    // --exit-zero, and a clean path.
    env.cmd().current_dir(&repo).args(["scan", "--no-known", "--exit-zero"]).assert().code(0);
    env.cmd().current_dir(&repo).args(["scan", "--no-known", "app"]).assert().code(0);
}

#[test]
fn history_finds_a_removed_key_at_the_commit_that_added_it() {
    let env = Env::new();
    let repo = fixture(&env);
    let first = git_ok(&repo, &["rev-list", "--max-parents=0", "HEAD"]).trim().to_owned();
    let (code, doc) = scan_json(&env, &repo, &["--no-known", "--git"]);
    assert_eq!(code, 1);
    let all = doc["findings"].as_array().unwrap();
    let stripe: Vec<&Value> = all.iter().filter(|f| f["rule"] == "stripe").collect();
    assert_eq!(stripe.len(), 1, "reported once, where it was introduced: {doc}");
    assert_eq!(stripe[0]["path"], "app/config.py");
    assert_eq!(stripe[0]["line"], 2);
    assert_eq!(stripe[0]["commit"]["id"], first.as_str());
    assert_eq!(stripe[0]["commit"]["author"], "Test");
    assert!(all.iter().any(|f| f["rule"] == "openai"), "{doc}");

    // Since the first commit: the removal and the deploy files, not the key added before.
    let (_, doc) = scan_json(&env, &repo, &["--no-known", "--git", "--since", &first]);
    assert!(!doc["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "stripe"), "{doc}");

    let out = env.cmd().current_dir(&repo).args(["scan", "--git", "--since", "no-such-rev"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    common::assert_one_line_error(&stderr(&out));
}

#[test]
fn the_pre_commit_hook_blocks_a_commit_that_adds_a_key() {
    let env = Env::new();
    let repo = fixture(&env);
    env.cmd().current_dir(&repo).args(["scan", "--install-hook"]).assert().success();
    let hook = repo.join(".git/hooks/pre-commit");
    assert!(std::fs::read_to_string(&hook).unwrap().contains("scan --staged"));

    // The hook runs with the test's clean environment (no vault: known values skipped).
    let head = git_ok(&repo, &["rev-parse", "HEAD"]);
    write(&repo, "app/settings.py", format!("import os\n\nGITHUB_TOKEN = \"{GITHUB}\"\n"));
    git_ok(&repo, &["add", "app/settings.py"]);
    let commit = git(&repo, &["commit", "-qm", "settings"]);
    assert!(!commit.status.success(), "the commit went through");
    let said = stdout(&commit) + &stderr(&commit);
    assert!(said.contains("app/settings.py:3:17") && said.contains("ghp_…dHnO"), "{said}");
    assert_eq!(git_ok(&repo, &["rev-parse", "HEAD"]), head);

    // Only added lines count: a staged change elsewhere in a file with an accepted old finding
    // goes through, and so does the fixed file.
    write(&repo, "app/settings.py", "import os\n\nGITHUB_TOKEN = os.environ[\"GITHUB_TOKEN\"]\n");
    git_ok(&repo, &["add", "app/settings.py"]);
    git_ok(&repo, &["commit", "-qm", "settings"]);
    let fixture_file = std::fs::read_to_string(repo.join("tests/fixture.py")).unwrap();
    write(&repo, "tests/fixture.py", fixture_file.replace("  # keyward:allow test fixture", "") + "# more\n");
    let out = env.cmd().current_dir(&repo).args(["scan", "--staged", "--no-known"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "unstaged changes are not scanned: {}", stdout(&out));
    git_ok(&repo, &["add", "tests/fixture.py"]);
    let out = env.cmd().current_dir(&repo).args(["scan", "--staged", "--no-known"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the un-suppressed line is an added line: {}", stdout(&out));

    // Someone else's hook is left alone.
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let out = env.cmd().current_dir(&repo).args(["scan", "--install-hook"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), "#!/bin/sh\nexit 0\n");
}

#[test]
fn sarif_has_what_the_2_1_0_schema_requires() {
    let env = Env::new();
    let repo = fixture(&env);
    let out = env.cmd().current_dir(&repo).args(["scan", "--no-known", "--git", "--format", "sarif"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "keyward");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().all(|r| r["id"].is_string() && r["shortDescription"]["text"].is_string()));
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 2);
    for r in results {
        assert!(r["message"]["text"].is_string(), "result.message.text is required: {r}");
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].as_str().is_some_and(|u| !u.starts_with('/')));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
        assert_eq!(r["partialFingerprints"]["keyward/v1"].as_str().unwrap().len(), 16);
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
    }
    assert!(!stdout(&out).contains(STRIPE));
}

#[test]
fn a_baseline_accepts_todays_findings_and_settings_suppress() {
    let env = Env::new();
    let repo = fixture(&env);
    env.cmd().current_dir(&repo).args(["scan", "--no-known", "--baseline", ".keyward-scan.toml"]).assert().success();
    let text = std::fs::read_to_string(repo.join(".keyward-scan.toml")).unwrap();
    assert!(text.contains("deploy/secret.yaml:4 openai") && !text.contains(OPENAI), "{text}");
    assert_eq!(common::mode(&repo.join(".keyward-scan.toml")), 0o644);
    env.cmd().current_dir(&repo).args(["scan", "--no-known"]).assert().code(0);
    // From a subdirectory the same settings apply (paths are relative to the file).
    env.cmd().current_dir(repo.join("deploy")).args(["scan", "--no-known"]).assert().code(0);
    // The same value moved to another line is still accepted; a new key is not.
    let yaml = std::fs::read_to_string(repo.join("deploy/secret.yaml")).unwrap();
    write(&repo, "deploy/secret.yaml", format!("# moved\n{yaml}"));
    env.cmd().current_dir(&repo).args(["scan", "--no-known"]).assert().code(0);
    write(&repo, "app/new.py", format!("KEY = \"{STRIPE}\"\n"));
    let (code, doc) = scan_json(&env, &repo, &["--no-known"]);
    assert_eq!((code, findings(&doc)), (1, vec![("app/new.py".to_owned(), 1, "stripe".to_owned())]));

    // Rules and paths in the settings.
    let settings = std::fs::read_to_string(repo.join(".keyward-scan.toml")).unwrap();
    std::fs::write(repo.join(".keyward-scan.toml"), settings.replace("paths = []", "paths = [\"app/**\"]")).unwrap();
    env.cmd().current_dir(&repo).args(["scan", "--no-known"]).assert().code(0);
    std::fs::write(repo.join(".keyward-scan.toml"), "[allow]\nrules = [\"stripe\", \"openai\"]\n").unwrap();
    env.cmd().current_dir(&repo).args(["scan", "--no-known"]).assert().code(0);
    std::fs::write(repo.join(".keyward-scan.toml"), "[allow]\nrulez = []\n").unwrap();
    let out = env.cmd().current_dir(&repo).args(["scan", "--no-known"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".keyward-scan.toml"), "{}", stderr(&out));
}

#[test]
fn the_vaults_own_values_are_found_by_name_and_a_locked_vault_is_a_note() {
    let env = Env::with_recovery_key();
    let internal = "kw-internal-9f8e7d6c5b4a3928";
    env.add("internal/webhook", internal, &[]);
    let dir = env.home.join("src");
    write(
        &dir,
        "hook.go",
        format!(
            "package main\n\nconst secret = \"{internal}\"\nvar enc = \"{}\"\n",
            data_encoding::BASE64.encode(internal.as_bytes())
        ),
    );
    let (code, doc) = scan_json(&env, &dir, &[]);
    assert_eq!(code, 1);
    let f = doc["findings"].as_array().unwrap();
    assert_eq!(f.len(), 2, "{doc}");
    assert!(f.iter().all(|f| f["rule"] == "known-value" && f["secret"] == "internal/webhook"));
    assert_eq!(f[1]["encoding"], Value::Null);
    assert!(!doc.to_string().contains(internal));
    // The scan is in the audit log, without values.
    let audit = env.cmd().args(["audit", "--event", "scan", "--json"]).output().unwrap();
    assert!(stdout(&audit).contains("\"scan\"") && !stdout(&audit).contains(internal), "{}", stdout(&audit));

    // Without the vault key: a note, not an error; the other rules still run (the generic rule
    // sees the assignment, the base64 copy is not found).
    let mut locked = Env::new();
    locked.vault = env.vault.clone();
    let out = locked.cmd().current_dir(&dir).args(["scan", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("known values not searched"), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings(&doc), vec![("hook.go".to_owned(), 3, "generic-assignment".to_owned())]);
}

#[test]
fn verify_asks_the_provider_about_each_key_once() {
    let server = Server::start(|r: &Request| match r.token().unwrap_or("") {
        t if t.contains("Valid") => Reply::json(200, "{}"),
        t if t.contains("Nope") => Reply::json(401, "{}"),
        _ => Reply::status(503),
    });
    let mut env = Env::new();
    env.set("KEYWARD_PROVIDER_STRIPE_URL", &server.url);
    let dir = env.home.join("src");
    let key = |marker: &str| format!("sk_live_{marker}4eC39HqLyjWDarjtT1zdp7dc");
    write(&dir, "a.env", format!("A={}\nB={}\nC={}\n", key("Valid"), key("Nope"), key("Busy")));
    write(&dir, "b.env", format!("SAME={}\n", key("Valid")));
    let (code, doc) = scan_json(&env, &dir, &["--no-known", "--verify"]);
    assert_eq!(code, 1);
    let verdicts = located(&doc, "verdict");
    assert_eq!(
        verdicts,
        vec![
            ("a.env".into(), 1, "valid".into()),
            ("a.env".into(), 2, "invalid".into()),
            ("a.env".into(), 3, "unknown".into()),
            ("b.env".into(), 1, "valid".into()),
        ]
    );
    let asked = server.requests().len();
    assert_eq!(asked, 3, "one request per distinct key, a 503 never retried: {asked}");
    let table = env.cmd().current_dir(&dir).args(["scan", "--no-known", "--verify"]).output().unwrap();
    assert!(stdout(&table).contains("VERDICT") && stdout(&table).contains("invalid"), "{}", stdout(&table));

    // Issue 20, item 5: the filters trufflehog users ask for. A generic finding has no online
    // check: "unverified".
    write(&dir, "c.py", "webhook_secret = \"Zq8Lr2Vw7Xn4Bt6Kp1Hs9Dj3Fm5Gc0Ya\"\n");
    let (code, doc) = scan_json(&env, &dir, &["--no-known", "--only-verified"]);
    assert_eq!(code, 1);
    assert_eq!(
        located(&doc, "verdict").iter().map(|(p, l, _)| (p.as_str(), *l)).collect::<Vec<_>>(),
        [("a.env", 1), ("b.env", 1)]
    );
    let (_, doc) = scan_json(&env, &dir, &["--no-known", "--results", "unknown,unverified"]);
    let kept: Vec<(String, u64)> = findings(&doc).into_iter().map(|(p, l, _)| (p, l)).collect();
    assert_eq!(kept, [("a.env".to_owned(), 3), ("c.py".to_owned(), 1)], "{doc}");
    let (code, doc) = scan_json(&env, &dir, &["--no-known", "--results", "invalid", "--exit-zero"]);
    assert_eq!((code, findings(&doc).len()), (0, 1));
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for args in [
        &["scan", "no/such/dir"][..],
        &["scan", "--since", "HEAD"],
        &["scan", "--git", "--staged"],
        &["scan", "--format", "xml"],
    ] {
        let out = env.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = env.cmd().args(["scan", "--git"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "not a repository: {}", stderr(&out));
    common::assert_one_line_error(&stderr(&out));
}

/// Issue 20, item 6: inside zip (jar), tar.gz and gzip files, one nested archive deep, with the
/// path inside the archive; a zip bomb, an encrypted member and a member nested too deep are
/// skipped and said so; nothing is extracted to disk.
#[test]
fn archives_are_scanned_inside_and_bombs_are_skipped() {
    use std::io::Write;
    let env = Env::new();
    let dir = env.path("tree");
    std::fs::create_dir(&dir).unwrap();
    let zip_of = |files: &[(&str, &[u8])]| -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    };
    let nested = zip_of(&[("deep/settings.py", format!("TOKEN = '{GITHUB}'\n").as_bytes())]);
    let jar = zip_of(&[
        ("config/app.yml", format!("stripe:\n  key: {STRIPE}\n").as_bytes()),
        ("lib/inner.zip", &nested),
        ("too/deep.zip", &zip_of(&[("x.zip", &zip_of(&[("y.env", format!("K={STRIPE}\n").as_bytes())]))])),
    ]);
    std::fs::write(dir.join("app.jar"), jar).unwrap();
    std::fs::write(dir.join("bomb.zip"), zip_of(&[("zeros.txt", &vec![b'0'; 50 << 20])])).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let data = format!("GITHUB_TOKEN={GITHUB}\n");
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "etc/ci.env", data.as_bytes()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    std::fs::write(dir.join("backup.tgz"), gz.finish().unwrap()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("2026-11-29 request with key {STRIPE}\n").as_bytes()).unwrap();
    std::fs::write(dir.join("app.log.gz"), gz.finish().unwrap()).unwrap();

    let (code, doc) = scan_json(&env, &dir, &["--no-known"]);
    assert_eq!(code, 1, "{doc}");
    let mut paths: Vec<(String, u64)> = findings(&doc).into_iter().map(|(p, line, _)| (p, line)).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("app.jar!config/app.yml".to_owned(), 2),
            ("app.jar!lib/inner.zip!deep/settings.py".to_owned(), 1),
            ("app.log.gz!app.log".to_owned(), 1),
            ("backup.tgz!etc/ci.env".to_owned(), 1),
        ],
        "{doc}"
    );
    assert_eq!(doc["stats"]["archives"], 4, "{doc}");
    assert_eq!(doc["stats"]["archive_skipped"], 2, "the bomb and the archive nested too deep: {doc}");
    let out = env.cmd().current_dir(&dir).args(["scan"]).output().unwrap();
    let said = stderr(&out);
    assert!(said.contains("bomb.zip!zeros.txt") && said.contains("zip bomb"), "{said}");
    assert!(said.contains("nested deeper"), "{said}");
}

/// Credentials in package managers' and registries' own config files: found by `scan` (each
/// file as committed, with the references next to them left alone), and left to `mask`, which
/// keeps these scan-only formats out of its searches.
#[test]
fn package_manager_and_registry_configs_are_scanned() {
    let env = Env::new();
    let dir = env.home.join("configs");
    let token = "Tr4vK9pLm2Xq8Wz5Hx7pLq2Wm9sRt4Vn";
    let auth = data_encoding::BASE64.encode(b"ci-deploy:Zq8LmW3vKx91aPc4");
    write(
        &dir,
        "npmrc",
        format!(
            "//npm.pkg.github.com/:_authToken={token}\n//registry.npmjs.org/:_authToken=${{NPM_TOKEN}}\n//r.example.com/:_auth={auth}\n"
        ),
    );
    write(
        &dir,
        "NuGet.config",
        "<configuration>\n  <packageSourceCredentials>\n    <feed>\n      <add key=\"Username\" value=\"ci\" />\n      <add key=\"ClearTextPassword\" value=\"Hx7pLq2Wm9sRt4VnQe5\" />\n      <add key=\"ClearTextPassword\" value=\"%FEED_PASSWORD%\" />\n    </feed>\n  </packageSourceCredentials>\n</configuration>\n",
    );
    write(
        &dir,
        "docker/config.json",
        format!("{{\n  \"auths\": {{\n    \"ghcr.io\": {{\n      \"auth\": \"{auth}\"\n    }}\n  }}\n}}\n"),
    );
    let (code, doc) = scan_json(&env, &dir, &["--no-known"]);
    assert_eq!(code, 1);
    let mut found = findings(&doc);
    found.sort();
    let f = |path: &str, line: u64, rule: &str| (path.to_owned(), line, rule.to_owned());
    assert_eq!(
        found,
        vec![
            f("NuGet.config", 5, "nuget-config"),
            f("docker/config.json", 4, "docker-config"),
            f("npmrc", 1, "npmrc"),
            f("npmrc", 3, "npmrc")
        ]
    );
    let text = doc.to_string();
    assert!(!text.contains(token) && !text.contains(&auth), "a value leaked: {text}");
    let masked = env.cmd().args(["mask", "--no-known"]).write_stdin(format!("_authToken={token}\n")).output().unwrap();
    assert_eq!(stdout(&masked), format!("_authToken={token}\n"));
}

/// Key stores made by openssl and keytool (tests/fixtures/keystores) are findings by
/// themselves, renamed or inside a jar; other binary files are still skipped.
#[test]
fn key_stores_are_findings_by_themselves() {
    use std::io::Write;
    let env = Env::new();
    let dir = env.path("tree");
    std::fs::create_dir(&dir).unwrap();
    let fixture = |name: &str| {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keystores").join(name)).unwrap()
    };
    std::fs::write(dir.join("client.p12"), fixture("client.p12")).unwrap();
    std::fs::write(dir.join("truststore.bin"), fixture("server.jks")).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file("META-INF/keys.jceks", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(&fixture("server.jceks")).unwrap();
    zip.finish().unwrap();
    std::fs::write(dir.join("app.jar"), out.into_inner()).unwrap();
    std::fs::write(dir.join("logo.bin"), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").unwrap();
    // A trust store of certificates only is public: read, and no finding.
    std::fs::write(dir.join("truststore.jks"), fixture("truststore.jks")).unwrap();

    let (code, doc) = scan_json(&env, &dir, &["--no-known"]);
    assert_eq!(code, 1, "{doc}");
    let mut found = located(&doc, "kind");
    found.sort();
    let f = |path: &str, kind: &str| (path.to_owned(), 1, kind.to_owned());
    assert_eq!(
        found,
        vec![
            f("app.jar!META-INF/keys.jceks", "Java key store (JCEKS)"),
            f("client.p12", "PKCS#12 key store"),
            f("truststore.bin", "Java key store (JKS)"),
        ],
        "{doc}"
    );
    assert!(doc["findings"].as_array().unwrap().iter().all(|f| f["rule"] == "keystore"));
    assert_eq!(doc["stats"]["skipped_binary"], 1, "{doc}");
}

/// A Kubernetes Secret's data values are decoded and judged whatever their keys are called;
/// placeholders, references and what is not a credential are not findings, and a ConfigMap
/// beside the Secret is not read as one.
#[test]
fn kubernetes_secret_data_is_decoded_and_judged() {
    let env = Env::new();
    let dir = env.home.join("k8s");
    let b64 = |s: &str| data_encoding::BASE64.encode(s.as_bytes());
    let (password, token) = ("Zq8LmW3vKx91aPc4", "Hx7pLq2Wm9sRt4VnQe5");
    write(
        &dir,
        "secret.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n  username: {}\n  db-pass: {}\n  placeholder: {}\n  ref: {}\nstringData:\n  token: {token}\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  mode: {}\n",
            b64("app"),
            b64(password),
            b64("changeme"),
            b64("${DB_PASSWORD}"),
            b64("Jb3kPz8QwLm5Yt2N"),
        ),
    );
    let (code, doc) = scan_json(&env, &dir, &["--no-known"]);
    assert_eq!(code, 1, "{doc}");
    let f = |line: u64, kind: &str| ("secret.yaml".to_owned(), line, kind.to_owned());
    assert_eq!(
        located(&doc, "kind"),
        vec![f(8, "Kubernetes Secret data value (db-pass)"), f(12, "Kubernetes Secret stringData value (token)")],
        "{doc}"
    );
    let text = doc.to_string();
    assert!(
        !text.contains(password) && !text.contains(token) && !text.contains(&b64(password)),
        "a value leaked: {text}"
    );
}
