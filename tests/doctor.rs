//! `keyward doctor`: what it finds on a healthy setup and on broken ones.

use crate::common;

use common::{Env, stdout};
use serde_json::Value;

fn findings(env: &Env) -> (Option<i32>, Vec<(String, String, String)>) {
    let out = env.cmd().args(["doctor", "--json"]).output().unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
                f["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (out.status.code(), rows)
}

fn status_of<'a>(rows: &'a [(String, String, String)], check: &str) -> Vec<&'a str> {
    rows.iter().filter(|r| r.0 == check).map(|r| r.1.as_str()).collect()
}

#[test]
fn a_healthy_vault_passes() {
    let env = Env::with_recovery_key();
    let (code, rows) = findings(&env);
    assert_eq!(code, Some(0), "{rows:?}");
    assert_eq!(status_of(&rows, "unlock"), ["ok"]);
    assert_eq!(status_of(&rows, "permissions"), ["ok"]);
    assert_eq!(status_of(&rows, "recovery"), ["ok"]);
    assert_eq!(status_of(&rows, "config"), ["ok"]);
    assert!(rows.iter().any(|r| r.0 == "vault" && r.2.contains("KEYWARD_VAULT")), "says why this vault");
    let out = env.cmd().arg("doctor").output().unwrap();
    assert!(stdout(&out).contains("unlock"));
}

#[test]
fn problems_are_reported_with_what_to_do() {
    let env = Env::new();
    let (code, rows) = findings(&env);
    assert_eq!(code, Some(1));
    assert!(rows.iter().any(|r| r.0 == "vault file" && r.1 == "fail" && r.2.contains("keyward init")));

    let mut env = Env::with_recovery_key();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&env.vault).unwrap().permissions(), 0o644);
    std::fs::set_permissions(&env.vault, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let config = env.path("config.toml");
    std::fs::write(&config, "[rotation]\ngrace = \"soon\"\n").unwrap();
    env.set("KEYWARD_CONFIG", config.to_str().unwrap());
    let (code, rows) = findings(&env);
    assert_eq!(code, Some(1));
    assert!(rows.iter().any(|r| r.0 == "permissions" && r.1 == "warn" && r.2.contains("chmod 600")), "{rows:?}");
    assert!(rows.iter().any(|r| r.0 == "config" && r.1 == "fail" && r.2.contains("line 2")));

    env.key = None;
    let (_, rows) = findings(&env);
    assert_eq!(status_of(&rows, "unlock"), ["fail"]);
}
