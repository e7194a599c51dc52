//! `get --clip` on a real X11 clipboard: Xvfb and xclip (Debian's `xvfb` and `xclip`, which
//! `.ci/run` installs). Wayland and macOS are not tested here (no compositor, no Mac).

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, stderr, stdout};

/// An X server on a free display, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Option<Xvfb> {
        let have = |tool: &str| {
            Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
        };
        if !have("Xvfb") || !have("xclip") {
            assert!(std::env::var_os("CI").is_none(), "CI must install xvfb and xclip (see .ci/run)");
            eprintln!("SKIPPED: Xvfb or xclip is not installed");
            return None;
        }
        // Xvfb picks a free display itself and writes its number on -displayfd (tests run in
        // parallel: two picking the same number by hand would share one clipboard).
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "640x480x24"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut number = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut number).unwrap();
        let number = number.trim().to_owned();
        assert!(!number.is_empty(), "Xvfb started no display");
        Some(Xvfb { child, display: format!(":{number}") })
    }

    fn clipboard(&self) -> String {
        let out = Command::new("xclip")
            .args(["-selection", "clipboard", "-out"])
            .env("DISPLAY", &self.display)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn set_clipboard(&self, text: &str) {
        use std::io::Write;
        let mut c = Command::new("xclip")
            .args(["-selection", "clipboard", "-in"])
            .env("DISPLAY", &self.display)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        c.wait().unwrap();
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env_on(x: &Xvfb) -> Env {
    let mut env = Env::with_recovery_key();
    env.set("DISPLAY", &x.display);
    env.set("PATH", "/usr/bin:/bin");
    env
}

/// Waits up to `limit` for the clipboard to hold `want`.
fn wait_for(x: &Xvfb, want: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if x.clipboard() == want {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn get_clip_copies_the_value_never_prints_it_and_clears_it_later() {
    let Some(x) = Xvfb::start() else { return };
    let env = env_on(&x);
    env.add("stripe/live", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", &[]);
    let started = Instant::now();
    let out = env.cmd().args(["get", "stripe/live", "--clip", "--clip-timeout", "2s"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(2), "returns at once; the clearing is detached");
    assert!(stdout(&out).is_empty() && !stderr(&out).contains("sk_live_"), "the value is never shown");
    assert!(stderr(&out).contains("clipboard"), "{}", stderr(&out));
    assert!(wait_for(&x, "sk_live_4eC39HqLyjWDarjtT1zdp7dc", Duration::from_secs(5)), "copied");
    // The audit log records a clipboard read, without the value.
    let log = env.cmd().args(["audit", "--json"]).output().unwrap();
    let text = stdout(&log);
    assert!(text.contains("\"clip\": true") && !text.contains("sk_live_4eC39"), "{text}");
    assert!(wait_for(&x, "", Duration::from_secs(10)), "cleared after the timeout: {:?}", x.clipboard());
}

#[test]
fn get_clip_leaves_a_clipboard_that_changed_since() {
    let Some(x) = Xvfb::start() else { return };
    let env = env_on(&x);
    env.add("k", "the-value-to-copy-0001", &[]);
    env.cmd().args(["get", "k", "--clip", "--clip-timeout", "2s"]).assert().success();
    assert!(wait_for(&x, "the-value-to-copy-0001", Duration::from_secs(5)));
    x.set_clipboard("something the user copied");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(x.clipboard(), "something the user copied");
    // No display: a clear error, nothing printed.
    let out = env.cmd().args(["get", "k", "--clip"]).env_remove("DISPLAY").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}
