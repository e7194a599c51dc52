//! A snapshot of `--help` for every command: help text is part of the interface. When a change
//! is intended, regenerate with `KEYWARD_BLESS=1 cargo test --test e2e help::` and review the diff.

use crate::common;

use std::path::Path;

fn commands(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(path.clone());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let mut p = path.clone();
        p.push(sub.get_name().to_owned());
        commands(sub, p, out);
    }
}

#[test]
fn help_output_matches_the_snapshot() {
    let env = common::Env::new();
    let mut all = Vec::new();
    commands(&keyward::command(), Vec::new(), &mut all);
    let mut text = String::new();
    for path in &all {
        let out = env.cmd().args(path).arg("--help").env("COLUMNS", "100").output().unwrap();
        assert!(out.status.success(), "{path:?} --help failed");
        text.push_str(&format!("==> keyward {} --help\n", path.join(" ")));
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        text.push('\n');
    }
    // With no arguments: a short overview, not an error wall.
    let out = env.cmd().output().unwrap();
    assert!(out.status.success());
    text.push_str("==> keyward\n");
    text.push_str(&String::from_utf8_lossy(&out.stdout));

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help.txt");
    if std::env::var_os("KEYWARD_BLESS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if committed != text {
        let first = committed.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "help output changed (first difference at line {}):\n  snapshot: {:?}\n  now:      {:?}\n\
             if intended, run `KEYWARD_BLESS=1 cargo test --test e2e help::` and review the diff",
            first + 1,
            committed.lines().nth(first),
            text.lines().nth(first)
        );
    }
}
