//! Issue 17: a member whose key is an age plugin's (`age1NAME1…`), opened with the plugin
//! identity in `KEYWARD_IDENTITY`, over the real age plugin protocol. The plugin is the test
//! plugin in `examples/age-plugin-keywardtest.rs` (X25519 under its own stanza tag; it logs each
//! run), which `cargo test` builds; the real `age` command opens keyward's wrap with it too.
//! A plugin runs only when the user named it: never because a vault names one, never under the
//! git drivers or completion.

use std::path::PathBuf;
use std::process::Command;

use crate::common;

use common::{Env, stderr, stdout};

/// The directory holding `age-plugin-keywardtest`.
fn plugin_dir() -> PathBuf {
    let bin = assert_cmd::cargo::cargo_bin("keyward");
    let dir = bin.parent().unwrap().join("examples");
    assert!(dir.join("age-plugin-keywardtest").exists(), "cargo test builds the example plugin");
    dir
}

struct Plugin {
    path: String,
    log: PathBuf,
    identity: PathBuf,
    recipient: String,
}

impl Plugin {
    fn new(env: &Env) -> Plugin {
        let path = format!("{}:{}", plugin_dir().display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new(plugin_dir().join("age-plugin-keywardtest")).arg("--generate").output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let (id, recipient) = (lines.next().unwrap().to_owned(), lines.next().unwrap().to_owned());
        assert!(id.starts_with("AGE-PLUGIN-KEYWARDTEST-1") && recipient.starts_with("age1keywardtest1"));
        let identity = env.path("plugin-identity.txt");
        std::fs::write(&identity, format!("# a test plugin identity\n#    Recipient: {recipient}\n{id}\n")).unwrap();
        std::fs::set_permissions(&identity, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        Plugin { path, log: env.path("plugin.log"), identity, recipient }
    }

    /// How many times the plugin ran.
    fn runs(&self) -> usize {
        std::fs::read_to_string(&self.log).map_or(0, |t| t.lines().filter(|l| l.starts_with("run ")).count())
    }
}

fn as_member_with_path(env: &Env, plugin: &Plugin, path: &str, args: &[&str]) -> std::process::Output {
    env.cmd()
        .env("PATH", path)
        .env("KEYWARDTEST_LOG", &plugin.log)
        .env_remove("KEYWARD_VAULT_KEY")
        .env("KEYWARD_IDENTITY", &plugin.identity)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_plugin_member_opens_the_vault_and_no_file_makes_a_plugin_run() {
    let env = Env::with_recovery_key();
    env.add("dev/key", "dev-value-000000001", &["--env", "dev"]);
    env.add("prod/key", "prod-value-000000001", &["--env", "prod"]);
    let plugin = Plugin::new(&env);
    let with_plugin = |cmd: &mut assert_cmd::Command| {
        cmd.env("PATH", &plugin.path).env("KEYWARDTEST_LOG", &plugin.log);
    };

    // member add names the plugin: it may run for this command.
    let mut add = env.cmd();
    with_plugin(&mut add);
    let out = add.args(["member", "add", "yuki", "--env", "dev", "--key", &plugin.recipient]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(plugin.runs() >= 1, "the plugin wrapped the keys");
    let list = stdout(&env.cmd().args(["member", "list"]).output().unwrap());
    assert!(list.contains("age-plugin-keywardtest"), "{list}");

    // The member opens what they hold with their plugin identity, and nothing else.
    let as_member = |args: &[&str]| {
        let mut cmd = env.cmd();
        with_plugin(&mut cmd);
        cmd.env_remove("KEYWARD_VAULT_KEY").env("KEYWARD_IDENTITY", &plugin.identity).args(args).output().unwrap()
    };
    let out = as_member(&["get", "dev/key"]);
    assert_eq!(stdout(&out), "dev-value-000000001\n", "{}", stderr(&out));
    let out = as_member(&["get", "prod/key"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));

    // A PATH with a relative entry (which would resolve in the directory keyward runs in, a
    // repository's, say) runs no plugin at all.
    let before = plugin.runs();
    let out = as_member_with_path(&env, &plugin, &format!("bin:{}", plugin.path), &["get", "dev/key"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(plugin.runs(), before);

    // The real age opens keyward's wrap of dev with the same identity and plugin.
    let doc = keyward::vault::v2::text::parse(&std::fs::read(&env.vault).unwrap()).unwrap();
    let wrap = doc.domain("dev").unwrap().head.to.iter().find(|w| w.slot.label == "yuki").unwrap();
    let file = env.path("dev.age");
    std::fs::write(&file, &wrap.age).unwrap();
    let out = Command::new("age")
        .env("PATH", &plugin.path)
        .arg("-d")
        .arg("-i")
        .arg(&plugin.identity)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "age: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout.len(), 32, "the dev key");

    // Everyone else's commands never run it: reading with the recovery key, completion, the git
    // diff driver — even with the plugin on PATH.
    let before = plugin.runs();
    let mut get = env.cmd();
    with_plugin(&mut get);
    get.args(["get", "dev/key"]).assert().success();
    let mut textconv = env.cmd();
    with_plugin(&mut textconv);
    textconv.arg("git").arg("textconv").arg(&env.vault).assert().success();
    let mut complete = env.cmd();
    with_plugin(&mut complete);
    complete
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n")
        .env_remove("KEYWARD_VAULT_KEY")
        .env("KEYWARD_IDENTITY", &plugin.identity)
        .args(["--", "keyward", "get", ""])
        .assert()
        .success();
    assert_eq!(plugin.runs(), before, "nothing ran the plugin");

    // A write that must wrap for the plugin member (a re-key of dev) needs the user's say-so.
    let mut rm = env.cmd();
    with_plugin(&mut rm);
    env.cmd().args(["key", "token", "add", "ci", "--env", "dev"]).assert().success();
    let out = rm.args(["key", "token", "rm", "ci", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("KEYWARD_AGE_PLUGINS=keywardtest"), "{}", stderr(&out));
    assert_eq!(plugin.runs(), before, "refused before running it");
    let mut rm = env.cmd();
    with_plugin(&mut rm);
    rm.env("KEYWARD_AGE_PLUGINS", "keywardtest").args(["key", "token", "rm", "ci", "--yes"]).assert().success();
    assert!(plugin.runs() > before);
    let out = as_member(&["get", "dev/key"]);
    assert_eq!(stdout(&out), "dev-value-000000001\n", "after the re-key: {}", stderr(&out));
}
