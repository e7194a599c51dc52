//! Leak sentinels: a recognisable value (and its base64, hex and percent forms) is stored, then
//! every command runs. It must never appear on stderr, on the stdout of commands that do not
//! print values, in the audit log, the config or any temp file, in the arguments of keyward or
//! of an `exec` child, or in an `exec` child's environment other than its own variable.

use crate::common;

use common::{Env, stderr, stdout};

const SENTINEL: &str = "LEAKSENTINEL-7f3c9a-value-000111";

fn forms() -> Vec<String> {
    vec![
        SENTINEL.to_owned(),
        data_encoding::BASE64.encode(SENTINEL.as_bytes()),
        data_encoding::BASE64URL_NOPAD.encode(SENTINEL.as_bytes()),
        data_encoding::HEXLOWER.encode(SENTINEL.as_bytes()),
        keyward::mask::forms::percent_encode(&format!("{SENTINEL}/")),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for f in forms() {
        assert!(!text.contains(&f), "{what} leaks the sentinel (as {f})");
    }
}

#[test]
fn the_sentinel_never_leaks() {
    let mut env = Env::with_recovery_key();
    env.add("leak/sentinel", SENTINEL, &["--var", "SENTINEL"]);
    env.add("other", "other-value-123456", &[]);
    let config = env.path("config.toml");
    std::fs::write(&config, "[validate]\ntimeout = \"5s\"\n").unwrap();
    env.set("KEYWARD_CONFIG", config.to_str().unwrap());
    let template = env.path("t.tmpl");
    std::fs::write(&template, "x={{ keyward:leak/sentinel }}\n").unwrap();
    let log = env.path("app.log");
    std::fs::write(&log, format!("token {SENTINEL}\n")).unwrap();

    // (command, prints values on stdout)
    let runs: Vec<(Vec<String>, bool)> = [
        (vec!["list"], false),
        (vec!["list", "--json"], false),
        (vec!["info", "leak/sentinel"], false),
        (vec!["info", "leak/sentinel", "--json"], false),
        (vec!["update", "leak/sentinel", "--note", "n"], false),
        (vec!["validate", "--all"], false),
        (vec!["validate", "--all", "--json"], false),
        (vec!["rotate", "--due", "--within", "1000d"], false),
        (vec!["providers"], false),
        (vec!["key", "status"], false),
        (vec!["key", "token", "list"], false),
        (vec!["doctor"], false),
        (vec!["audit"], false),
        (vec!["audit", "--jsonl"], false),
        (vec!["audit", "report"], false),
        (vec!["audit", "verify"], false),
        (vec!["mask"], false),
        (vec!["mask", "--style", "label"], false),
        (vec!["exec", "--", "sh", "-c", "echo $SENTINEL; echo $SENTINEL >&2"], false),
        (vec!["completions", "bash"], false),
        (vec!["get", "leak/sentinel"], true),
        (vec!["get", "leak/sentinel", "--json"], true),
        (vec!["export", "--format", "dotenv"], true),
        (vec!["export", "--format", "json"], true),
        (vec!["inject", "-i", template.to_str().unwrap()], true),
        (vec!["exec", "--no-mask", "--", "printenv", "SENTINEL"], true),
        (vec!["get", "no/such"], false),
        (vec!["rename", "other", "other2"], false),
        (vec!["backup", env.path("b.kwb").to_str().unwrap()], false),
    ]
    .into_iter()
    .map(|(a, p)| (a.into_iter().map(str::to_owned).collect(), p))
    .collect();
    for (args, prints_values) in &runs {
        let stdin = if args[0] == "mask" { format!("log line {SENTINEL} end\n") } else { String::new() };
        let out = env.cmd().args(args).write_stdin(stdin).output().unwrap();
        let what = args.join(" ");
        assert_clean(&format!("stderr of `{what}`"), &stderr(&out));
        if !prints_values {
            assert_clean(&format!("stdout of `{what}`"), &stdout(&out));
        }
    }
    let out = env.cmd().args(["mask"]).arg(&log).output().unwrap();
    assert_clean("mask FILE", &stdout(&out));

    // keyward's own arguments and the exec child's: /proc/*/cmdline, as the child sees them.
    let out = env
        .cmd()
        .args([
            "exec",
            "--no-mask",
            "--",
            "sh",
            "-c",
            "tr '\\0' ' ' < /proc/$$/cmdline; echo; tr '\\0' ' ' < /proc/$PPID/cmdline",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("command lines", &stdout(&out));
    // The child's environment holds the value only in its own variable.
    let out = env.cmd().args(["exec", "--no-mask", "--", "env"]).output().unwrap();
    for line in stdout(&out).lines() {
        if !line.starts_with("SENTINEL=") {
            assert_clean(&format!("exec environment ({line})"), line);
        }
    }
    assert!(stdout(&out).contains(&format!("SENTINEL={SENTINEL}")));

    // References, and refusals that name a secret or a variable, never its value.
    let out = env.cmd().env("X", "keyward:leak/sentinel").args(["exec", "--", "true"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("exec with a reference", &format!("{}{}", stdout(&out), stderr(&out)));
    env.cmd()
        .args(["add", "leak/hook", "--var", "GIT_ASKPASS", "--allow-var", "GIT_ASKPASS"])
        .write_stdin(SENTINEL)
        .assert()
        .success();
    for args in [&["exec", "--", "true"][..], &["export"], &["get", "leak/sentinel", "--version", "9"]] {
        let out = env.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert_clean(&format!("refusal of {args:?}"), &format!("{}{}", stdout(&out), stderr(&out)));
    }
    env.cmd().args(["revoke", "leak/sentinel", "--compromised", "--yes"]).assert().success();
    for args in [&["get", "leak/sentinel", "--version", "1"][..], &["export", "--only", "leak/sentinel"]] {
        let out = env.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(6), "{args:?}");
        assert_clean(&format!("revoked: {args:?}"), &format!("{}{}", stdout(&out), stderr(&out)));
    }

    // Every file keyward wrote (vault, lock, audit log and head, backup, config): encrypted or clean.
    let mut stack = vec![env.dir.path().to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path != log && path != template {
                let bytes = std::fs::read(&path).unwrap();
                assert_clean(&path.display().to_string(), &String::from_utf8_lossy(&bytes));
                assert!(!path.to_string_lossy().ends_with(".tmp"), "a temp file was left: {}", path.display());
            }
        }
    }
}
