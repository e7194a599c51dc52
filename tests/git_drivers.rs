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

fn ok_bytes(out: &std::process::Output) -> Vec<u8> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout.clone()
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
    env.cmd().args(["audit", "verify"]).assert().success();
}

#[test]
fn one_secret_rotated_on_both_branches_conflicts_loses_nothing_and_git_resolve_finishes_it() {
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
    assert!(said.contains("dev/base changed differently on both sides: theirs is kept as v3"), "{said}");
    assert!(said.contains("keyward git resolve dev/base --ours"), "{said}");
    let unmerged = ok(&git(&env, &repo, &["ls-files", "--unmerged"]));
    assert!(unmerged.contains(".keyward/vault.kw"), "git has the vault as conflicted: {unmerged}");
    // The vault in the work tree opens: ours current, theirs pending, nothing lost.
    assert_eq!(stdout(&env.cmd().args(["get", "dev/base"]).output().unwrap()), "value-from-main-0001\n");
    let pending = env.cmd().args(["get", "dev/base", "--version", "pending"]).output().unwrap();
    assert_eq!(stdout(&pending), "value-from-feature-1\n", "{}", stderr(&pending));
    let listed = env.cmd().args(["git", "resolve"]).output().unwrap();
    assert_eq!(listed.status.code(), Some(1), "conflicts listed: {}", stderr(&listed));
    assert!(stdout(&listed).contains("dev/base: theirs is kept as v3"), "{}", stdout(&listed));

    // Theirs wins: their value current, ours previous; the file is staged and the merge commits.
    let out = env.cmd().current_dir(&repo).args(["git", "resolve", "dev/base", "--theirs"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("staged .keyward/vault.kw"), "{}", stdout(&out));
    assert_eq!(stdout(&env.cmd().args(["get", "dev/base"]).output().unwrap()), "value-from-feature-1\n");
    let previous = env.cmd().args(["get", "dev/base", "--version", "previous"]).output().unwrap();
    assert_eq!(stdout(&previous), "value-from-main-0001\n", "{}", stderr(&previous));
    assert!(ok(&git(&env, &repo, &["ls-files", "--unmerged"])).is_empty());
    ok(&git(&env, &repo, &["commit", "-q", "--no-edit"]));
    let listed = env.cmd().args(["git", "resolve"]).output().unwrap();
    assert!(listed.status.success() && stdout(&listed).contains("no secret is in conflict"), "{}", stdout(&listed));
    env.cmd().args(["audit", "verify"]).assert().success();
    let again = env.cmd().args(["git", "resolve", "dev/base", "--ours"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
}

#[test]
fn a_rotation_on_one_branch_and_metadata_on_the_other_combine_in_one_secret() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "feature"]));
    env.cmd().args(["update", "dev/base", "--tag", "billing", "--note", "from feature"]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "feature"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    let mut rotate = env.cmd();
    rotate.args(["rotate", "dev/base", "--no-verify"]).write_stdin("value-from-main-0001");
    rotate.assert().success();
    env.cmd().args(["update", "dev/base", "--tag", "ops"]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "main"]));

    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "feature"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&env.cmd().args(["get", "dev/base"]).output().unwrap()), "value-from-main-0001\n");
    let info = stdout(&env.cmd().args(["info", "dev/base", "--json"]).output().unwrap());
    assert!(info.contains("billing") && info.contains("ops") && info.contains("from feature"), "{info}");
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

/// A member removed (dev re-keyed) and another added on one branch, secrets added on the other:
/// one vault where the removal holds, dev is under a key the removed member never had, and what
/// the other branch wrote under the old dev key is marked exposed; members changed on both
/// branches is a conflict that writes nothing.
#[test]
fn a_member_removed_on_one_branch_and_secrets_added_on_the_other_merge_and_rekey() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    let bob = common::age_identity(&env, "bob");
    env.cmd().args(["member", "add", "bob", "--env", "dev", "--key", &bob.1]).assert().success();
    env.add("prod/base", "prod-base-value-001", &["--env", "prod"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "bob"]));
    let base = std::fs::read(&env.vault).unwrap();

    ok(&git(&env, &repo, &["checkout", "-q", "-b", "remove-bob"]));
    env.cmd().args(["member", "rm", "bob", "--yes"]).assert().success();
    let carol = common::age_identity(&env, "carol");
    env.cmd().args(["member", "add", "carol", "--env", "prod", "--key", &carol.1]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "remove bob, add carol"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    // Back on main, which has not seen the branch's re-key: not a rollback, and no member news
    // (this machine remembers each branch apart).
    let out = env.cmd().args(["add", "dev/main", "--env", "dev"]).write_stdin("dev-main-value-0001").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("changed since this machine last opened it"), "{}", stderr(&out));
    env.add("prod/main", "prod-main-value-001", &["--env", "prod"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "main"]));

    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "remove-bob"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!said.contains("replaced"), "{said}");
    let members = stdout(&env.cmd().args(["member", "list"]).output().unwrap());
    assert!(members.contains("carol") && !members.contains("bob"), "{members}");
    for (name, value) in [("dev/main", "dev-main-value-0001"), ("prod/main", "prod-main-value-001")] {
        assert_eq!(stdout(&env.cmd().args(["get", name]).output().unwrap()), format!("{value}\n"));
    }
    let as_carol = env
        .cmd()
        .env_remove("KEYWARD_VAULT_KEY")
        .env("KEYWARD_IDENTITY", &carol.0)
        .args(["get", "prod/main"])
        .output()
        .unwrap();
    assert_eq!(stdout(&as_carol), "prod-main-value-001\n", "{}", stderr(&as_carol));
    let as_bob = env
        .cmd()
        .env_remove("KEYWARD_VAULT_KEY")
        .env("KEYWARD_IDENTITY", &bob.0)
        .args(["get", "dev/main"])
        .output()
        .unwrap();
    assert_eq!(as_bob.status.code(), Some(4), "{}", stderr(&as_bob));

    // What main wrote under the dev key Bob held is exposed, with what the removal marked.
    assert_eq!(common::exposed_to(&env, "member bob"), ["dev/base", "dev/main", "dev/other"]);

    // Bob's wrap of dev in the common ancestor opens none of the merged dev records.
    assert_eq!(common::old_wrap_opens_nothing(&env, &base, "bob", &bob.0, "dev"), 3);
    let got = stdout(&env.cmd().args(["get", "prod/base"]).output().unwrap());
    assert_eq!(got, "prod-base-value-001\n");

    // A branch this machine never opened, still from before the removal (a pull request, say):
    // the first command says it is behind what this machine has seen, and that bob is back in
    // it; the next says nothing.
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "old-pr", "HEAD~2"]));
    let out = env.cmd().args(["get", "dev/base"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("behind generation"), "{}", stderr(&out));
    assert!(stderr(&out).contains("added member bob"), "{}", stderr(&out));
    let out = env.cmd().args(["get", "dev/base"]).output().unwrap();
    assert!(stderr(&out).is_empty(), "once: {}", stderr(&out));
    // The same commit detached (as CI checks out a pull request): judged against the same floor,
    // every time, remembering nothing.
    ok(&git(&env, &repo, &["checkout", "-q", "--detach", "old-pr"]));
    for _ in 0..2 {
        let out = env.cmd().args(["get", "dev/base"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("behind generation"), "{}", stderr(&out));
        assert!(stderr(&out).contains("added member bob"), "{}", stderr(&out));
    }
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));

    // Members added on both branches: a set, both in.
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "dave"]));
    let (_, dave) = common::age_identity(&env, "dave");
    env.cmd().args(["member", "add", "dave", "--key", &dave, "--env", "dev"]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "dave"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    let (_, erin) = common::age_identity(&env, "erin");
    env.cmd().args(["member", "add", "erin", "--key", &erin]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "erin"]));
    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "dave"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = stdout(&env.cmd().args(["member", "list"]).output().unwrap());
    assert!(list.contains("dave") && list.contains("erin"), "{list}");
    // Nobody lost anything: no re-key, no exposure mark for the members who joined.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("re-keyed"), "{}", String::from_utf8_lossy(&out.stderr));
    let due = stdout(&env.cmd().args(["rotate", "--due", "--json"]).output().unwrap());
    assert!(!due.contains("member dave") && !due.contains("member erin"), "{due}");

    // A member added on one branch beside a removal on the other: a conflict (whoever was removed
    // still knows the old keys that authenticate the addition), ours left as it was.
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "frank"]));
    let (_, frank) = common::age_identity(&env, "frank");
    env.cmd().args(["member", "add", "frank", "--key", &frank]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "frank"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    env.cmd().args(["member", "rm", "erin", "--yes"]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "erin out"]));
    let before = std::fs::read(&env.vault).unwrap();
    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "frank"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("members or keys changed on both sides"), "{said}");
    assert_eq!(std::fs::read(&env.vault).unwrap(), before, "ours left in place");
    ok(&git(&env, &repo, &["merge", "--abort"]));
    // This machine's audit log is kept per branch: the branch's removal rotated the audit key
    // there, main went on under the old key, and the merge moved main to the new one.
    env.cmd().args(["audit", "verify"]).assert().success();
}

/// A removal wins over the other branch's change to the same member.
#[test]
fn a_removal_wins_over_a_grant_on_the_other_branch() {
    let mut env = Env::with_recovery_key();
    let repo = project(&mut env);
    let bob = common::age_identity(&env, "bob");
    env.cmd().args(["member", "add", "bob", "--env", "dev", "--key", &bob.1]).assert().success();
    env.add("prod/key", "prod-value-000000001", &["--env", "prod"]);
    ok(&git(&env, &repo, &["commit", "-q", "-am", "bob"]));
    ok(&git(&env, &repo, &["checkout", "-q", "-b", "grant"]));
    env.cmd().args(["member", "grant", "bob", "--env", "prod"]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "grant bob prod"]));
    ok(&git(&env, &repo, &["checkout", "-q", "main"]));
    env.cmd().args(["member", "rm", "bob", "--yes"]).assert().success();
    ok(&git(&env, &repo, &["commit", "-q", "-am", "remove bob"]));

    let granted =
        keyward::vault::v2::text::parse(&ok_bytes(&git(&env, &repo, &["show", "grant:.keyward/vault.kw"]))).unwrap();
    let out = git(&env, &repo, &["merge", "-q", "--no-edit", "grant"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Bob's wrap of prod on the grant branch opens a key the merged vault no longer uses.
    let merged = keyward::vault::v2::text::parse(&std::fs::read(&env.vault).unwrap()).unwrap();
    let prod_key = |d: &keyward::vault::v2::text::Document| d.domain("prod").unwrap().head.key_id;
    assert!(granted.domain("prod").unwrap().head.to.iter().any(|w| w.slot.label == "bob"));
    assert_ne!(prod_key(&merged), prod_key(&granted), "prod re-keyed: bob held it on the other branch");
    assert!(!stdout(&env.cmd().args(["member", "list"]).output().unwrap()).contains("bob"));
    let as_bob = env
        .cmd()
        .env_remove("KEYWARD_VAULT_KEY")
        .env("KEYWARD_IDENTITY", &bob.0)
        .args(["get", "prod/key"])
        .output()
        .unwrap();
    assert_eq!(as_bob.status.code(), Some(4), "{}", stderr(&as_bob));
    assert_eq!(env.get("prod/key"), "prod-value-000000001");
    env.cmd().args(["audit", "verify"]).assert().success();
}
