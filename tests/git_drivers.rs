//! Issue 17 (git integration): `keyward git setup` registers the diff and merge drivers;
//! `git diff` / `git log -p` on a project vault show secrets by name, metadata, versions and
//! members — never a value or its base64 — and `git merge` combines two branches that changed
//! the same environment, secret by secret, through the real git.

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

/// A project vault in a fresh repository with the drivers set up; returns the repo.
fn project(env: &mut Env) -> std::path::PathBuf {
    let repo = env.path("repo");
    std::fs::create_dir_all(repo.join(".keyward")).unwrap();
    ok(&git(env, &repo, &["init", "-q", "-b", "main"]));
    std::fs::copy(&env.vault, repo.join(".keyward/vault.kw")).unwrap();
    env.vault = repo.join(".keyward/vault.kw");
    env.add("dev/base", "dev-base-value-0001", &["--env", "dev"]);
    env.add("dev/other", "dev-other-value-001", &["--env", "dev"]);
    let out = env.cmd().current_dir(&repo).args(["git", "setup"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    ok(&git(env, &repo, &["add", "-A"]));
    ok(&git(env, &repo, &["commit", "-q", "-m", "vault"]));
    repo
}

#[test]
fn two_branches_that_add_secrets_to_one_environment_merge_by_secret() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "feature"]));
    env.add("dev/feature", "dev-feature-value-01", &["--env", "dev"]);
    let mut rotate = env.cmd();
    rotate.args(["rotate", "dev/base", "--no-verify"]).write_stdin("dev-base-value-0002");
    rotate.assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "feature"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    env.add("dev/main", "dev-main-value-0001", &["--env", "dev"]);
    env.add("prod/main", "prod-main-value-001", &["--env", "prod"]);
    // A rotation on this side too: both sides moved the vault's grace deadline setting.
    let mut rotate = env.cmd();
    rotate.args(["rotate", "dev/other", "--no-verify"]).write_stdin("dev-other-value-002");
    rotate.assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "main"]));

    // Without the driver this is a text conflict in dev's block; with it, a clean merge.
    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "feature"]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for (name, value) in [
        ("dev/base", "dev-base-value-0002"),
        ("dev/feature", "dev-feature-value-01"),
        ("dev/main", "dev-main-value-0001"),
        ("prod/main", "prod-main-value-001"),
        ("dev/other", "dev-other-value-002"),
    ] {
        let out = env.cmd().args(["get", name]).output().unwrap();
        assert_eq!(stdout(&out), format!("{value}\n"), "{name}: {}", stderr(&out));
    }
    let info = stdout(&env.cmd().args(["info", "dev/base", "--json"]).output().unwrap());
    assert!(info.contains("previous"), "the rotation's history is kept: {info}");
    env.cmd().args(["list"]).assert().success();
    assert!(String::from_utf8_lossy(&std::fs::read(&env.vault).unwrap()).ends_with("end\n"));
}

#[test]
fn one_secret_changed_on_both_branches_is_a_conflict_that_loses_nothing() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "feature"]));
    let mut rotate = env.cmd();
    rotate.args(["rotate", "dev/base", "--no-verify"]).write_stdin("value-from-feature-1");
    rotate.assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "feature"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    let mut rotate = env.cmd();
    rotate.args(["rotate", "dev/base", "--no-verify"]).write_stdin("value-from-main-0001");
    rotate.assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "main"]));

    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "feature"]);
    assert!(!out.status.success(), "a conflict");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("changed differently on both sides: dev/base"), "{said}");
    // Ours is left as it was: a vault that opens, with our value.
    assert_eq!(stdout(&env.cmd().args(["get", "dev/base"]).output().unwrap()), "value-from-main-0001\n");
    ok(&git(&env, &repo, &["merge", "--abort"]));
    // Theirs is intact on its branch.
    ok(&git(&env, &repo, &["checkout", "-q", "feature"]));
    assert_eq!(stdout(&env.cmd().args(["get", "dev/base"]).output().unwrap()), "value-from-feature-1\n");
}

/// A branch is anyone's writing: a secret line forged into theirs is never re-sealed into the
/// merge (the driver checks both sides' domains before it vouches for their lines).
#[test]
fn a_forged_line_on_the_other_branch_is_refused_not_resealed() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "evil"]));
    // A copy of dev/base's sealed body under a new name: it cannot decrypt (the name is in its
    // associated data), and the domain's seal no longer matches.
    let text = std::fs::read_to_string(&env.vault).unwrap();
    let line = text.lines().find(|l| l.starts_with("secret dev/base ")).unwrap().to_owned();
    let forged = line.replacen("secret dev/base DEV_BASE", "secret dev/forged DEV_FORGED", 1);
    std::fs::write(&env.vault, text.replace(&line, &format!("{line}\n{forged}"))).unwrap();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "evil"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    env.add("dev/main", "dev-main-value-0001", &["--env", "dev"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "main"]));
    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "evil"]);
    assert!(!out.status.success(), "merged a forged branch");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("does not authenticate"), "{said}");
    assert!(!std::fs::read_to_string(&env.vault).unwrap().contains("dev/forged"));
}

/// Without `git setup`, a merge of two branches that changed one environment stops with a text
/// conflict, and keyward's error says what to run.
#[test]
fn without_setup_a_conflicted_vault_says_to_run_git_setup() {
    let mut env = Env::with_recovery_key();
    let repo = env.path("repo");
    std::fs::create_dir_all(repo.join(".keyward")).unwrap();
    ok(&git(&env, &repo, &["init", "-q", "-b", "main"]));
    std::fs::copy(&env.vault, repo.join(".keyward/vault.kw")).unwrap();
    env.vault = repo.join(".keyward/vault.kw");
    env.add("dev/base", "dev-base-value-0001", &["--env", "dev"]);
    ok(&git(&env, &repo, &["add", "-A"]));
    ok(&git(&env, &repo, &["commit", "-q", "-m", "vault"]));
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "feature"]));
    env.add("dev/feature", "dev-feature-value-01", &["--env", "dev"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "feature"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    env.add("dev/main", "dev-main-value-0001", &["--env", "dev"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "main"]));
    assert!(!git(&env, &repo, &["merge", "-q", "--no-edit", "feature"]).status.success());
    let out = env.cmd().args(["get", "dev/base"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("keyward git setup"), "{}", stderr(&out));
    common::assert_one_line_error(&stderr(&out));
}

/// A rebase replays three commits that each touch the vault onto a branch that changed the same
/// environment: every step goes through the merge driver.
#[test]
fn a_rebase_of_three_vault_commits_goes_through_the_driver() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "feature"]));
    for i in 1..=3 {
        env.add(&format!("dev/f{i}"), &format!("feature-value-000{i}"), &["--env", "dev"]);
        ok(&git(&env, &repo, &["commit", "-q", "-am", &format!("f{i}")]));
    }
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    env.add("dev/m", "main-value-00001", &["--env", "dev"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "m"]));
    ok(&git(&env, &repo, &["checkout", "-q", "feature"]));
    let out = git(&env, &repo, &["rebase", "-q", "main"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (name, value) in [
        ("dev/f1", "feature-value-0001"),
        ("dev/f2", "feature-value-0002"),
        ("dev/f3", "feature-value-0003"),
        ("dev/m", "main-value-00001"),
    ] {
        assert_eq!(stdout(&env.cmd().args(["get", name]).output().unwrap()), format!("{value}\n"), "{name}");
    }
    let log = ok(&git(&env, &repo, &["log", "--oneline"]));
    assert_eq!(log.lines().count(), 5, "{log}");
}

/// A whole block copied from history still authenticates (the same key sealed it): a branch that
/// puts back an old version of a rotated secret is a conflict, never re-sealed into the merge.
#[test]
fn an_old_block_from_history_does_not_undo_a_rotation() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    let dev_block = |text: &str| -> String {
        let start = text.find("\ndomain dev ").unwrap() + 1;
        let end =
            text[start..].find("\n\n").or_else(|| text[start..].find("\nend\n")).map_or(text.len(), |e| start + e + 1);
        text[start..end].to_owned()
    };
    let before = std::fs::read_to_string(&env.vault).unwrap();
    let mut rotate = env.cmd();
    rotate.args(["rotate", "dev/base", "--no-verify"]).write_stdin("dev-base-value-0002");
    rotate.assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "rotated"]));
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "evil"]));
    let now = std::fs::read_to_string(&env.vault).unwrap();
    std::fs::write(&env.vault, now.replace(&dev_block(&now), &dev_block(&before))).unwrap();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "evil"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    env.add("dev/main", "dev-main-value-0001", &["--env", "dev"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "main"]));
    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "evil"]);
    assert!(!out.status.success(), "merged an old block");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("older than the common ancestor") || said.contains("older generation"), "{said}");
    assert_eq!(stdout(&env.cmd().args(["get", "dev/base"]).output().unwrap()), "dev-base-value-0002\n");
}
