//! The audit log end to end: every command records its event, the log holds no value in any
//! form, tampering is caught, a failed append stops the command, reports find what they should,
//! revoke refuses later use, and notifications reach a webhook without values.

use crate::common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::provider_server::{Reply, Request, Server};
use common::{Env, stderr, stdout};
use serde_json::Value;

fn events(env: &Env) -> Vec<Value> {
    let out = env.cmd().args(["audit", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn event_types(env: &Env) -> Vec<String> {
    events(env).iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

fn log_dir(env: &Env) -> PathBuf {
    env.home.join(".local/state/keyward/audit")
}

fn log_text(env: &Env) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(log_dir(env)).unwrap() {
        text.push_str(&String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()));
    }
    text
}

const VALUE: &str = "sentinel-AUDIT-value-0123456789";

#[test]
fn every_command_records_its_event_and_no_value_reaches_the_log() {
    let env = Env::with_recovery_key();
    env.add("app/key", VALUE, &[]);
    env.get("app/key");
    env.cmd().args(["update", "app/key", "--tag", "x"]).assert().success();
    env.cmd().args(["rename", "app/key", "app/key2"]).assert().success();
    env.cmd()
        .args(["rotate", "app/key2", "--no-verify"])
        .write_stdin("second-AUDIT-value-987654321")
        .assert()
        .success();
    env.cmd().args(["validate", "--all"]).assert().success();
    env.cmd().args(["exec", "--", "true"]).assert().success();
    env.cmd().args(["export", "--format", "json"]).assert().success();
    env.cmd().args(["import", "-"]).write_stdin("IMPORTED=imported-value-000\n").assert().success();
    env.cmd().arg("inject").write_stdin("{{ keyward:app/key2 }}").assert().success();
    env.cmd().arg("mask").write_stdin("log line\n").assert().success();
    let token = env.cmd().args(["key", "token", "add", "ci"]).output().unwrap();
    env.cmd().args(["key", "token", "rm", "ci", "--yes"]).assert().success();
    env.cmd().args(["rm", "imported", "--yes"]).assert().success();
    env.cmd().args(["revoke", "app/key2", "--yes"]).assert().success();
    env.cmd().arg("backup").arg(env.path("b.kwb")).assert().success();

    let types = event_types(&env);
    for expected in [
        "init",
        "add",
        "get",
        "update",
        "rename",
        "rotate.created",
        "rotate.promoted",
        "validate",
        "exec",
        "export",
        "import",
        "inject",
        "mask",
        "key.token.add",
        "key.token.rm",
        "rm",
        "revoke",
        "backup",
    ] {
        assert!(types.iter().any(|t| t == expected), "no {expected} event in {types:?}");
    }
    let all = events(&env);
    let get = all.iter().find(|e| e["event"] == "get").unwrap();
    assert_eq!(get["secret"], "app/key");
    assert_eq!(get["fp"].as_str().unwrap().len(), 8, "a short fingerprint");
    assert!(get["actor"].as_str().unwrap().contains('@'));
    assert_eq!(get["command"], "get");

    // Neither the values nor their common encodings or plain hashes are anywhere in the log.
    let text = log_text(&env);
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    for value in [VALUE, "second-AUDIT-value-987654321", "imported-value-000", token.as_str()] {
        let forms = [
            value.to_owned(),
            data_encoding::BASE64.encode(value.as_bytes()),
            data_encoding::HEXLOWER.encode(value.as_bytes()),
            data_encoding::HEXLOWER.encode(&sha2_256(value.as_bytes())),
            data_encoding::HEXLOWER.encode(&sha2_256(value.as_bytes()))[..8].to_owned(),
        ];
        for form in forms {
            assert!(!text.contains(&form), "the log holds a form of a value: {form}");
        }
    }
    let out = env.cmd().args(["audit", "verify"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("intact:"));
}

fn sha2_256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

#[test]
fn reading_the_log_appends_nothing_and_files_are_private() {
    let env = Env::with_recovery_key();
    env.add("a", VALUE, &[]);
    let before = events(&env).len();
    env.cmd().args(["audit", "--jsonl"]).assert().success();
    env.cmd().args(["audit", "report"]).assert().code(predicates::ord::lt(2));
    env.cmd().args(["audit", "verify"]).assert().success();
    assert_eq!(events(&env).len(), before);
    let out = env.cmd().args(["audit", "--path"]).output().unwrap();
    let path = PathBuf::from(stdout(&out).trim());
    assert!(path.starts_with(log_dir(&env)), "{}", path.display());
    assert_eq!(common::mode(&path), 0o600);
    assert_eq!(common::mode(&log_dir(&env)), 0o700);
}

#[test]
fn tampering_is_caught_and_named() {
    let env = Env::with_recovery_key();
    for i in 0..4 {
        env.add(&format!("s{i}"), &format!("value-{i}-abcdef"), &[]);
    }
    let path = PathBuf::from(stdout(&env.cmd().args(["audit", "--path"]).output().unwrap()).trim());
    let original = std::fs::read_to_string(&path).unwrap();
    let edited = original.replacen("\"s2\"", "\"s9\"", 1);
    std::fs::write(&path, &edited).unwrap();
    let out = env.cmd().args(["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("line 4"), "{}", stderr(&out));
    common::assert_one_line_error(&stderr(&out));
    let truncated: String = original.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, truncated).unwrap();
    let out = env.cmd().args(["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));
    std::fs::write(&path, &original).unwrap();
    env.cmd().args(["audit", "verify"]).assert().success();
}

#[test]
fn failed_unlocks_are_recorded_without_a_mac() {
    let env = Env::with_recovery_key();
    let mut wrong = Env::new();
    wrong.vault = env.vault.clone();
    wrong.home = env.home.clone();
    wrong.key = Some("kw1-aaaaaa-aaaaaa-aaaaaa-aaaaaa-aaaaaa-aaaaaa-aaaaaa-aaaaaa-aaaaaa-aaaaaa".into());
    let out = wrong.cmd().args(["get", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let mut no_key = Env::new();
    no_key.vault = env.vault.clone();
    no_key.home = env.home.clone();
    assert_eq!(no_key.cmd().args(["get", "x"]).output().unwrap().status.code(), Some(4));
    let failed: Vec<Value> = events(&env).into_iter().filter(|e| e["event"] == "unlock.failed").collect();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|e| e["unauthenticated"] == true));
    let out = env.cmd().args(["audit", "verify", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], true);
    assert!(v["unauthenticated"].as_u64().unwrap() >= 1);
}

#[test]
fn a_failed_append_stops_the_command_before_the_value_is_returned() {
    let env = Env::with_recovery_key();
    env.add("a", VALUE, &[]);
    // A directory where the log's next segment file would go: no process, root included, can append.
    let path = PathBuf::from(stdout(&env.cmd().args(["audit", "--path"]).output().unwrap()).trim());
    std::fs::rename(&path, env.path("moved.log")).unwrap();
    std::fs::create_dir(&path).unwrap();
    let out = env.cmd().args(["get", "a"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "no unaudited read");
    assert!(stderr(&out).contains("cannot record the audit event"));
    common::assert_one_line_error(&stderr(&out));
}

#[test]
fn report_findings_on_a_constructed_history() {
    let server = Server::start(|_r: &Request| Reply::status(401));
    let mut env = Env::with_recovery_key();
    env.set("KEYWARD_PROVIDER_STRIPE_URL", &server.url);
    let t0 = "2026-01-01T00:00:00Z";
    let add = |name: &str, value: &str, args: &[&str]| {
        env.at(t0).arg("add").arg(name).args(args).write_stdin(value.to_owned()).assert().success();
    };
    add("stripe/dev", &format!("sk_live_{}", "1".repeat(30)), &["--env", "dev", "--rotate-every", "30d"]);
    add("used/daily", "used-value-123456", &["--rotate-every", "never", "--expires", "2026-02-15"]);
    add("quiet/key", "quiet-value-123456", &["--rotate-every", "never"]);
    env.at("2026-02-05T00:00:00Z").args(["get", "used/daily"]).assert().success();
    for day in 10..21 {
        env.at(&format!("2026-01-{day}T00:00:00Z")).args(["validate", "stripe/dev", "--online"]).assert().code(1);
    }
    let out = env.at("2026-02-10T00:00:00Z").args(["audit", "report", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a failing finding fails the report: {}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().into(),
                f["secret"].as_str().unwrap().into(),
                f["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |sev: &str, secret: &str, kind: &str| findings.contains(&(sev.into(), secret.into(), kind.into()));
    assert!(has("fail", "stripe/dev", "rotation-overdue"), "{findings:?}");
    assert!(has("fail", "stripe/dev", "live-in-non-prod"), "{findings:?}");
    assert!(has("fail", "stripe/dev", "failing-checks"), "{findings:?}");
    assert!(has("warn", "quiet/key", "unused"), "{findings:?}");
    assert!(has("warn", "used/daily", "expiring"), "{findings:?}");
    assert!(!has("warn", "used/daily", "unused"), "used recently");
    assert!(report["totals"]["by_event"]["validate"].as_u64().unwrap() >= 10);
    assert!(report["totals"]["by_secret"]["used/daily"].as_u64().unwrap() >= 1);
    // The period filter narrows the totals.
    let out =
        env.at("2026-02-10T00:00:00Z").args(["audit", "report", "--json", "--since", "2026-02-01"]).output().unwrap();
    let narrow: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(narrow["totals"]["by_event"].get("validate"), None);
}

#[test]
fn revoke_refuses_later_use_and_notifies_without_values() {
    let received: Arc<Mutex<Vec<Request>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let server = Server::start(move |r: &Request| {
        sink.lock().unwrap().push(r.clone());
        Reply::status(if r.path() == "/credentials/revoke" { 202 } else { 200 })
    });
    let mut env = Env::with_recovery_key();
    let config = env.path("config.toml");
    std::fs::write(&config, format!("[notify]\nwebhooks = [\"{}/hook\"]\nformat = \"json\"\n", server.url)).unwrap();
    env.set("KEYWARD_CONFIG", config.to_str().unwrap());
    env.set("KEYWARD_PROVIDER_GITHUB_URL", &server.url);
    let ghp = format!("ghp_{}", "Q".repeat(36));
    env.add("github/ci", &ghp, &[]);
    env.add("internal/hook", "", &["--generate"]);

    let out = env.cmd().args(["revoke", "github/ci"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "asks first; without a terminal, --yes is needed");
    let out = env
        .cmd()
        .args(["revoke", "github/ci", "--compromised", "--reason", "pasted in chat", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("left to do"), "{}", stderr(&out));
    assert!(!stdout(&out).contains(&ghp) && !stderr(&out).contains(&ghp));

    let out = env.cmd().args(["get", "github/ci"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("revoked as compromised"), "{}", stderr(&out));
    assert_eq!(
        env.cmd().args(["exec", "--only", "github/ci", "--", "true"]).output().unwrap().status.code(),
        Some(125)
    );
    assert_eq!(env.cmd().args(["export", "--only", "github/ci"]).output().unwrap().status.code(), Some(6));

    let requests = received.lock().unwrap().clone();
    let report = requests.iter().find(|r| r.path() == "/credentials/revoke").expect("reported to GitHub");
    assert!(report.body.contains(&ghp), "the leaked key itself goes to the revocation endpoint");
    let hook = requests.iter().find(|r| r.path() == "/hook").expect("the webhook was called");
    let event: Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(event["event"], "compromised");
    assert_eq!(event["secret"], "github/ci");
    assert!(!hook.body.contains(&ghp), "no value in a notification");
    let compromised = events(&env).into_iter().find(|e| e["event"] == "compromised").unwrap();
    assert_eq!(compromised["details"]["reason"], "pasted in chat");

    // --rotate replaces an internal key at once.
    let before = env.get("internal/hook");
    let out = env.cmd().args(["revoke", "internal/hook", "--rotate", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let after = env.get("internal/hook");
    assert_ne!(before, after);
}

#[test]
fn grace_deadline_notifications_are_sent_once_per_window() {
    let received: Arc<Mutex<Vec<Request>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let server = Server::start(move |r: &Request| {
        sink.lock().unwrap().push(r.clone());
        Reply::status(200)
    });
    let mut env = Env::with_recovery_key();
    let config = env.path("config.toml");
    std::fs::write(&config, format!("[notify]\nwebhooks = [\"{}/hook\"]\n", server.url)).unwrap();
    env.set("KEYWARD_CONFIG", config.to_str().unwrap());
    let t0 = "2026-03-01T00:00:00Z";
    env.at(t0).args(["add", "svc/key"]).write_stdin("first-value-123456").assert().success();
    env.at(t0)
        .args(["rotate", "svc/key", "--no-verify", "--grace", "10d"])
        .write_stdin("second-value-123456")
        .assert()
        .success();
    let hooks = || received.lock().unwrap().iter().filter(|r| r.path() == "/hook").count();
    env.at("2026-03-02T00:00:00Z").args(["get", "svc/key"]).assert().success();
    assert_eq!(hooks(), 0, "nine days out: nothing yet");
    env.at("2026-03-05T00:00:00Z").args(["get", "svc/key"]).assert().success();
    env.at("2026-03-06T00:00:00Z").args(["get", "svc/key"]).assert().success();
    assert_eq!(hooks(), 1, "the 7-day notice, once");
    env.at("2026-03-10T12:00:00Z").args(["get", "svc/key"]).assert().success();
    env.at("2026-03-10T13:00:00Z").args(["get", "svc/key"]).assert().success();
    assert_eq!(hooks(), 2, "the 1-day notice, once");
    let body = received.lock().unwrap().iter().rfind(|r| r.path() == "/hook").unwrap().body.clone();
    let text: Value = serde_json::from_str(&body).unwrap();
    assert!(text["text"].as_str().unwrap().contains("svc/key"), "Slack-style text: {body}");
    assert!(!body.contains("first-value") && !body.contains("second-value"));
}
