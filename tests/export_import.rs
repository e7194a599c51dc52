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
