//! Writes that fail part-way: with the file-size limit (RLIMIT_FSIZE) set below the vault's size,
//! every write fails in the middle. The previous vault stays intact, no temp file is left, and
//! the error is one line with exit code 7.

mod common;

use std::os::unix::process::CommandExt;

use common::{Env, stderr};

/// The command with a file-size limit of `bytes`; SIGXFSZ ignored so writes fail with EFBIG
/// instead of killing the process.
fn limited(env: &Env, bytes: u64) -> std::process::Command {
    let mut cmd = env.std_cmd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    cmd
}

#[test]
fn a_write_that_runs_out_of_space_keeps_the_old_vault() {
    let env = Env::with_recovery_key();
    for i in 0..20 {
        env.add(&format!("k/{i}"), &format!("value-{i}-{}", "x".repeat(200)), &[]);
    }
    let before = std::fs::read(&env.vault).unwrap();
    let limit = before.len() as u64 / 2;
    for args in [vec!["add", "new/one"], vec!["rotate", "k/3", "--no-verify"], vec!["update", "k/4", "--note", "n"]] {
        let out = limited(&env, limit)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b"a-new-value-123456")?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(out.status.code(), Some(7), "{args:?}: {}", stderr(&out));
        common::assert_one_line_error(&stderr(&out));
        assert_eq!(std::fs::read(&env.vault).unwrap(), before, "{args:?}: the vault changed");
        let temps: Vec<_> = std::fs::read_dir(env.vault.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(temps.is_empty(), "{args:?}: temp files left");
    }
    assert_eq!(env.get("k/3"), format!("value-3-{}", "x".repeat(200)));
    env.cmd().args(["audit", "verify"]).assert().success();
}
