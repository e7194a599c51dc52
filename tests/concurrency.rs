//! Concurrent writers serialize on the vault lock and lose nothing; readers never see a torn file.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Env, stderr};

fn keyward(env: &Env) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("keyward"));
    cmd.env_clear()
        .env("HOME", &env.home)
        .env("KEYWARD_VAULT", &env.vault)
        .env("KEYWARD_VAULT_KEY", env.key.as_ref().unwrap());
    cmd
}

#[test]
fn sixteen_concurrent_adds_all_land() {
    let env = Env::with_recovery_key();
    env.add("existing", "before", &[]);
    let mut children: Vec<_> = (0..16)
        .map(|i| {
            let mut child = keyward(&env)
                .args(["add", &format!("concurrent/{i:02}")])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(format!("value-{i}").as_bytes()).unwrap();
            child
        })
        .collect();
    // Readers run alongside the writers and must always see a whole vault.
    let readers: Vec<_> = (0..8)
        .map(|_| {
            keyward(&env).args(["get", "-n", "existing"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in children.drain(..) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "add failed: {}", stderr(&out));
    }
    for reader in readers {
        let out = reader.wait_with_output().unwrap();
        assert!(out.status.success(), "read during writes failed: {}", stderr(&out));
        assert_eq!(out.stdout, b"before");
    }
    for i in 0..16 {
        assert_eq!(env.get(&format!("concurrent/{i:02}")), format!("value-{i}"));
    }
    assert_eq!(env.get("existing"), "before");
    let leftovers: Vec<_> = std::fs::read_dir(&env.home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn a_held_lock_times_out_with_exit_6() {
    let env = Env::with_recovery_key();
    let lock_path = env.home.join("vault.kw.lock");
    let lock = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&lock_path).unwrap();
    lock.lock().unwrap();
    let out = env.cmd().env("KEYWARD_LOCK_TIMEOUT", "0.3").args(["add", "k"]).write_stdin("v").output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("lock"));
    // Reads take no lock.
    env.cmd().args(["list"]).assert().success();
    drop(lock);
    env.add("k", "v", &[]);
}
