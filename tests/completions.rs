//! Shell completion through the real shells, loading the committed scripts in completions/:
//! bash (its completion function with COMP_WORDS), fish (`complete -C`) and zsh (a pty, zpty).
//! Mandatory when `CI` is set (.ci/run installs the shells); skipped with a reason otherwise.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

fn shell_available(shell: &str) -> bool {
    if have(shell) {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI must install {shell} (see .ci/run)");
    eprintln!("SKIPPED: {shell} is not installed");
    false
}

fn script(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("completions").join(file)
}

/// A vault with known names, unlocked through KEYWARD_VAULT_KEY, and `keyward` on PATH.
fn setup() -> Env {
    let env = Env::with_recovery_key();
    env.add("stripe/live", "sk_live_completion_test_value_0000", &[]);
    env.add("github/ci", "ghp_completion_test_value", &[]);
    env
}

fn run(env: &Env, program: &str, args: &[&str]) -> String {
    let bin_dir = assert_cmd::cargo::cargo_bin("keyward").parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear();
    for (k, v) in env.cmd().get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.env("PATH", path).env("TERM", "xterm").current_dir(&env.home).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn bash(env: &Env, words: &[&str]) -> Vec<String> {
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source /usr/share/bash-completion/bash_completion 2>/dev/null; source '{}'; COMP_WORDS=({}); COMP_CWORD={cword}; \
         COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9; _clap_complete_keyward keyward '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script("keyward.bash").display(),
        quoted.join(" "),
        words.join(" "),
        words[cword],
        words[cword.saturating_sub(1)]
    );
    run(env, "bash", &["-c", &script]).lines().map(|l| l.trim().to_owned()).collect()
}

#[test]
fn bash_completes_commands_names_flags_and_providers() {
    if !shell_available("bash") {
        return;
    }
    let env = setup();
    assert!(bash(&env, &["keyward", "g"]).contains(&"get".to_owned()));
    let names = bash(&env, &["keyward", "get", ""]);
    assert!(names.contains(&"stripe/live".to_owned()) && names.contains(&"github/ci".to_owned()), "{names:?}");
    assert_eq!(bash(&env, &["keyward", "add", "--prov"]), ["--provider"]);
    let providers = bash(&env, &["keyward", "add", "--provider", ""]);
    assert!(providers.contains(&"stripe".to_owned()) && providers.contains(&"github".to_owned()), "{providers:?}");
}

#[test]
fn fish_completes_commands_names_flags_and_providers() {
    if !shell_available("fish") {
        return;
    }
    let env = setup();
    let complete = |line: &str| {
        let script = format!("source '{}'; complete -C'{line}'", script("keyward.fish").display());
        run(&env, "fish", &["--no-config", "-c", &script])
    };
    assert!(complete("keyward g").lines().any(|l| l.starts_with("get")));
    let names = complete("keyward get ");
    assert!(names.contains("stripe/live") && names.contains("github/ci"), "{names}");
    assert!(complete("keyward add --prov").lines().any(|l| l.starts_with("--provider")));
    let providers = complete("keyward add --provider ");
    assert!(providers.lines().any(|l| l.starts_with("stripe")), "{providers}");
}

#[test]
fn zsh_completes_commands_names_flags_and_providers() {
    if !shell_available("zsh") {
        return;
    }
    let env = setup();
    let driver = env.path("drive.zsh");
    // Waits for what it expects ($2) instead of sleeping a fixed time: on a loaded machine zsh
    // and the completion function can take seconds. Gives up after 30 s with what it read.
    std::fs::write(
        &driver,
        format!(
            "zmodload zsh/zpty\nzpty z zsh -f -i\n\
             zpty -w z 'PS1=\"> \"; autoload -Uz compinit; compinit -u -D; source {}; zstyle \":completion:*\" list-prompt \"\"; setopt nobeep; LISTMAX=10000; print RE\"\"ADY'\n\
             zpty -r z setup '*READY*'\n\
             zpty -w -n z \"$1\"$'\\t'\n\
             out=\"\"; start=$SECONDS\n\
             while [[ $out != *$2* ]] && (( SECONDS - start < 30 )); do\n\
               if zpty -rt z chunk; then out+=$chunk; else sleep 0.1; fi\n\
             done\n\
             sleep 0.3; while zpty -rt z chunk; do out+=$chunk; done\n\
             print -r -- \"$out\"\nzpty -d z\n",
            script("_keyward").display()
        ),
    )
    .unwrap();
    let complete = |line: &str, expect: &str| run(&env, "zsh", &["-f", driver.to_str().unwrap(), line, expect]);
    assert!(complete("keyward ge", "keyward get").contains("keyward get"), "command name completed");
    let names = complete("keyward get ", "github/ci");
    assert!(names.contains("stripe/live") && names.contains("github/ci"), "{names}");
    assert!(complete("keyward add --prov", "--provider").contains("--provider"));
    let providers = complete("keyward add --provider ", "cloudflare");
    // The pty has 24 rows, so the list shows its first entries.
    assert!(providers.contains("anthropic") && providers.contains("cloudflare"), "{providers}");
}

/// The request bash's completion function makes for `keyward get <TAB>`.
fn complete_get(env: &Env) -> std::process::Output {
    env.cmd()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n")
        .args(["--", "keyward", "get", ""])
        .output()
        .unwrap()
}

#[test]
fn a_locked_vault_completes_nothing_and_prints_nothing() {
    // Format 1 keeps names encrypted: without a way in, nothing.
    let env = Env::with_recovery_key_v1();
    env.add("stripe/live", "sk_live_completion_test_value_0000", &[]);
    let mut locked = Env::new();
    locked.vault = env.vault.clone();
    let out = complete_get(&locked);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("stripe/live"), "{stdout}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    // And unlocked, the same request lists the names.
    assert!(String::from_utf8_lossy(&complete_get(&env).stdout).contains("stripe/live"));
}

#[test]
fn a_text_vault_completes_its_clear_names_without_unlocking() {
    // Format 2 keeps names in the clear (as `git diff` shows them): completion needs no key.
    let env = setup();
    let mut locked = Env::new();
    locked.vault = env.vault.clone();
    let out = complete_get(&locked);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("stripe/live"));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn completions_command_prints_the_committed_scripts() {
    let env = Env::new();
    for (shell, file) in keyward::COMPLETION_SHELLS {
        let out = env.cmd().args(["completions", shell]).output().unwrap();
        assert_eq!(out.stdout, std::fs::read(script(file)).unwrap(), "{shell}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("keyward"));
    }
}

/// Issue 21, item 5: token labels, member names, tags and version stages complete too.
#[test]
fn bash_and_fish_complete_token_labels_tags_and_versions() {
    if !shell_available("bash") || !shell_available("fish") {
        return;
    }
    let env = setup();
    env.add("tagged", "value-tagged-0001", &["--tag", "billing", "--tag", "ci"]);
    env.cmd().args(["key", "token", "add", "github-actions"]).assert().success();
    // Values only (an empty word is also offered the flags).
    let values =
        |words: &[&str]| -> Vec<String> { bash(&env, words).into_iter().filter(|w| !w.starts_with('-')).collect() };
    assert_eq!(values(&["keyward", "key", "token", "rm", ""]), ["github-actions"]);
    let public = keyward::vault::v2::keys::recipient(&keyward::sensitive::Key32::random());
    env.cmd().args(["member", "add", "alice", "--key", &public]).assert().success();
    assert_eq!(values(&["keyward", "member", "rm", ""]), ["alice"]);
    assert_eq!(values(&["keyward", "member", "grant", "al"]), ["alice"]);
    assert_eq!(values(&["keyward", "list", "--tag", ""]), ["billing", "ci"]);
    assert_eq!(values(&["keyward", "update", "tagged", "--untag", "bi"]), ["billing"]);
    assert_eq!(values(&["keyward", "get", "tagged", "--version", "p"]), ["previous", "pending"]);
    // Version numbers are the named secret's own: 2 (current) and 1 (previous) after a rotation.
    let mut rotate = env.cmd();
    rotate.args(["rotate", "tagged", "--no-verify"]).write_stdin("value-tagged-0002");
    rotate.assert().success();
    assert_eq!(values(&["keyward", "get", "tagged", "--version", ""]), ["current", "previous", "pending", "2", "1"]);
    assert_eq!(values(&["keyward", "get", "github/ci", "--version", ""]), ["current", "previous", "pending", "1"]);
    let fish = |line: &str| {
        let script = format!("source '{}'; complete -C'{line}'", script("keyward.fish").display());
        run(&env, "fish", &["--no-config", "-c", &script])
    };
    assert!(fish("keyward key token rm ").lines().any(|l| l.starts_with("github-actions")));
    assert!(fish("keyward add x --tag ").lines().any(|l| l.starts_with("billing")));
}

/// Nushell (issue 21, item 5): clap has no dynamic protocol for it, so the script is static. It
/// loads in a real `nu` (KEYWARD_TEST_NU, else `nu` on PATH; .ci/run installs it from npm) and
/// declares every visible command with its flags and fixed values.
#[test]
fn nushell_loads_the_script_with_every_command() {
    let nu = match std::env::var_os("KEYWARD_TEST_NU") {
        Some(path) => PathBuf::from(path),
        None if have("nu") => PathBuf::from("nu"),
        None => {
            assert!(std::env::var_os("CI").is_none(), "CI must install nushell (see .ci/run)");
            eprintln!("SKIPPED: nu is not installed (npm install nushell)");
            return;
        }
    };
    let query = format!(
        "source '{}'; scope commands | where name =~ '^keyward' | each {{|c| [$c.name ($c.signatures | values | flatten | where parameter_name == format | get completion | to text)] | str join '|' }} | to text",
        script("keyward.nu").display()
    );
    let out = Command::new(nu).args(["--no-config-file", "-c", &query]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8_lossy(&out.stdout);
    let mut expected = Vec::new();
    let mut cli = keyward::command();
    cli.build();
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("{prefix} {}", sub.get_name());
            out.push(name.clone());
            walk(sub, &name, out);
        }
    }
    walk(&cli, "keyward", &mut expected);
    for name in expected {
        assert!(listed.lines().any(|l| l.split('|').next() == Some(name.as_str())), "{name} missing:\n{listed}");
    }
    assert!(listed.lines().any(|l| l == "keyward export|nu-complete keyward export format"), "{listed}");
}
