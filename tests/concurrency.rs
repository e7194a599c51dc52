//! Concurrent writers serialize on the vault lock and lose nothing; readers never see a torn file.

use crate::common;

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

#[test]
fn mixed_readers_and_writers_lose_nothing_and_keep_the_chain() {
    let env = Env::with_recovery_key();
    env.add("shared", "shared-value-000000", &[]);
    let bin = assert_cmd::cargo::cargo_bin("keyward");
    let envs: Vec<(String, String)> = env
        .cmd()
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned())))
        .collect();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(&bin)
            .env_clear()
            .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    std::thread::scope(|s| {
        for worker in 0..4 {
            let run = &run;
            s.spawn(move || {
                for i in 0..8 {
                    match (worker + i) % 4 {
                        0 => assert!(
                            run(&["add", &format!("w{worker}/k{i}")], &format!("value-{worker}-{i}-xyz"))
                                .status
                                .success()
                        ),
                        1 => {
                            let out = run(&["get", "-n", "shared"], "");
                            let v = String::from_utf8(out.stdout).unwrap();
                            assert!(v.starts_with("shared-value-") && v.len() == 19, "a torn read: {v:?}");
                        }
                        2 => {
                            let out =
                                run(&["rotate", "shared", "--no-verify"], &format!("shared-value-{worker}{i:05}"));
                            // Another rotation may be pending at that moment: refused, never corrupt.
                            assert!(
                                matches!(out.status.code(), Some(0 | 6)),
                                "{}",
                                String::from_utf8_lossy(&out.stderr)
                            );
                        }
                        _ => assert!(run(&["exec", "--", "true"], "").status.success()),
                    }
                }
            });
        }
    });
    for worker in 0..4 {
        for i in 0..8 {
            if (worker + i) % 4 == 0 {
                assert_eq!(env.get(&format!("w{worker}/k{i}")), format!("value-{worker}-{i}-xyz"));
            }
        }
    }
    let out = env.cmd().args(["audit", "verify", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
