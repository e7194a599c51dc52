//! A recognisable sentinel value goes into the vault; no command but `get` may ever print it, and
//! the vault file never holds it in the clear.

use crate::common;

use common::{Env, stderr, stdout};

const SENTINEL: &str = "sk_live_SENTINEL_9f8e7d6c5b4a";

#[test]
fn the_value_appears_only_where_asked_for() {
    let env = Env::with_recovery_key();
    env.add("s", SENTINEL, &["--env", "prod", "--provider", "stripe", "--tag", "t"]);
    let forms = [
        SENTINEL.to_string(),
        data_encoding::BASE64.encode(SENTINEL.as_bytes()),
        data_encoding::HEXLOWER.encode(SENTINEL.as_bytes()),
    ];
    let runs: Vec<Vec<&str>> = vec![
        vec!["list"],
        vec!["list", "--json"],
        vec!["info", "s"],
        vec!["info", "s", "--json"],
        vec!["update", "s", "--note", "n"],
        vec!["key", "status"],
        vec!["key", "status", "--json"],
        vec!["key", "token", "list"],
        vec!["get", "missing"],
        vec!["get", "s", "--version", "9"],
        vec!["add", "s"],
        vec!["rename", "s", "s2"],
        vec!["rm", "s2"],
        vec!["rm", "s2", "--yes"],
    ];
    for args in runs {
        let out = env.cmd().args(&args).write_stdin("other-value").output().unwrap();
        for form in &forms {
            assert!(!stdout(&out).contains(form.as_str()), "{args:?} printed the value on stdout");
            assert!(!stderr(&out).contains(form.as_str()), "{args:?} printed the value on stderr");
        }
        let file = std::fs::read(&env.vault).unwrap();
        for form in &forms {
            assert!(!file.windows(form.len()).any(|w| w == form.as_bytes()), "vault file holds a clear form");
        }
    }
    // Nothing else was left beside the vault (no temp files with the plaintext).
    for entry in std::fs::read_dir(&env.home).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(SENTINEL.len()).any(|w| w == SENTINEL.as_bytes()), "{} holds it", path.display());
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_running_process_cannot_dump_core_or_be_traced() {
    // A `get` that blocks on a full pipe stays alive long enough to inspect /proc.
    let env = Env::with_recovery_key();
    env.add("big", &"x".repeat(64 * 1024), &[]); // one byte more than a pipe buffer holds, with the newline
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyward"))
        .args(["get", "big"])
        .env("KEYWARD_VAULT", &env.vault)
        .env("KEYWARD_VAULT_KEY", env.key.as_ref().unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    drop(child.stdout.take());
    let _ = child.wait();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).expect("limits readable");
    // "Max core file size  <soft>  <hard>  bytes": the soft limit is what the kernel applies.
    let soft = core.split_whitespace().nth(4).expect("a soft limit column");
    assert_eq!(soft, "0", "{core}");
    // With PR_SET_DUMPABLE=0 the kernel makes /proc/PID owned by root; as the same (non-root)
    // user the status would be unreadable. As root we can still check TracerPid is 0.
    assert!(status.contains("TracerPid:\t0"), "{status}");
}
