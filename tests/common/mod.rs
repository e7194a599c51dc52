//! Test harness: every test gets its own HOME, XDG directories and vault, and runs the real
//! binary with an environment cleared of everything keyward reads.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub(crate) struct Env {
    pub dir: TempDir,
    pub home: PathBuf,
    pub vault: PathBuf,
    /// The value for KEYWARD_VAULT_KEY, once a test has one.
    pub key: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl Env {
    pub(crate) fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let vault = home.join("vault.kw");
        Env { dir, home, vault, key: None, extra: Vec::new() }
    }

    /// A vault with no keyring, opened through its recovery key in KEYWARD_VAULT_KEY.
    pub(crate) fn with_recovery_key() -> Env {
        Env::with_recovery_key_in(2)
    }

    /// [`Env::with_recovery_key`] in vault format 1 (the binary format before format 2).
    pub(crate) fn with_recovery_key_v1() -> Env {
        Env::with_recovery_key_in(1)
    }

    fn with_recovery_key_in(format: u16) -> Env {
        let mut env = Env::new();
        let file = env.path("recovery.txt");
        env.cmd()
            .args(["init", "--keyring", "none", "--format", &format.to_string(), "--recovery-key-file"])
            .arg(&file)
            .assert()
            .success();
        env.key = Some(std::fs::read_to_string(&file).unwrap().trim().to_owned());
        env
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn set(&mut self, key: &str, value: impl AsRef<str>) {
        self.extra.push((key.to_owned(), value.as_ref().to_owned()));
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("keyward").expect("binary built");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("KEYWARD_VAULT", &self.vault)
            .current_dir(&self.home);
        if let Some(key) = &self.key {
            cmd.env("KEYWARD_VAULT_KEY", key);
        }
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// The same command as a plain `std::process::Command`, for tests that drive the process
    /// themselves (spawn, signal, kill).
    pub(crate) fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyward"));
        cmd.env_clear().current_dir(&self.home);
        for (k, v) in self.cmd().get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd
    }

    /// A command run at a given time (`KEYWARD_NOW`, honoured by debug builds only).
    pub(crate) fn at(&self, time: &str) -> Command {
        let mut cmd = self.cmd();
        cmd.env("KEYWARD_NOW", time);
        cmd
    }

    /// `keyward add NAME ARGS...` with the value on standard input.
    pub(crate) fn add(&self, name: &str, value: &str, args: &[&str]) {
        self.cmd().arg("add").arg(name).args(args).write_stdin(value).assert().success();
    }

    pub(crate) fn get(&self, name: &str) -> String {
        let out = self.cmd().args(["get", "-n", name]).output().unwrap();
        assert!(out.status.success(), "get {name}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

/// An identity file made by the real `age-keygen` (Debian's age package), and its public key.
pub(crate) fn age_identity(env: &Env, name: &str) -> (PathBuf, String) {
    let file = env.path(&format!("{name}.txt"));
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen (Debian's age package)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let public = std::process::Command::new("age-keygen").arg("-y").arg(&file).output().unwrap();
    (file, String::from_utf8(public.stdout).unwrap().trim().to_owned())
}

/// The secrets `rotate --due --json` lists as exposed to `who` (`member bob`), sorted; it exits 1
/// while any secret is due.
pub(crate) fn exposed_to(env: &Env, who: &str) -> Vec<String> {
    let out = env.cmd().args(["rotate", "--due", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let due: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut names: Vec<String> = due
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["exposed_to"] == who)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort_unstable();
    names
}

/// The removed member's attack on `domain`: unwrap their (`label`'s) wrap of it in the `old` file
/// with the real `age` and their `identity`, and try that key on every record of `domain` in the
/// vault now. Asserts the domain has another key and no record opens; returns how many records
/// it holds.
pub(crate) fn old_wrap_opens_nothing(env: &Env, old: &[u8], label: &str, identity: &Path, domain: &str) -> usize {
    use keyward::vault::v2::{keys, text};
    let old_doc = text::parse(old).unwrap();
    let wrap = old_doc.domain(domain).unwrap().head.to.iter().find(|w| w.slot.label == label).unwrap();
    let wrapped = env.path(&format!("{domain}-key.age"));
    std::fs::write(&wrapped, &wrap.age).unwrap();
    let out = std::process::Command::new("age").arg("-d").arg("-i").arg(identity).arg(&wrapped).output().unwrap();
    assert!(out.status.success(), "age opens the old wrap: {}", String::from_utf8_lossy(&out.stderr));
    let raw = keyward::sensitive::Key32::from_slice(&out.stdout).expect("a 32-byte domain key");
    let old_key = keys::DomainKey::new(&old_doc.id, raw);
    let now = text::parse(&std::fs::read(&env.vault).unwrap()).unwrap();
    let d = now.domain(domain).unwrap();
    assert_ne!(d.head.key_id, old_key.id(), "{domain} is under a new key");
    for line in &d.secrets {
        let sealed = data_encoding::BASE64_NOPAD.decode(now.sealed_text(line)).unwrap();
        let mut aad = keys::Transcript::new("keyward/v2/record", &now.id);
        aad.str(domain).str(now.secret_name(line));
        assert!(old_key.open(aad.as_bytes(), &sealed).is_err(), "{}", now.secret_name(line));
    }
    d.secrets.len()
}

pub(crate) fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Asserts the one-line error format: `keyward: <what> — <what to do>`, or under `--json` one
/// JSON object with the error, the hint and the exit code.
pub(crate) fn assert_one_line_error(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("keyward: warning:")).collect();
    assert_eq!(lines.len(), 1, "expected one line of error, got: {stderr}");
    if lines[0].starts_with('{') {
        let doc: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON error");
        assert!(doc["error"].is_string() && doc["hint"].is_string() && doc["exit_code"].is_i64(), "bad: {stderr}");
        return;
    }
    assert!(lines[0].starts_with("keyward: ") && lines[0].contains(" — "), "bad error format: {stderr}");
}

/// `keyward ARGS...` in `env`, its output collected.
pub(crate) fn run(env: &Env, args: &[&str]) -> std::process::Output {
    env.cmd().args(args).output().unwrap()
}

/// Asserts a refusal: the exit code, one line naming `says`, nothing on standard output.
pub(crate) fn refused(out: &std::process::Output, code: i32, says: &str) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
    assert!(stdout(out).is_empty(), "a refusal prints nothing on stdout: {}", stdout(out));
    assert_one_line_error(&stderr(out));
    assert!(stderr(out).contains(says), "{:?} lacks {says:?}", stderr(out));
}

/// The error's text, from either form [`assert_one_line_error`] accepts.
pub(crate) fn error_text(stderr: &str) -> String {
    match stderr.lines().find(|l| l.starts_with('{')).and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok()) {
        Some(doc) => format!("{} — {}", doc["error"].as_str().unwrap_or(""), doc["hint"].as_str().unwrap_or("")),
        None => stderr.to_owned(),
    }
}
pub(crate) mod provider_server;
pub(crate) mod proxy;
pub(crate) mod rng;
pub(crate) mod terminal;

impl Env {
    /// The vault opened through the library with this test's key (as a reader of the file would).
    pub(crate) fn open_vault(&self) -> keyward::vault::Vault {
        let key = self.key.as_ref().expect("open_vault needs KEYWARD_VAULT_KEY");
        let code = keyward::unlock::codes::parse(key).expect("a key");
        let locked = keyward::vault::Locked::read(&self.vault).unwrap();
        let mut credential = keyward::unlock::Credential::new(code);
        let opened = credential.open(&locked).expect("the key opens the vault");
        locked.open(opened.key).unwrap()
    }

    /// [`Env::open_vault`], or through the passphrase in KEYWARD_PASSPHRASE_FILE when there is
    /// no key.
    pub(crate) fn open_vault_with_passphrase(&self) -> keyward::vault::Vault {
        if self.key.is_some() {
            return self.open_vault();
        }
        let file = self.extra.iter().find(|(k, _)| k == "KEYWARD_PASSPHRASE_FILE").expect("a key or a passphrase");
        let passphrase = keyward::sensitive::read_passphrase_file(std::path::Path::new(&file.1)).unwrap();
        let locked = keyward::vault::Locked::read(&self.vault).unwrap();
        let identity = keyward::unlock::passphrase::PassphraseIdentity::new(passphrase);
        let opened = keyward::unlock::Credential::new(identity).open(&locked).expect("the passphrase opens the vault");
        locked.open(opened.key).unwrap()
    }

    /// Rewrites the vault's records as a writer holding a key can (a teammate with a token, a
    /// pull request to a committed vault): through the library, so the file still authenticates.
    pub(crate) fn craft(&self, change: impl FnOnce(&mut keyward::vault::payload::Records)) {
        let key = self.key.as_ref().expect("craft needs KEYWARD_VAULT_KEY");
        let code = keyward::unlock::codes::parse(key).expect("a key");
        let locked = keyward::vault::Locked::read(&self.vault).unwrap();
        let mut credential = keyward::unlock::Credential::new(code);
        let opened = credential.open(&locked).expect("the key opens the vault");
        let mut vault = locked.open(opened.key).unwrap();
        let mut records = vault.records().unwrap();
        change(&mut records);
        vault.set_records(records);
        vault.save().unwrap();
    }

    /// Writes the user's config file.
    pub(crate) fn config(&self, text: &str) {
        let dir = self.home.join(".config/keyward");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), text).unwrap();
    }
}
