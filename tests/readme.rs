//! The README's console examples, run (issue 19): every `$ ` line of every ```console block is
//! either run, in README order, on a real terminal in one fresh HOME — as a new user would type
//! them — and its output compared with the README's, or listed below with the reason it is not
//! run here. A new example that is neither fails this test, so README and behaviour cannot drift.
//!
//! Comparison: each line the README shows must appear in the output, in order (a command may
//! print more: warnings about this machine's keyrings, say). Lines are compared with runs of
//! spaces collapsed (column widths follow the values), the test's HOME read as `/home/me`, dates
//! and times as `DATE`, day counts as `N`, and `…` in the README matching anything.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::terminal::Terminal;

/// Examples that are not run, and why. Each must still be in the README (checked).
const NOT_RUN: &[(&str, &str)] = &[
    ("curl -H", "calls api.stripe.com"),
    ("keyward validate --all --online", "asks the providers' real endpoints (tests/validate.rs runs it on loopback)"),
    ("printf %s \"$NEW_KEY\" | keyward rotate stripe/live", "verifies at api.stripe.com (tests/rotate.rs on loopback)"),
    ("some-command", "a placeholder for the user's program"),
    ("keyward exec --env prod -- ./deploy.sh", "the user's deploy script"),
    ("STRIPE_KEY=keyward:stripe/test keyward exec -- node app.js", "the user's node app"),
    ("keyward inject -i config.tmpl", "the user's template (tests/export_import.rs)"),
    ("keyward export --env prod --format github", "needs GITHUB_ENV of a GitHub runner (tests/export_import.rs)"),
    ("keyward import .env", "the user's .env (tests/export_import.rs)"),
    ("keyward scan", "a repository of the user's (tests/scan.rs)"),
    ("keyward audit --since 7d", "a week of use (tests/audit.rs)"),
    ("keyward audit report", "a month of use (tests/audit.rs)"),
    ("keyward remote add prod-aws", "the user's AWS account (tests/remotes.rs runs remotes against moto)"),
    ("keyward remote add team-kv", "the user's Vault server (tests/remotes.rs runs remotes against OpenBao)"),
    ("keyward remote status prod-aws", "the user's AWS account (tests/remotes.rs)"),
    ("keyward push prod-aws", "the user's AWS account (tests/remotes.rs)"),
    ("keyward pull prod-aws", "the user's AWS account (tests/remotes.rs)"),
];

/// What the examples' `$STRIPE_KEY`-style variables hold: realistic shapes, ending as the
/// README's masked forms show them.
const VARIABLES: &[(&str, &str)] = &[
    ("STRIPE_KEY", "sk_live_51HbX9ReadmeLiveValue000000000aB12"),
    ("STRIPE_TEST_KEY", "sk_test_51HbX9ReadmeTestValue000000003vR7"),
    ("GITHUB_TOKEN", "ghp_ReadmeTokenValue0000000000000000hD2f"),
];

struct Example {
    command: String,
    shown: Vec<String>,
}

fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.starts_with("```console") {
            in_block = true;
        } else if line.starts_with("```") {
            in_block = false;
        } else if in_block {
            match line.strip_prefix("$ ") {
                Some(command) => out.push(Example { command: command.to_owned(), shown: Vec::new() }),
                None if !line.trim().is_empty() => {
                    out.last_mut().expect("output after a command").shown.push(line.to_owned());
                }
                None => {}
            }
        }
    }
    out
}

fn normalize(line: &str, home: &str) -> String {
    let line = line.replace(home, "/home/me");
    let dates = regex::Regex::new(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?").unwrap();
    let line = dates.replace_all(&line, "DATE");
    let days = regex::Regex::new(r"\b\d+ days?\b").unwrap();
    let line = days.replace_all(&line, "N days");
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `actual` matches `expected`, where `…` in `expected` matches anything.
fn matches(expected: &str, actual: &str) -> bool {
    let pieces: Vec<&str> = expected.split('…').collect();
    let mut rest = actual;
    for (i, piece) in pieces.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(piece) else { return false };
            rest = r;
        } else if i == pieces.len() - 1 && !piece.is_empty() {
            return rest.ends_with(piece);
        } else {
            let Some(at) = rest.find(piece) else { return false };
            rest = &rest[at + piece.len()..];
        }
    }
    pieces.len() > 1 || rest.is_empty()
}

fn run_on_terminal(command: &str, home: &Path) -> (bool, String) {
    let bin = assert_cmd::cargo::cargo_bin("keyward");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", command])
        .env_clear()
        .current_dir(home)
        .env("HOME", home)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.parent().unwrap().display()))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    for (name, value) in VARIABLES {
        cmd.env(name, value);
    }
    let (status, screen) = Terminal::spawn_sized(cmd, 200, 50).finish();
    (status.success(), screen.replace("\r\n", "\n"))
}

#[test]
fn every_console_example_runs_as_shown_or_says_why_not() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(examples.len() >= 10, "the README's examples were found");
    for (prefix, _) in NOT_RUN {
        assert!(examples.iter().any(|e| e.command.starts_with(prefix)), "{prefix:?} is no longer in the README");
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("me");
    std::fs::create_dir(&home).unwrap();
    let home_text = home.display().to_string();
    let mut ran = 0;
    for example in &examples {
        if NOT_RUN.iter().any(|(prefix, _)| example.command.starts_with(prefix)) {
            continue;
        }
        let (ok, screen) = run_on_terminal(&example.command, &home);
        assert!(ok, "`{}` failed:\n{screen}", example.command);
        let actual: Vec<String> = screen.lines().map(|l| normalize(l, &home_text)).collect();
        let mut at = 0;
        for shown in &example.shown {
            let expected = normalize(shown, &home_text);
            match actual[at..].iter().position(|a| matches(&expected, a)) {
                Some(i) => at += i + 1,
                None => panic!(
                    "`{}`: the README shows {shown:?}, which is not in the output (after line {at}):\n{screen}",
                    example.command
                ),
            }
        }
        ran += 1;
    }
    assert!(ran >= 8, "{ran} examples ran");
    // The kernel keyring entry init made is this test's: remove it.
    let _ = run_on_terminal("keyward lock", &home);
}

#[test]
fn the_matcher_is_strict_where_it_should_be() {
    assert!(matches("key=sk_test_…3vR7 token=ghp_…hD2f", "key=sk_test_…3vR7 token=ghp_…hD2f"));
    assert!(matches("kw1-…", "kw1-abcdef-ghijkl"));
    assert!(!matches("added stripe/live", "added stripe/live2"));
    assert!(!matches("a…b", "a-c"));
    assert_eq!(normalize("rotated 3 days ago on 2026-11-26", "/x"), "rotated N days ago on DATE");
}
