//! The bad-input table: malformed input of every kind, across commands, each with its expected
//! exit code and a one-line error that says what to do. Nothing is lost: after the whole table
//! the vault still holds exactly what it held before.

use crate::common;

use common::{Env, stderr, stdout};

struct Case {
    what: &'static str,
    args: Vec<String>,
    stdin: Vec<u8>,
    /// Extra environment.
    env: Vec<(&'static str, String)>,
    code: i32,
    /// Text the error must contain.
    says: &'static str,
}

fn case(what: &'static str, args: &[&str], code: i32, says: &'static str) -> Case {
    Case {
        what,
        args: args.iter().map(std::string::ToString::to_string).collect(),
        stdin: Vec::new(),
        env: Vec::new(),
        code,
        says,
    }
}

impl Case {
    fn stdin(mut self, input: impl Into<Vec<u8>>) -> Case {
        self.stdin = input.into();
        self
    }
    fn env(mut self, key: &'static str, value: impl Into<String>) -> Case {
        self.env.push((key, value.into()));
        self
    }
}

#[test]
fn malformed_input_gets_a_one_line_error_and_its_exit_code() {
    let env = Env::with_recovery_key();
    env.add("kept/one", "kept-value-0001", &[]);
    env.add("kept/two", "kept-value-0002", &["--env", "prod"]);
    let dir = env.path("");
    let file = |name: &str, content: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    };
    // Format 1 files, for the attacks on its binary header.
    let v1 = Env::with_recovery_key_v1();
    let future = {
        let mut bytes = std::fs::read(&v1.vault).unwrap();
        bytes[8] = 9; // format version 9
        file("future.kw", &bytes)
    };
    let future_text = {
        let text = std::fs::read_to_string(&env.vault).unwrap();
        file("future2.kw", text.replacen("keyward vault 2\n", "keyward vault 3\n", 1).as_bytes())
    };
    let bad_config = file("bad.toml", b"[validate]\nconcurrency = \"many\"\n");
    let bad_regex = file(
        "regex.toml",
        b"[providers.x]\nname = \"X\"\n[[providers.x.patterns]]\nkind = \"k\"\nregex = '(['\nmax_len = 5\n",
    );
    let unbounded = file(
        "unbounded.toml",
        b"[providers.x]\nname = \"X\"\n[[providers.x.patterns]]\nkind = \"k\"\nregex = 'x_[a-z]+'\nmax_len = 40\n",
    );
    let bad_env_file = file("bad.env", b"OK=1\nnot a line\n");
    let unclosed = file("unclosed.env", b"A=\"never closed\n");
    let bad_json = file("bad.json", b"{\"A\": 1}");
    let not_json = file("not.json", b"[1, 2");
    let bad_template = file("bad.tmpl", b"x {{ keyward:kept/one\n}}");
    let unknown_ref = file("unknown.tmpl", b"a\nb {{ keyward:no/such }}");
    let traversal_ref = file("traversal.tmpl", b"{{ keyward:../../etc/passwd }}");
    let not_backup = file("not.kwb", b"garbage");
    let not_utf8 = file("latin1.env", b"A=caf\xe9\n");
    let bad_allow = file("allow.toml", b"[exec]\nallow_vars = [\"1BAD\"]\n");
    let loose_config = file("loose.toml", b"[validate]\ntimeout = \"5s\"\n");
    std::fs::set_permissions(&loose_config, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let log = file("app.log", b"a log line\n");
    let log_link = dir.join("link.log");
    std::os::unix::fs::symlink(&log, &log_link).unwrap();
    let log_link = log_link.display().to_string();
    let (two_passphrases, control_label) = {
        use keyward::vault::format;
        let bytes = std::fs::read(&v1.vault).unwrap();
        let parsed = format::parse(&bytes).unwrap();
        let mut header = parsed.header.clone();
        let slot = header.slots[0].clone();
        let passphrase = format::Slot {
            kind: format::SlotKind::Passphrase,
            kdf: format::Kdf::Argon2id(keyward::vault::crypto::Argon2Params::DEFAULT),
            ..slot.clone()
        };
        header.slots = vec![passphrase.clone(), format::Slot { label: "again".into(), ..passphrase }];
        let mut two = format::encode_header(&header);
        two.extend_from_slice(parsed.ciphertext);
        let mut header = parsed.header.clone();
        header.slots = vec![format::Slot { kind: format::SlotKind::Token, label: "ci\u{1b}[2J".into(), ..slot }];
        let mut control = format::encode_header(&header);
        control.extend_from_slice(parsed.ciphertext);
        (file("two-passphrases.kw", &two), file("control-label.kw", &control))
    };
    std::fs::create_dir_all(dir.join("a-directory.kw")).unwrap();
    // A symlink to a vault file owned by someone else (uid 65534, "nobody").
    let foreign = file("foreign.kw", &std::fs::read(&env.vault).unwrap());
    // Only root can give a file away; as another user this case is left out.
    let chowned = std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).is_ok();
    let foreign_link = dir.join("link.kw");
    std::os::unix::fs::symlink(&foreign, &foreign_link).unwrap();
    let foreign_link = foreign_link.display().to_string();
    let directory_vault = dir.join("a-directory.kw").display().to_string();

    let mut cases = vec![
        // names
        case("empty name", &["add", ""], 2, "invalid secret name").stdin("v"),
        case("name with a space", &["add", "a b"], 2, "invalid secret name").stdin("v"),
        case("name with ..", &["add", "a/../b"], 2, "invalid secret name").stdin("v"),
        case("name starting with a dash", &["get", "--", "-x"], 2, "invalid secret name"),
        case("name with an escape", &["add", "a\u{1b}[31m"], 2, "invalid secret name").stdin("v"),
        case("name too long", &["add", &"x".repeat(129)], 2, "invalid secret name").stdin("v"),
        case("unknown secret", &["get", "no/such"], 3, "no secret named"),
        case("unknown version", &["get", "kept/one", "--version", "previous"], 3, "no previous version"),
        case("bad version word", &["get", "kept/one", "--version", "latest"], 2, "invalid version"),
        case("existing name", &["add", "kept/one"], 6, "already exists").stdin("v"),
        case("rename onto an existing name", &["rename", "kept/one", "kept/two"], 6, "already exists"),
        // values
        case("empty value", &["add", "new/a"], 2, "empty").stdin(""),
        case("only a newline", &["add", "new/b"], 2, "empty").stdin("\n"),
        case("value not UTF-8", &["add", "new/c"], 2, "not UTF-8").stdin(b"\xff\xfe".to_vec()),
        case("value over 64 KiB", &["add", "new/d"], 2, "larger than").stdin(vec![b'a'; 70_000]),
        case("a value on the command line", &["add", "new/e", "sk_live_oops"], 2, "unexpected argument"),
        // flags, dates, durations, networks
        case("unknown flag", &["list", "--colour"], 2, "unexpected argument"),
        case("bad expiry date", &["add", "new/f", "--expires", "2027-13-45"], 2, "invalid expiry").stdin("v"),
        case("bad expiry word", &["add", "new/g", "--expires", "soonish"], 2, "invalid expiry").stdin("v"),
        case("bad duration", &["add", "new/h", "--rotate-every", "90 dayz"], 2, "invalid rotation period").stdin("v"),
        case("zero duration", &["add", "new/i", "--rotate-every", "0s"], 2, "invalid rotation period").stdin("v"),
        case("bad CIDR", &["add", "new/j", "--allow-ip", "10.0.0.0/33"], 2, "invalid address").stdin("v"),
        case("not an address", &["add", "new/k", "--allow-ip", "localhost"], 2, "invalid address").stdin("v"),
        case("bad origin", &["add", "new/l", "--allow-origin", "ftp://x"], 2, "invalid origin").stdin("v"),
        case("bad rate limit", &["add", "new/m", "--rate-limit", "fast"], 2, "invalid rate limit").stdin("v"),
        case("bad environment", &["add", "new/n", "--env", "Prod Env!"], 2, "invalid environment").stdin("v"),
        case("bad variable", &["add", "new/o", "--var", "1BAD"], 2, "invalid variable").stdin("v"),
        case("reserved variable", &["add", "new/p", "--var", "KEYWARD_VAULT_KEY"], 2, "reserved").stdin("v"),
        case("a start-up variable", &["add", "new/r", "--var", "LD_PRELOAD"], 6, "changes how programs start")
            .stdin("v"),
        case("a name whose variable is PATH", &["add", "path"], 6, "variable PATH").stdin("v"),
        case("a reference that names no secret", &["exec", "--", "true"], 125, "invalid secret name")
            .env("X", "keyward:../etc"),
        case("unknown provider", &["add", "new/q", "--provider", "nope"], 2, "no provider").stdin("v"),
        case("bad token label", &["key", "token", "add", "has space"], 2, "invalid token label"),
        case("bad --since", &["audit", "--since", "yesterday-ish"], 2, "invalid time"),
        case("bad --within", &["rotate", "--due", "--within", "forever"], 2, "invalid --within"),
        case("rm without --yes and no terminal", &["rm", "kept/one"], 2, "--yes"),
        // files
        case("malformed .env line", &["import", &bad_env_file], 2, "line 2"),
        case("unclosed quote", &["import", &unclosed], 2, "line 1"),
        case(".env not UTF-8", &["import", &not_utf8], 2, "not UTF-8"),
        case("JSON value not a string", &["import", &bad_json], 2, "string"),
        case("JSON cut off", &["import", &not_json], 2, "JSON"),
        case("missing import file", &["import", "/no/such/file.env"], 7, "cannot read"),
        case("unclosed template reference", &["inject", "-i", &bad_template], 2, "line 1"),
        case("unknown template reference", &["inject", "-i", &unknown_ref], 3, "line 2"),
        case("template path traversal", &["inject", "-i", &traversal_ref], 2, "does not name a secret"),
        case(
            "not a backup",
            &["restore", &not_backup, "--vault", &dir.join("r.kw").display().to_string()],
            5,
            "not a keyward backup",
        ),
        // config
        case("config with a wrong type", &["validate", "--all"], 2, "line 2").env("KEYWARD_CONFIG", bad_config.clone()),
        case("config with a broken regex", &["providers"], 2, "patterns[0].regex")
            .env("KEYWARD_CONFIG", bad_regex.clone()),
        case("config pattern longer than its max_len", &["validate", "--all"], 2, "without limit")
            .env("KEYWARD_CONFIG", unbounded.clone()),
        case("config allowing a malformed variable", &["exec", "--", "true"], 125, "exec.allow_vars[0]")
            .env("KEYWARD_CONFIG", bad_allow.clone()),
        case("config others may write", &["providers"], 7, "others may write")
            .env("KEYWARD_CONFIG", loose_config.clone()),
        case("mask --in-place on a link", &["mask", "--in-place", &log_link], 2, "symbolic link"),
        // vaults
        case("a vault from the future", &["--vault", &future, "list"], 5, "newer than this keyward"),
        case("a text vault from the future", &["--vault", &future_text, "list"], 5, "newer than this keyward"),
        case("two passphrase slots", &["--vault", &two_passphrases, "list"], 5, "more than one passphrase slot"),
        case(
            "a slot label with an escape",
            &["--vault", &control_label, "key", "token", "list"],
            5,
            "control characters",
        ),
        case("a directory where the vault should be", &["--vault", &directory_vault, "list"], 2, "is a directory"),
        case("no vault there", &["--vault", "/no/such/vault.kw", "list"], 3, "keyward init"),
        case("malformed vault key", &["list"], 4, "not a keyward token").env("KEYWARD_VAULT_KEY", "kwt1-short"),
        case("exec with nothing to run", &["exec", "--"], 2, "required"),
    ];
    if chowned {
        cases.push(case(
            "a symlink to someone else's vault",
            &["--vault", &foreign_link, "list"],
            2,
            "belongs to another user",
        ));
    }
    assert!(cases.len() >= 40, "{} cases", cases.len());

    for c in &cases {
        let mut cmd = env.cmd();
        cmd.args(&c.args).write_stdin(c.stdin.clone());
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(c.code), "{}: {err}", c.what);
        common::assert_one_line_error(&err);
        assert!(err.contains(c.says), "{}: expected {:?} in {err}", c.what, c.says);
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{}: {err}", c.what);
    }

    // Nothing was lost or added along the way.
    let out = env.cmd().args(["list", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kept/one", "kept/two"], "{}", stdout(&out));
    assert_eq!(env.get("kept/one"), "kept-value-0001");
}
