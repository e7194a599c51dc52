//! inject, export and import end to end, with hostile values in every format.

use crate::common;

use common::{Env, stderr, stdout};
use serde_json::Value;

/// Values that break naive quoting.
const HOSTILE: &[(&str, &str)] = &[
    ("quotes", "it's \"quoted\" 'twice'"),
    ("newlines", "line one\nline two\r\nline three"),
    ("dollars", "$HOME ${PATH} $(whoami) `id`"),
    ("equals", "a=b=c; d&e|f"),
    ("unicode", "clé-ünïcødé-🔑"),
    ("backslashes", "C:\\path\\to\\key\\"),
    ("spaces", "  padded value  "),
    ("hash", "value # not a comment"),
];

fn hostile_vault() -> Env {
    let env = Env::with_recovery_key();
    for (name, value) in HOSTILE {
        env.add(&format!("h/{name}"), value, &[]);
    }
    env
}

fn var(name: &str) -> String {
    format!("H_{}", name.to_ascii_uppercase())
}

#[test]
fn dotenv_export_imports_back_unchanged() {
    let source = hostile_vault();
    let out = source.cmd().args(["export", "--format", "dotenv"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let target = Env::with_recovery_key();
    let out = target.cmd().args(["import", "-", "--json"]).write_stdin(out.stdout).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), HOSTILE.len());
    for (name, value) in HOSTILE {
        let imported = format!("h_{name}");
        assert_eq!(target.get(&imported), *value, "{name}");
        let info: Value =
            serde_json::from_slice(&target.cmd().args(["info", &imported, "--json"]).output().unwrap().stdout).unwrap();
        assert_eq!(info["var"], var(name));
    }
}

#[test]
fn shell_export_is_safe_to_eval() {
    let env = hostile_vault();
    let out = env.cmd().args(["export", "--format", "shell"]).output().unwrap();
    let file = env.path("vars.sh");
    std::fs::write(&file, &out.stdout).unwrap();
    for (name, value) in HOSTILE {
        let script = format!(". '{}'; printf %s \"${}\"", file.display(), var(name));
        let got = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
        assert_eq!(String::from_utf8(got.stdout).unwrap(), *value, "{name}");
    }
}

#[test]
fn json_export() {
    let env = hostile_vault();
    let out = env.cmd().args(["export", "--format", "json"]).output().unwrap();
    let map: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (name, value) in HOSTILE {
        assert_eq!(map[var(name)], *value);
    }
}

#[test]
fn github_actions_masks_then_appends_to_github_env() {
    let mut env = hostile_vault();
    let github_env = env.path("github_env");
    env.set("GITHUB_ENV", github_env.to_str().unwrap());
    let out = env.cmd().args(["export", "--format", "github"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let masks = stdout(&out);
    assert!(masks.contains("::add-mask::line one%0Aline two%0D%0Aline three\n"), "{masks}");
    assert!(masks.contains("::add-mask::line one\n") && masks.contains("::add-mask::line three\n"), "each line masked");
    assert!(!masks.contains("<<"), "values go to the file, not the log");
    // Read the file back the way the runner does.
    let text = std::fs::read_to_string(&github_env).unwrap();
    let mut lines = text.split('\n');
    let mut found = std::collections::HashMap::new();
    while let Some(header) = lines.next() {
        let Some((name, delimiter)) = header.split_once("<<") else { continue };
        let mut value = Vec::new();
        for l in lines.by_ref() {
            if l == delimiter {
                break;
            }
            value.push(l);
        }
        found.insert(name.to_owned(), value.join("\n"));
    }
    for (name, value) in HOSTILE {
        assert_eq!(found[&var(name)], *value, "{name}");
    }
}

#[test]
fn gitlab_refuses_multi_line_values_with_a_warning() {
    let env = hostile_vault();
    let out = env.cmd().args(["export", "--format", "gitlab"]).output().unwrap();
    assert!(out.status.success());
    assert!(stderr(&out).contains("H_NEWLINES is not exported") && stderr(&out).contains("artifacts"));
    assert!(stdout(&out).contains("H_EQUALS=a=b=c; d&e|f\n"));
    assert!(!stdout(&out).contains("line one"));
}

#[test]
fn inject_renders_and_refuses_unknown_references() {
    let env = hostile_vault();
    let template = env.path("app.tmpl");
    std::fs::write(&template, "a: {{ keyward:h/quotes }}\nhelm: {{ .Values.x }}\nb: {{keyward:h/dollars}}\n").unwrap();
    let out = env.cmd().args(["inject", "-i"]).arg(&template).output().unwrap();
    assert_eq!(stdout(&out), "a: it's \"quoted\" 'twice'\nhelm: {{ .Values.x }}\nb: $HOME ${PATH} $(whoami) `id`\n");
    let target = env.path("app.yml");
    env.cmd().args(["inject", "-i"]).arg(&template).arg("-o").arg(&target).assert().success();
    assert_eq!(common::mode(&target), 0o600);

    std::fs::write(&template, "ok: {{ keyward:h/quotes }}\n\nbad: {{ keyward:h/missing }}\n").unwrap();
    let missing = env.path("never.yml");
    let out = env.cmd().args(["inject", "-i"]).arg(&template).arg("-o").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("line 3") && stderr(&out).contains("h/missing"), "{}", stderr(&out));
    assert!(!missing.exists(), "nothing is written");
    let out = env.cmd().arg("inject").write_stdin("x {{ keyward:h/quotes\n}}").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
}

#[test]
fn import_reports_added_skipped_rejected_and_is_all_or_nothing() {
    let env = Env::with_recovery_key();
    env.add("existing", "old-value-123", &[]);
    let file = env.path("in.env");
    std::fs::write(&file, "# comment\nexport NEW_KEY=abc123def\nEXISTING=new-value-456\nKEYWARD_TOKEN=x\nEMPTY=\n")
        .unwrap();
    let out = env.cmd().args(["import", "--json", "--dry-run"]).arg(&file).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"], serde_json::json!(["new_key"]));
    assert!(env.cmd().args(["get", "new_key"]).output().unwrap().status.code() == Some(3), "dry run stores nothing");
    let out = env.cmd().args(["import", "--json"]).arg(&file).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"], serde_json::json!(["new_key"]));
    assert_eq!(report["skipped"], serde_json::json!(["existing"]));
    let rejected: Vec<&str> =
        report["rejected"].as_array().unwrap().iter().map(|r| r["var"].as_str().unwrap()).collect();
    assert_eq!(rejected, ["KEYWARD_TOKEN", "EMPTY"]);
    assert_eq!(env.get("existing"), "old-value-123");

    let out = env.cmd().args(["import", "--overwrite"]).arg(&file).output().unwrap();
    assert!(out.status.success());
    assert_eq!(env.get("existing"), "new-value-456");
    let prev = env.cmd().args(["get", "-n", "existing", "--version", "previous"]).output().unwrap();
    assert_eq!(stdout(&prev), "old-value-123", "the old value is kept as previous");

    std::fs::write(&file, "GOOD=1\nTHIS LINE IS BROKEN\nALSO=2\n").unwrap();
    let out = env.cmd().arg("import").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert_eq!(env.cmd().args(["get", "good"]).output().unwrap().status.code(), Some(3), "nothing imported");

    let json_file = env.path("in.json");
    std::fs::write(&json_file, r#"{"JSON_KEY": "from-json-789", "STRIPE_KEY": "sk_test_0000000000000000000000000"}"#)
        .unwrap();
    let out = env.cmd().args(["import", "--env", "dev"]).arg(&json_file).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let info: Value =
        serde_json::from_slice(&env.cmd().args(["info", "stripe_key", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!((info["provider"].as_str(), info["env"].as_str()), (Some("stripe"), Some("dev")));
    std::fs::write(&json_file, r#"{"N": 3}"#).unwrap();
    assert_eq!(env.cmd().arg("import").arg(&json_file).output().unwrap().status.code(), Some(2));
}

/// Issue 21, item 3 (pass): a real password store made by `pass` with a throwaway GNUPGHOME.
#[test]
fn import_from_a_real_pass_store() {
    let have = |tool: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("pass") || !have("gpg") {
        assert!(std::env::var_os("CI").is_none(), "CI must install pass and gnupg (see .ci/run)");
        eprintln!("SKIPPED: pass or gpg is not installed");
        return;
    }
    let mut env = Env::with_recovery_key();
    let gnupg = env.path("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let store = env.path("store");
    let tool = |program: &str, args: &[&str], input: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(program)
            .args(args)
            .env("GNUPGHOME", &gnupg)
            .env("PASSWORD_STORE_DIR", &store)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    tool(
        "gpg",
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
        "",
    );
    tool("pass", &["init", "kw@example.com"], "");
    tool(
        "pass",
        &["insert", "--multiline", "stripe/live"],
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc\nlogin: ops@example.com\nrotated quarterly\n",
    );
    tool("pass", &["insert", "--multiline", "email/work"], "correct horse battery\n");
    tool("pass", &["insert", "--multiline", ".hidden-dir-is-skipped"], "x\n");
    env.set("GNUPGHOME", gnupg.to_str().unwrap());

    // --dry-run stores nothing.
    let out = env.cmd().args(["import", "--from", "pass", "--dry-run"]).arg(&store).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("would be added: email/work, stripe/live"), "{}", stdout(&out));
    env.cmd().args(["get", "stripe/live"]).assert().code(3);

    let out = env.cmd().args(["import", "--from", "pass"]).arg(&store).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 added"), "{}", stdout(&out));
    assert_eq!(env.get("stripe/live"), "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    assert_eq!(env.get("email/work"), "correct horse battery");
    let info = env.cmd().args(["info", "stripe/live", "--json"]).output().unwrap();
    let info = stdout(&info);
    assert!(
        info.contains("login: ops@example.com") && info.contains("stripe"),
        "the rest is the note, the provider detected: {info}"
    );
    // Again: everything exists, nothing changes.
    let out = env.cmd().args(["import", "--from", "pass"]).arg(&store).output().unwrap();
    assert!(stdout(&out).contains("0 added") && stdout(&out).contains("2 skipped"), "{}", stdout(&out));
    // Not a store: a clear error.
    let out = env.cmd().args(["import", "--from", "pass"]).arg(env.path("")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
