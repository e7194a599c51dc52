//! `validate` and the provider registry end to end, against a real HTTP server on 127.0.0.1
//! standing in for each provider.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::provider_server::{Reply, Request, Server};
use common::{Env, stderr, stdout};
use serde_json::Value;

/// A Stripe-shaped live key carrying a marker the test server answers by.
fn stripe(marker: &str) -> String {
    format!("sk_live_{marker}{}", "0".repeat(30))
}

/// Answers by the marker in the credential: the statuses and failures providers really give.
fn by_marker(token: &str) -> Reply {
    let json = |s| Reply::json(s, "{}");
    match token {
        t if t.contains("Valid") => json(200),
        t if t.contains("Nope") => json(401),
        t if t.contains("Busy") => Reply::status(429),
        t if t.contains("Boom") => Reply::status(500),
        t if t.contains("Forb") => Reply::status(403),
        t if t.contains("Drop") => Reply::dropped(),
        t if t.contains("Move") => Reply::status(302).header("location", "http://127.0.0.1:1/elsewhere"),
        t if t.contains("Slow") => json(200).after(Duration::from_secs(3)),
        _ => Reply::status(404),
    }
}

fn stripe_server() -> Server {
    Server::start(|r: &Request| {
        if r.path() != "/v1/account" {
            return Reply::status(404);
        }
        by_marker(r.token().unwrap_or(""))
    })
}

fn env_with(server_var: &str, server: &Server) -> Env {
    let mut env = Env::with_recovery_key();
    env.set(server_var, &server.url);
    env
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)))
}

/// check name → (status, verdict) for each secret in a validate --json report.
fn results(report: &Value) -> HashMap<String, HashMap<String, (String, String)>> {
    report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let checks = r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let verdict = c["verdict"].as_str().unwrap_or("").to_owned();
                    (c["check"].as_str().unwrap().to_owned(), (c["status"].as_str().unwrap().to_owned(), verdict))
                })
                .collect();
            (r["name"].as_str().unwrap().to_owned(), checks)
        })
        .collect()
}

fn assert_no_value(out: &std::process::Output, values: &[String]) {
    for v in values {
        assert!(!stdout(out).contains(v.as_str()) && !stderr(out).contains(v.as_str()), "a key value was printed");
    }
}

#[test]
fn online_verdicts_are_tri_state_and_recorded() {
    let server = stripe_server();
    let env = env_with("KEYWARD_PROVIDER_STRIPE_URL", &server);
    let markers = ["Valid", "Nope", "Busy", "Boom", "Forb", "Drop", "Move", "Slow"];
    let values: Vec<String> = markers.iter().map(|m| stripe(m)).collect();
    for (m, v) in markers.iter().zip(&values) {
        env.add(&format!("stripe/{}", m.to_lowercase()), v, &["--env", "prod"]);
    }
    let out = env.cmd().args(["validate", "--all", "--online", "--timeout", "1s", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an invalid key fails the run: {}", stderr(&out));
    assert_no_value(&out, &values);
    let got = results(&json(&out));
    let verdict = |name: &str| got[name]["online: authentication"].1.clone();
    assert_eq!(verdict("stripe/valid"), "valid");
    assert_eq!(verdict("stripe/nope"), "invalid");
    for unknown in ["stripe/busy", "stripe/boom", "stripe/forb", "stripe/drop", "stripe/move", "stripe/slow"] {
        assert_eq!(verdict(unknown), "unknown", "{unknown}");
        assert_eq!(got[unknown]["online: authentication"].0, "warn");
    }
    // The redirect was not followed: nothing reached the address it pointed at, and the server saw
    // each key once (the dropped connection twice: one retry).
    let seen = server.requests();
    assert_eq!(seen.iter().filter(|r| r.token() == Some(&stripe("Drop"))).count(), 2);
    assert_eq!(seen.iter().filter(|r| r.token() == Some(&stripe("Move"))).count(), 1);

    // The verdict is kept in the secret's metadata.
    let info = json(&env.cmd().args(["info", "stripe/nope", "--json"]).output().unwrap());
    assert_eq!(info["last_check"]["verdict"], "invalid");
    assert!(info["last_check"]["detail"].as_str().unwrap().contains("401"));

    // --fail-on-unknown turns unknown into a failure.
    let out = env.cmd().args(["validate", "stripe/busy", "--online", "--fail-on-unknown", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = env.cmd().args(["validate", "stripe/busy", "--online"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "unknown alone only warns");
    assert!(stdout(&out).contains("unknown: HTTP 429"));
}

#[test]
fn slack_reads_the_body_hubspot_403_is_unknown_github_scopes_are_recorded() {
    let server = Server::start(|r: &Request| match r.path() {
        "/api/auth.test" if r.method == "POST" => match r.token().unwrap_or("") {
            t if t.contains("Valid") => Reply::json(200, r#"{"ok":true,"team":"x"}"#),
            t if t.contains("Nope") => Reply::json(200, r#"{"ok":false,"error":"invalid_auth"}"#),
            t if t.contains("Revk") => Reply::json(200, r#"{"ok":false,"error":"token_revoked"}"#),
            _ => Reply::json(200, r#"{"ok":false,"error":"ratelimited"}"#),
        },
        "/account-info/v3/api-usage/daily/private-apps" => Reply::status(403),
        "/user" if r.header("authorization").is_some_and(|a| a.starts_with("token ghp_")) => Reply::json(200, "{}")
            .header("X-OAuth-Scopes", "repo, read:org")
            .header("github-authentication-token-expiration", "2027-01-31 00:00:00 UTC"),
        _ => Reply::status(404),
    });
    let mut env = Env::with_recovery_key();
    for var in ["KEYWARD_PROVIDER_SLACK_URL", "KEYWARD_PROVIDER_HUBSPOT_URL", "KEYWARD_PROVIDER_GITHUB_URL"] {
        env.set(var, &server.url);
    }
    let slack = |m: &str| format!("xoxb-1234567890-1234567890123-{m}{}", "a".repeat(20));
    let values = [slack("Valid"), slack("Nope"), slack("Revk"), slack("Rate")];
    for (n, v) in ["ok", "nope", "revoked", "limited"].iter().zip(&values) {
        env.add(&format!("slack/{n}"), v, &[]);
    }
    env.add("hubspot/app", "pat-na1-01234567-89ab-cdef-0123-456789abcdef", &[]);
    let gh = format!("ghp_{}", "Z".repeat(36));
    env.add("github/ci", &gh, &[]);

    let out = env.cmd().args(["validate", "--all", "--online", "--json"]).output().unwrap();
    assert_no_value(&out, &values);
    let got = results(&json(&out));
    let verdict = |name: &str| got[name]["online: authentication"].1.clone();
    assert_eq!(verdict("slack/ok"), "valid");
    assert_eq!(verdict("slack/nope"), "invalid");
    assert_eq!(verdict("slack/revoked"), "invalid");
    assert_eq!(verdict("slack/limited"), "unknown");
    assert_eq!(verdict("hubspot/app"), "unknown");
    assert_eq!(verdict("github/ci"), "valid");

    let info = json(&env.cmd().args(["info", "github/ci", "--json"]).output().unwrap());
    assert_eq!(info["scopes"], serde_json::json!(["repo", "read:org"]));
    assert_eq!(info["expires"], "2027-01-31T00:00:00Z");
}

#[test]
fn two_part_credentials_use_the_paired_secret() {
    let sid = format!("AC{}", "0123456789abcdef".repeat(2));
    let token = "fedcba9876543210".repeat(2);
    let (sid2, token2) = (sid.clone(), token.clone());
    let server = Server::start(move |r: &Request| match r.basic() {
        Some((u, p)) if u == sid2 && p == token2 => Reply::json(200, "{}"),
        _ => Reply::status(401),
    });
    let env = env_with("KEYWARD_PROVIDER_TWILIO_URL", &server);
    env.add("twilio/sid", &sid, &[]);
    env.add("twilio/token", &token, &["--provider", "twilio", "--paired-with", "twilio/sid"]);
    let out = env.cmd().args(["validate", "twilio/token", "twilio/sid", "--online", "--json"]).output().unwrap();
    let got = results(&json(&out));
    assert_eq!(got["twilio/token"]["online: authentication"].1, "valid");
    assert_eq!(got["twilio/sid"]["online: authentication"].1, "unknown", "no pair, no verdict");
    assert_no_value(&out, &[sid.clone(), token.clone()]);
    // The pair must exist.
    let out = env.cmd().args(["update", "twilio/sid", "--paired-with", "no/such"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn aws_keys_are_checked_with_a_signed_sts_request() {
    let id = "AKIAIOSFODNN7EXAMPL2".to_owned();
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned();
    let (id2, secret2) = (id.clone(), secret.clone());
    let server = Server::start(move |r: &Request| {
        // Recompute the signature over what actually arrived: host, date and body must be the
        // ones that were signed.
        let auth = r.header("authorization").unwrap_or("");
        let date = r.header("x-amz-date").unwrap_or("");
        let canonical = format!(
            "POST\n/\n\ncontent-type:{}\nhost:{}\nx-amz-date:{date}\n\ncontent-type;host;x-amz-date\n{}",
            r.header("content-type").unwrap_or(""),
            r.header("host").unwrap_or(""),
            data_encoding::HEXLOWER.encode(&sha2_digest(r.body.as_bytes()))
        );
        let want = keyward::providers::aws::signature(&secret2, date, "us-east-1", "sts", &canonical);
        let ok = r.body == "Action=GetCallerIdentity&Version=2011-06-15"
            && auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={id2}/"))
            && auth.ends_with(&format!("Signature={want}"));
        if ok {
            Reply::status(200)
        } else {
            Reply::status(403)
                .header("content-type", "text/xml")
                .body("<Error><Code>InvalidClientTokenId</Code></Error>")
        }
    });
    let env = env_with("KEYWARD_PROVIDER_AWS_URL", &server);
    env.add("aws/id", &id, &[]);
    env.add("aws/secret", &secret, &["--provider", "aws", "--paired-with", "aws/id"]);
    env.add("aws/wrong", &"A".repeat(40), &["--provider", "aws", "--paired-with", "aws/id"]);
    let out = env.cmd().args(["validate", "aws/secret", "aws/wrong", "--online", "--json"]).output().unwrap();
    let got = results(&json(&out));
    assert_eq!(got["aws/secret"]["online: authentication"].1, "valid", "{}", stdout(&out));
    assert_eq!(got["aws/wrong"]["online: authentication"].1, "invalid");
    assert_no_value(&out, &[secret]);
}

fn sha2_digest(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

#[test]
fn checks_run_concurrently_over_one_client() {
    let server = Server::start(|r: &Request| by_marker(r.token().unwrap_or("")).after(Duration::from_millis(300)));
    let env = env_with("KEYWARD_PROVIDER_STRIPE_URL", &server);
    for i in 0..24 {
        env.add(&format!("k/{i}"), &stripe(&format!("Valid{i}")), &[]);
    }
    let out = env.cmd().args(["validate", "--all", "--online", "--concurrency", "8", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let in_flight = server.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!((4..=8).contains(&in_flight), "{in_flight} requests in flight at most");
}

#[test]
fn offline_checks_environment_expiry_and_rotation_age() {
    let env = Env::with_recovery_key();
    let start = "2026-01-01T00:00:00Z";
    let add = |name: &str, value: &str, args: &[&str]| {
        env.at(start).arg("add").arg(name).args(args).write_stdin(value.to_owned()).assert().success();
    };
    add("live/in-dev", &stripe("A"), &["--env", "dev"]);
    add("test/in-prod", &format!("sk_test_{}", "1".repeat(30)), &["--env", "prod"]);
    add("live/in-prod", &stripe("B"), &["--env", "prod", "--expires", "2026-01-20", "--rotate-every", "30d"]);
    add("not/stripe", "hello-world-123", &["--provider", "stripe"]);

    let out = env.at(start).args(["validate", "--all", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = results(&json(&out));
    assert_eq!(got["live/in-dev"]["environment"].0, "fail");
    assert_eq!(got["test/in-prod"]["environment"].0, "fail");
    assert_eq!(got["live/in-prod"]["environment"].0, "ok");
    assert_eq!(got["live/in-prod"]["expiry"].0, "ok");
    assert_eq!(got["live/in-prod"]["rotation"].0, "ok");
    assert_eq!(got["not/stripe"]["format"].0, "fail");
    assert_eq!(got["live/in-prod"]["format"].0, "ok");

    let soon = env.at("2026-01-10T00:00:00Z").args(["validate", "live/in-prod", "--json"]).output().unwrap();
    assert_eq!(soon.status.code(), Some(0), "a warning alone does not fail");
    assert_eq!(results(&json(&soon))["live/in-prod"]["expiry"].0, "warn");
    let later = "2026-02-05T00:00:00Z";
    let out = env.at(later).args(["validate", "live/in-prod", "--json"]).output().unwrap();
    let got = results(&json(&out));
    assert_eq!(got["live/in-prod"]["expiry"].0, "fail");
    assert_eq!(got["live/in-prod"]["rotation"].0, "warn");
    assert_eq!(out.status.code(), Some(1));
    let strict = env.at(later).args(["validate", "live/in-prod", "--strict", "--json"]).output().unwrap();
    assert_eq!(results(&json(&strict))["live/in-prod"]["rotation"].0, "fail");

    // --env selects as exec and export do (issue 19, item 4): dev's secrets and those with no
    // environment; a mistyped environment fails closed (item 3); no selection is a usage error.
    let out = env.cmd().args(["validate", "--env", "dev", "--json"]).output().unwrap();
    let doc = json(&out);
    let names: Vec<&str> = doc.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["live/in-dev", "not/stripe"]);
    let out = env.cmd().args(["validate", "--env", "prdo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    common::assert_one_line_error(&stderr(&out));
    assert!(stderr(&out).contains("did you mean prod?"), "{}", stderr(&out));
    let out = env.cmd().arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    common::assert_one_line_error(&stderr(&out));
}

#[test]
fn stdin_mode_needs_no_vault() {
    let env = Env::new(); // no vault at all
    let key = stripe("Z");
    let out =
        env.cmd().args(["validate", "--stdin", "--env", "dev", "--json"]).write_stdin(key.clone()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = results(&json(&out));
    assert_eq!(got["(stdin)"]["environment"].0, "fail");
    assert_eq!(got["(stdin)"]["format"].0, "ok");
    assert_no_value(&out, std::slice::from_ref(&key));
    let out = env.cmd().args(["validate", "--stdin", "--env", "prod"]).write_stdin(key).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn provider_is_detected_from_the_value_and_unknown_ids_are_refused() {
    let env = Env::with_recovery_key();
    let cases = [
        (format!("ghp_{}", "a1".repeat(18)), Some("github")),
        (format!("sk-ant-api03-{}AA", "x".repeat(93)), Some("anthropic")),
        (format!("xoxb-1234567890-1234567890-{}", "b".repeat(24)), Some("slack")),
        (format!("SG.{}.{}", "c".repeat(22), "d".repeat(43)), Some("sendgrid")),
        (format!("AIza{}", "e".repeat(35)), Some("google")),
        (format!("glpat-{}", "f".repeat(20)), Some("gitlab")),
        (format!("sk-proj-{}", "g".repeat(60)), Some("openai")),
        ("0123456789abcdef0123456789abcdef".to_owned(), None),
        ("just-some-password".to_owned(), None),
    ];
    for (i, (value, want)) in cases.iter().enumerate() {
        let name = format!("k/{i}");
        env.add(&name, value, &[]);
        let info = json(&env.cmd().args(["info", &name, "--json"]).output().unwrap());
        assert_eq!(info["provider"].as_str(), *want, "{value}");
    }
    let out = env.cmd().args(["add", "x", "--provider", "nosuch"]).write_stdin("v").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("keyward providers"));
    // A value that does not fit the given provider is stored with a warning.
    let out = env.cmd().args(["add", "y", "--provider", "stripe"]).write_stdin("not-a-key").output().unwrap();
    assert!(out.status.success());
    assert!(stderr(&out).contains("does not look like a Stripe key"));
}

#[test]
fn providers_lists_the_registry() {
    let env = Env::new();
    let out = env.cmd().args(["providers", "--json"]).output().unwrap();
    let list = json(&out);
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(ids.len() >= 27 && ids.contains(&"stripe") && ids.contains(&"generic"));
    let out = env.cmd().arg("providers").output().unwrap();
    assert!(stdout(&out).contains("Stripe"));
}

#[test]
fn config_overrides_base_urls_adds_providers_and_reports_errors_precisely() {
    let server = stripe_server();
    let mut env = Env::with_recovery_key();
    let config = env.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.stripe]\nbase_url = \"{}\"\n\n[providers.acme]\nname = \"Acme\"\nlive = [\"acme_live_\"]\n\
             [[providers.acme.patterns]]\nkind = \"key\"\nregex = '(?P<prefix>acme_(?:live|test)_)[a-z0-9]{{32}}'\nmax_len = 42\n",
            server.url
        ),
    )
    .unwrap();
    env.set("KEYWARD_CONFIG", config.to_str().unwrap());
    env.add("stripe/ok", &stripe("Valid"), &[]);
    let out = env.cmd().args(["validate", "stripe/ok", "--online", "--json"]).output().unwrap();
    assert_eq!(results(&json(&out))["stripe/ok"]["online: authentication"].1, "valid");
    env.add("acme/key", &format!("acme_live_{}", "a".repeat(32)), &["--env", "dev"]);
    let info = json(&env.cmd().args(["info", "acme/key", "--json"]).output().unwrap());
    assert_eq!(info["provider"], "acme");
    let out = env.cmd().args(["validate", "acme/key", "--json"]).output().unwrap();
    assert_eq!(results(&json(&out))["acme/key"]["environment"].0, "fail");

    // Plain http to anything but loopback is refused, not sent.
    std::fs::write(&config, "[providers.stripe]\nbase_url = \"http://api.example.com\"\n").unwrap();
    let out = env.cmd().args(["validate", "stripe/ok", "--online"]).output().unwrap();
    assert!(stdout(&out).contains("refusing to send a key over plain http"));

    std::fs::write(&config, "[providers.stripe]\nname = \"Stripe\"\n\n[validate]\ntimeout = \"forever\"\n").unwrap();
    let out = env.cmd().args(["validate", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    common::assert_one_line_error(&err);
    assert!(err.contains("config.toml") && err.contains("line 5") && err.contains("validate.timeout"), "{err}");

    std::fs::write(
        &config,
        "[providers.acme]\nname = \"Acme\"\n[[providers.acme.patterns]]\nkind = \"k\"\nregex = '(['\nmax_len = 3\n",
    )
    .unwrap();
    let err = stderr(&env.cmd().args(["providers"]).output().unwrap());
    assert!(err.contains("line 5") && err.contains("providers.acme.patterns[0].regex"), "{err}");
}

/// Issue 17, CI with members: `validate --online` on a vault committed to git does not rewrite
/// the shared file; the verdicts stay on this machine and `info` shows them.
#[test]
fn online_checks_of_a_committed_vault_do_not_rewrite_it() {
    let server = stripe_server();
    let mut env = env_with("KEYWARD_PROVIDER_STRIPE_URL", &server);
    let repo = env.path("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join(".keyward")).unwrap();
    std::fs::copy(&env.vault, repo.join(".keyward/vault.kw")).unwrap();
    env.vault = repo.join(".keyward/vault.kw");
    env.add("stripe/valid", &stripe("Valid"), &["--env", "prod"]);
    let before = std::fs::read(&env.vault).unwrap();
    let out = env.cmd().args(["validate", "stripe/valid", "--online", "--timeout", "2s"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("kept on this machine"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&env.vault).unwrap(), before, "the committed file is unchanged");
    let info = json(&env.cmd().args(["info", "stripe/valid", "--json"]).output().unwrap());
    assert_eq!(info["last_check"]["verdict"], "valid", "{info}");
    assert_eq!(info["last_check"]["kept"], "on this machine");
}
