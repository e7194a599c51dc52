//! Staged rotation end to end: create → verify (against a loopback provider) → promote, and
//! promote --force, abort, rollback, finish, grace periods, --due, and a crash between steps.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::provider_server::{Reply, Request, Server};
use common::{Env, stderr, stdout};
use serde_json::Value;

fn stripe(marker: &str) -> String {
    format!("sk_live_{marker}{}", "0".repeat(30))
}

/// Stripe stand-in: keys with "Valid" work, "Nope" are rejected, "Slow" take 20 s.
fn server() -> Server {
    Server::start(|r: &Request| match r.token().unwrap_or("") {
        t if t.contains("Valid") => Reply::json(200, "{}"),
        t if t.contains("Slow") => Reply::json(200, "{}").after(Duration::from_secs(20)),
        _ => Reply::json(401, "{}"),
    })
}

fn env(server: &Server) -> Env {
    let mut env = Env::with_recovery_key();
    env.set("KEYWARD_PROVIDER_STRIPE_URL", &server.url);
    env
}

fn rotate(env: &Env, args: &[&str], value: Option<&str>) -> std::process::Output {
    let mut cmd = env.cmd();
    cmd.arg("rotate").args(args);
    cmd.write_stdin(value.unwrap_or("").to_owned());
    cmd.output().unwrap()
}

fn get(env: &Env, name: &str, version: &str) -> Option<String> {
    let out = env.cmd().args(["get", "-n", name, "--version", version]).output().unwrap();
    out.status.success().then(|| stdout(&out))
}

fn stages(env: &Env, name: &str) -> Vec<(u64, String)> {
    let out = env.cmd().args(["info", name, "--json"]).output().unwrap();
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut v: Vec<(u64, String)> = info["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_u64().unwrap(), v["stage"].as_str().unwrap().to_owned()))
        .collect();
    v.sort();
    v
}

fn no_values(out: &std::process::Output, values: &[&str]) {
    for v in values {
        assert!(!stdout(out).contains(v) && !stderr(out).contains(v), "a value was printed: {}", stderr(out));
    }
}

#[test]
fn a_verified_value_is_promoted_and_the_old_one_kept_for_the_grace_period() {
    let server = server();
    let env = env(&server);
    let (old, new) = (stripe("Valid1"), stripe("Valid2"));
    env.add("stripe/live", &old, &["--env", "prod"]);
    let out = rotate(&env, &["stripe/live"], Some(&new));
    assert!(out.status.success(), "{}", stderr(&out));
    no_values(&out, &[&old, &new]);
    assert!(stderr(&out).contains("dashboard.stripe.com"), "the rotation hint is shown");
    assert!(stdout(&out).contains("promoted version 2"));
    assert_eq!(get(&env, "stripe/live", "current").as_deref(), Some(new.as_str()));
    assert_eq!(get(&env, "stripe/live", "previous").as_deref(), Some(old.as_str()));
    assert_eq!(stages(&env, "stripe/live"), [(1, "previous".into()), (2, "current".into())]);
    let info: Value =
        serde_json::from_slice(&env.cmd().args(["info", "stripe/live", "--json"]).output().unwrap().stdout).unwrap();
    assert!(info["versions"][1]["verified"].as_str().unwrap().starts_with("online"));
    assert!(server.requests().iter().any(|r| r.token() == Some(&new)), "the new key was checked at the provider");

    // A second rotation revokes the oldest: at most one previous.
    let out = rotate(&env, &["stripe/live"], Some(&stripe("Valid3")));
    assert!(out.status.success());
    assert_eq!(stages(&env, "stripe/live"), [(1, "revoked".into()), (2, "previous".into()), (3, "current".into())]);
    // The same value again is refused.
    let out = rotate(&env, &["stripe/live"], Some(&stripe("Valid3")));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_failed_verification_keeps_the_pending_value_and_current_untouched() {
    let server = server();
    let env = env(&server);
    let (old, bad) = (stripe("Valid1"), stripe("Nope1"));
    env.add("stripe/live", &old, &[]);
    let out = rotate(&env, &["stripe/live"], Some(&bad));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    no_values(&out, &[&old, &bad]);
    assert!(stderr(&out).contains("--promote --force") && stderr(&out).contains("--abort"));
    assert_eq!(get(&env, "stripe/live", "current").as_deref(), Some(old.as_str()));
    assert_eq!(get(&env, "stripe/live", "pending").as_deref(), Some(bad.as_str()));

    // A second rotation is refused while one is pending.
    let out = rotate(&env, &["stripe/live"], Some(&stripe("Valid9")));
    assert_eq!(out.status.code(), Some(6));
    common::assert_one_line_error(&stderr(&out));

    // --promote verifies again (still rejected); --force promotes anyway, and says so.
    assert_eq!(rotate(&env, &["stripe/live", "--promote"], None).status.code(), Some(1));
    let out = rotate(&env, &["stripe/live", "--promote", "--force"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(get(&env, "stripe/live", "current").as_deref(), Some(bad.as_str()));
    assert!(stdout(&out).contains("forced"));
}

#[test]
fn abort_discards_the_pending_value_and_asks_first() {
    let server = server();
    let env = env(&server);
    env.add("stripe/live", &stripe("Valid1"), &[]);
    assert_eq!(rotate(&env, &["stripe/live"], Some(&stripe("Nope2"))).status.code(), Some(1));
    let out = rotate(&env, &["stripe/live", "--abort"], None);
    assert_eq!(out.status.code(), Some(2), "no terminal and no --yes: nothing discarded");
    assert!(get(&env, "stripe/live", "pending").is_some());
    let out = rotate(&env, &["stripe/live", "--abort", "--yes"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(get(&env, "stripe/live", "pending").is_none());
    assert_eq!(rotate(&env, &["stripe/live", "--abort", "--yes"], None).status.code(), Some(3));
}

#[test]
fn rollback_and_finish() {
    let server = server();
    let env = env(&server);
    let (v1, v2) = (stripe("Valid1"), stripe("Valid2"));
    env.add("stripe/live", &v1, &[]);
    assert!(rotate(&env, &["stripe/live"], Some(&v2)).status.success());
    let out = rotate(&env, &["stripe/live", "--rollback"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(get(&env, "stripe/live", "current").as_deref(), Some(v1.as_str()));
    assert_eq!(stages(&env, "stripe/live"), [(1, "current".into()), (2, "revoked".into())]);
    assert_eq!(rotate(&env, &["stripe/live", "--rollback"], None).status.code(), Some(3), "no previous left");

    // finish: previous → revoked; --online reports that the provider still accepts the old key.
    let v3 = stripe("Valid3");
    assert!(rotate(&env, &["stripe/live"], Some(&v3)).status.success());
    let out = rotate(&env, &["stripe/live", "--finish", "--online"], None);
    assert_eq!(out.status.code(), Some(1), "the old key is still live at the provider");
    assert!(stderr(&out).contains("still accepts the old value"));
    no_values(&out, &[&v1, &v3]);
    assert!(get(&env, "stripe/live", "previous").is_none());
    assert_eq!(rotate(&env, &["stripe/live", "--finish"], None).status.code(), Some(3));

    // A rejected old key is the good outcome.
    assert!(rotate(&env, &["stripe/live", "--no-verify"], Some(&stripe("Nope4"))).status.success());
    assert!(rotate(&env, &["stripe/live"], Some(&stripe("Valid5"))).status.success());
    let out = rotate(&env, &["stripe/live", "--finish", "--online", "--json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["old_value_at_provider"], "invalid");
}

#[test]
fn generate_is_for_internal_and_generic_secrets() {
    let server = server();
    let env = env(&server);
    env.add("internal/hook", "", &["--generate", "--prefix", "whk_"]);
    let before = get(&env, "internal/hook", "current").unwrap();
    let out = rotate(&env, &["internal/hook", "--generate", "--prefix", "whk_"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = get(&env, "internal/hook", "current").unwrap();
    assert!(after.starts_with("whk_") && after != before);
    no_values(&out, &[&before, &after]);
    env.add("stripe/live", &stripe("Valid1"), &[]);
    let out = rotate(&env, &["stripe/live", "--generate"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Stripe issues its keys itself"));
}

#[test]
fn grace_deadlines_notice_then_expire_on_the_next_write() {
    let server = server();
    let env = env(&server);
    env.at("2026-03-01T00:00:00Z").args(["add", "stripe/live"]).write_stdin(stripe("Valid1")).assert().success();
    env.at("2026-03-01T00:00:00Z")
        .args(["rotate", "stripe/live", "--grace", "10d"])
        .write_stdin(stripe("Valid2"))
        .assert()
        .success();
    let quiet = env.at("2026-03-02T00:00:00Z").args(["get", "stripe/live"]).output().unwrap();
    assert!(stderr(&quiet).is_empty(), "no notice 9 days out: {}", stderr(&quiet));
    let week = env.at("2026-03-05T00:00:00Z").args(["get", "stripe/live"]).output().unwrap();
    assert!(stderr(&week).contains("within 7 days") && stderr(&week).contains("2026-03-11T00:00:00Z"));
    // Once a day per secret (issue 19): a job reading it all day is told once.
    let again = env.at("2026-03-05T18:00:00Z").args(["get", "stripe/live"]).output().unwrap();
    assert!(stderr(&again).is_empty(), "the same day: {}", stderr(&again));
    let next_day = env.at("2026-03-06T08:00:00Z").args(["exec", "--", "true"]).output().unwrap();
    assert!(stderr(&next_day).contains("within 7 days"), "{}", stderr(&next_day));
    let day = env.at("2026-03-10T12:00:00Z").args(["get", "stripe/live"]).output().unwrap();
    assert!(stderr(&day).contains("within 1 day"));
    // Past the deadline the previous value is no longer handed out, though only the first
    // write after it revokes it in the file (reads never write).
    let before = std::fs::read(&env.vault).unwrap();
    let late = env.at("2026-03-12T00:00:00Z").args(["get", "stripe/live", "--version", "previous"]).output().unwrap();
    assert_eq!(late.status.code(), Some(6), "{}", stderr(&late));
    assert!(stderr(&late).contains("grace period ended"), "{}", stderr(&late));
    assert!(late.stdout.is_empty());
    assert_eq!(std::fs::read(&env.vault).unwrap(), before);
    env.at("2026-03-12T00:00:00Z").args(["update", "stripe/live", "--note", "x"]).assert().success();
    assert!(get(&env, "stripe/live", "previous").is_none());
    assert_eq!(stages(&env, "stripe/live"), [(1, "revoked".into()), (2, "current".into())]);
}

#[test]
fn due_lists_secrets_by_policy_and_fails_when_overdue() {
    let env = Env::with_recovery_key();
    env.at("2026-01-01T00:00:00Z")
        .args(["add", "a", "--rotate-every", "30d"])
        .write_stdin("value-a")
        .assert()
        .success();
    env.at("2026-01-01T00:00:00Z")
        .args(["add", "b", "--rotate-every", "90d"])
        .write_stdin("value-b")
        .assert()
        .success();
    env.at("2026-01-01T00:00:00Z")
        .args(["add", "c", "--rotate-every", "never"])
        .write_stdin("value-c")
        .assert()
        .success();
    let out = env.at("2026-01-20T00:00:00Z").args(["rotate", "--due", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!((list[0]["name"].as_str(), list[0]["status"].as_str()), (Some("a"), Some("due")));
    let out = env.at("2026-02-05T00:00:00Z").args(["rotate", "--due"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("overdue"));
    let out = env.at("2026-02-05T00:00:00Z").args(["rotate", "--due", "--within", "90d", "--json"]).output().unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().len(), 2);
}

#[test]
fn a_crash_while_verifying_keeps_current_and_pending() {
    let server = server();
    let env = env(&server);
    let (old, new) = (stripe("Valid1"), stripe("Slow1"));
    env.add("stripe/live", &old, &[]);
    let mut cmd = env.std_cmd();
    cmd.args(["rotate", "stripe/live"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(new.as_bytes()).unwrap();
    }
    // Wait until the pending value is stored and the provider is being asked, then kill -9.
    let start = Instant::now();
    while !server.requests().iter().any(|r| r.token() == Some(&new)) {
        assert!(start.elapsed() < Duration::from_secs(15), "rotate never reached verification");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(get(&env, "stripe/live", "current").as_deref(), Some(old.as_str()));
    assert_eq!(get(&env, "stripe/live", "pending").as_deref(), Some(new.as_str()));
    let leftovers: Vec<_> = std::fs::read_dir(env.vault.parent().unwrap())
        .unwrap()
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}
