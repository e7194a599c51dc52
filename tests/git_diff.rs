//! Issue 17 (git integration, the diff part): `keyward git setup` registers the diff driver,
//! and `git diff` / `git log -p` on a project vault show secrets by name, metadata, versions and
//! members — never a value or its base64 — through the real git.

use std::path::Path;
use std::process::Command;

use crate::common;

use common::{Env, stderr, stdout};

/// git in `repo` with this test's environment (HOME, the vault key) and `keyward` on PATH.
fn git(env: &Env, repo: &Path, args: &[&str]) -> std::process::Output {
    let bin_dir = assert_cmd::cargo::cargo_bin("keyward").parent().unwrap().to_owned();
    let mut cmd = Command::new("git");
    cmd.env_clear();
    for (k, v) in env.cmd().get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()))
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn git_diff_shows_secrets_by_name_and_never_a_value() {
    let mut env = Env::with_recovery_key();
    let repo = env.path("repo");
    std::fs::create_dir_all(repo.join(".keyward")).unwrap();
    ok(&git(&env, &repo, &["init", "-q", "-b", "main"]));
    std::fs::copy(&env.vault, repo.join(".keyward/vault.kw")).unwrap();
    env.vault = repo.join(".keyward/vault.kw");
    let values =
        ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "dev-value-000000001", "rotated-value-0000002", "prod-value-000000001"];
    env.add("stripe/live", values[0], &["--env", "prod", "--tag", "billing"]);
    env.add("dev/key", values[1], &["--env", "dev"]);

    // setup, twice: the second run changes nothing.
    let out = env.cmd().current_dir(&repo).args(["git", "setup"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let attributes = std::fs::read_to_string(repo.join(".gitattributes")).unwrap();
    let config = std::fs::read_to_string(repo.join(".git/config")).unwrap();
    let out = env.cmd().current_dir(&repo).args(["git", "setup"]).output().unwrap();
    assert!(stdout(&out).contains("already set up"), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(repo.join(".gitattributes")).unwrap(), attributes);
    assert_eq!(std::fs::read_to_string(repo.join(".git/config")).unwrap(), config);
    assert!(attributes.contains(".keyward/*.kw diff=keyward"), "{attributes}");
    let token = stdout(&env.cmd().args(["key", "token", "add", "dev-only", "--env", "dev"]).output().unwrap());
    ok(&git(&env, &repo, &["add", "-A"]));
    ok(&git(&env, &repo, &["commit", "-q", "-m", "vault"]));

    // A rotation, a new secret, a metadata change and a member.
    let mut rotate = env.cmd();
    rotate.args(["rotate", "dev/key", "--no-verify"]).write_stdin(values[2]);
    rotate.assert().success();
    env.add("prod/key", values[3], &["--env", "prod"]);
    env.cmd().args(["update", "stripe/live", "--tag", "payments"]).assert().success();
    let public = keyward::vault::v2::keys::recipient(&keyward::sensitive::Key32::random());
    env.cmd().args(["member", "add", "alice", "--key", &public, "--env", "dev"]).assert().success();

    let diff = ok(&git(&env, &repo, &["diff"]));
    assert!(diff.contains("+member alice: key") && diff.contains("dev"), "{diff}");
    assert!(diff.contains("+prod/key PROD_KEY"), "{diff}");
    assert!(diff.contains("v2 current") && diff.contains("v1 previous"), "{diff}");
    assert!(diff.contains("tags billing,payments"), "{diff}");
    for value in values {
        assert!(!diff.contains(value), "{value} in the diff:\n{diff}");
        let b64 = data_encoding::BASE64.encode(value.as_bytes());
        assert!(!diff.contains(&b64[..20]), "the base64 of {value} in the diff");
    }
    ok(&git(&env, &repo, &["commit", "-q", "-am", "changes"]));
    let log = ok(&git(&env, &repo, &["log", "-p", "-n", "1"]));
    assert!(log.contains("+prod/key PROD_KEY"), "{log}");

    // A viewer holding dev only sees prod's names and that they changed, nothing more.
    let mut viewer = Env::new();
    viewer.vault = env.vault.clone();
    viewer.key = Some(token.trim().to_owned());
    viewer.home = env.home.clone();
    let show = ok(&git(&viewer, &repo, &["show", "HEAD"]));
    assert!(show.contains("[prod]") && show.contains("(this machine cannot open it)"), "{show}");
    assert!(show.contains("+prod/key PROD_KEY: sealed "), "{show}");
    assert!(!show.contains("tags billing"), "prod's metadata is not shown to dev: {show}");
    assert!(show.contains("v2 current"), "dev is: {show}");
}
