//! The crash loop: writers (`add`, `rotate`, `import`, and the audit appends they make) are
//! killed with SIGKILL at random moments, again and again. After each kill the vault opens,
//! every acknowledged write is there, the audit chain verifies, and at most one killed writer's
//! temp file is left (the next writer removes it).
//!
//! Short form in `cargo test`; `KEYWARD_CRASH_KILLS=500 cargo test --test e2e crash::` for the long one.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::rng::Rng;
use common::{Env, stderr};

fn command(env: &Env, args: &[&str]) -> Command {
    let mut cmd = env.std_cmd();
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

fn temp_files(env: &Env) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [env.vault.parent().unwrap().to_owned(), env.home.join(".local/state/keyward/audit")] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".tmp") {
                    found.push(name);
                }
            }
        }
    }
    found
}

#[test]
fn killed_writers_lose_nothing_acknowledged() {
    let kills: u64 = std::env::var("KEYWARD_CRASH_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let env = Env::with_recovery_key();
    env.add("rotating", "rotating-value-000000", &[]);
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut rng = Rng(0x6b65_7977_6172_6464);
    let mut killed = 0;
    for i in 0..kills {
        let (args, value): (Vec<String>, String) = match rng.next() % 3 {
            0 => (vec!["add".into(), format!("k/{i}")], format!("value-{i}-{}", rng.next() % 1_000_000)),
            1 => (
                vec!["rotate".into(), "rotating".into(), "--no-verify".into()],
                format!("rotated-{i}-{}", rng.next() % 1_000_000),
            ),
            _ => (vec!["import".into(), "-".into()], format!("IMP_{i}=imported-{i}-{}\n", rng.next() % 1_000_000)),
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = command(&env, &args).spawn().unwrap();
        {
            use std::io::Write;
            let _ = child.stdin.take().unwrap().write_all(value.as_bytes());
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 90_000));
        let finished = child.try_wait().unwrap();
        match finished {
            Some(status) if status.success() => {
                if args[0] == "add" {
                    acknowledged.push((args[1].to_owned(), value.clone()));
                }
            }
            Some(_) => {}
            None => {
                child.kill().unwrap();
                let status = child.wait().unwrap();
                if status.success() && args[0] == "add" {
                    acknowledged.push((args[1].to_owned(), value.clone()));
                } else if status.signal_is_kill() {
                    killed += 1;
                }
            }
        }
        // After every run: the vault opens and the chain verifies.
        let out = env.cmd().args(["list", "--json"]).output().unwrap();
        assert!(out.status.success(), "run {i}: the vault no longer opens: {}", stderr(&out));
        let out = env.cmd().args(["audit", "verify"]).output().unwrap();
        assert!(out.status.success(), "run {i}: the audit chain broke: {}", stderr(&out));
        assert!(temp_files(&env).len() <= 2, "run {i}: temp files pile up: {:?}", temp_files(&env));
    }
    for (name, value) in &acknowledged {
        assert_eq!(&env.get(name), value, "an acknowledged write was lost");
    }
    assert!(env.cmd().args(["get", "rotating"]).output().unwrap().status.success());
    eprintln!("crash loop: {kills} runs, {killed} killed mid-write, {} acknowledged adds kept", acknowledged.len());
}

trait KilledBy {
    fn signal_is_kill(&self) -> bool;
}
impl KilledBy for std::process::ExitStatus {
    fn signal_is_kill(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.signal() == Some(libc::SIGKILL)
    }
}
