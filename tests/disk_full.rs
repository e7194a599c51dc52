//! Writes that fail part-way: with the file-size limit (RLIMIT_FSIZE) set below the vault's size,
//! every write fails in the middle. The previous vault stays intact, no temp file is left, and
//! the error is one line with exit code 7.

use crate::common;

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
            libc::setrlimit(libc::RLIMIT_FSIZE, &raw const limit);
            Ok(())
        });
    }
    cmd
}

/// Temp files beside the vault (a failed write must leave none).
fn temp_files(env: &Env) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(env.vault.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
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
        assert!(temp_files(&env).is_empty(), "{args:?}: temp files left");
    }
    assert_eq!(env.get("k/3"), format!("value-3-{}", "x".repeat(200)));
    env.cmd().args(["audit", "verify"]).assert().success();
}

/// A test that cannot run on this machine says so; under CI, where `.ci/run` runs as root, that
/// is a failure, not a silent pass.
fn skipped(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "CI must be able to run this test: {why}");
    eprintln!("SKIPPED: {why}");
}

/// A directory made immutable (`chattr +i`: no entry can be created, renamed or removed in it,
/// even by root) for the life of the guard. `None` where this machine cannot do it (not root,
/// or a filesystem without the attribute): the test then says so and checks nothing else.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn set(dir: &std::path::Path) -> Option<Immutable> {
        let ok = std::process::Command::new("chattr").arg("+i").arg(dir).output().ok()?.status.success();
        ok.then(|| Immutable(dir.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// A vault in its own directory, opened by a recovery key.
fn vault_in(dir: &std::path::Path) -> Env {
    let mut env = Env::new();
    std::fs::create_dir_all(dir).unwrap();
    env.vault = dir.join("vault.kw");
    let file = env.path("recovery.txt");
    env.cmd().args(["init", "--keyring", "none", "--recovery-key-file"]).arg(&file).assert().success();
    env.key = Some(std::fs::read_to_string(&file).unwrap().trim().to_owned());
    env
}

#[test]
fn a_read_only_directory_keeps_the_old_vault() {
    let dir = tempfile::tempdir().unwrap();
    let env = vault_in(&dir.path().join("v"));
    env.add("a/one", "value-one-123456", &[]);
    let before = std::fs::read(&env.vault).unwrap();
    let Some(_guard) = Immutable::set(env.vault.parent().unwrap()) else {
        return skipped("chattr +i is not available here (needs root and a filesystem with it)");
    };
    for args in [vec!["add", "b/two"], vec!["rotate", "a/one", "--no-verify"], vec!["rm", "a/one", "--yes"]] {
        let out = env.cmd().args(&args).write_stdin("another-value-7890").output().unwrap();
        assert_eq!(out.status.code(), Some(7), "{args:?}: {}", stderr(&out));
        common::assert_one_line_error(&stderr(&out));
        assert!(stderr(&out).contains("Operation not permitted"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&env.vault).unwrap(), before, "{args:?}: the vault changed");
    }
    assert_eq!(env.get("a/one"), "value-one-123456");
}

/// A tmpfs of `kib` KiB mounted for the life of the guard; `None` where mounting is not allowed.
struct Tiny(std::path::PathBuf);

impl Tiny {
    fn mount(dir: &std::path::Path, kib: u32) -> Option<Tiny> {
        std::fs::create_dir_all(dir).ok()?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k,mode=0700"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        out.status.success().then(|| Tiny(dir.to_path_buf()))
    }
}

impl Drop for Tiny {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_filesystem_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_mount) = Tiny::mount(&dir.path().join("tiny"), 96) else {
        return skipped("cannot mount a tmpfs here (needs root)");
    };
    let env = vault_in(&dir.path().join("tiny/v"));
    // Each write needs room for the old vault and the new one side by side: adds succeed until
    // the filesystem cannot hold both, then fail cleanly.
    let mut stored = Vec::new();
    let mut failed = None;
    for i in 0..200 {
        let value = format!("{i:04}-{}", "v".repeat(3000));
        let before = std::fs::read(&env.vault).unwrap();
        let out = env.cmd().args(["add", &format!("k/{i}")]).write_stdin(value.clone()).output().unwrap();
        if out.status.success() {
            stored.push((format!("k/{i}"), value));
            continue;
        }
        assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
        common::assert_one_line_error(&stderr(&out));
        assert!(stderr(&out).contains("No space left on device"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&env.vault).unwrap(), before, "the vault changed");
        failed = Some(i);
        break;
    }
    assert!(failed.is_some() && stored.len() >= 3, "the filesystem never filled: {} stored", stored.len());
    assert!(temp_files(&env).is_empty(), "temp files left");
    for (name, value) in &stored {
        assert_eq!(&env.get(name), value);
    }
}
