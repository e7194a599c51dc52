//! The Secret Service path for real: gnome-keyring-daemon on a private D-Bus session bus.
//! Mandatory when `CI` is set (.ci/run installs the daemon); elsewhere skipped with a reason when
//! the daemon is not installed.

use crate::common;

use std::process::Command;

use common::Env;

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

#[test]
fn secret_service_init_get_lock_unlock() {
    if !(have("dbus-run-session") && have("gnome-keyring-daemon")) {
        assert!(std::env::var_os("CI").is_none(), "CI must install gnome-keyring and dbus (see .ci/run)");
        eprintln!("SKIPPED: gnome-keyring-daemon or dbus-run-session is not installed");
        return;
    }
    let env = Env::new();
    let keyward = assert_cmd::cargo::cargo_bin("keyward");
    let rk = env.path("rk");
    // Each step prints a marker; the test reads them back. The value is piped, never in argv.
    let script = format!(
        r#"
        set -u
        echo -n keyring-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        K='{keyward}'
        "$K" init --keyring secret-service --recovery-key-file '{rk}' && echo STEP:init
        printf 'sk_test_secret_service_value' | "$K" add ss/key && echo STEP:add
        [ "$("$K" get -n ss/key)" = sk_test_secret_service_value ] && echo STEP:get
        "$K" key status --json | grep -q '"source": "keyring (secret-service@' && echo STEP:status
        "$K" lock && echo STEP:lock
        "$K" get ss/key >/dev/null 2>&1; echo "STEP:locked-exit-$?"
        "$K" unlock --keyring secret-service < '{rk}' && echo STEP:unlock
        [ "$("$K" get -n ss/key)" = sk_test_secret_service_value ] && echo STEP:get-again
        secret-tool search --all service keyward 2>/dev/null | grep -c '^secret' | sed 's/^/STEP:entries-/'
        PUB="$("$K" identity new)" && echo STEP:identity-new
        [ "$("$K" identity show)" = "$PUB" ] && echo STEP:identity-show
        "$K" member add me --key "$PUB" >/dev/null && echo STEP:member-add
        "$K" lock && [ "$("$K" get -n ss/key)" = sk_test_secret_service_value ] && echo STEP:get-as-member
        "#,
        keyward = keyward.display(),
        rk = rk.display()
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("XDG_DATA_HOME", env.home.join(".local/share"))
        .env("XDG_RUNTIME_DIR", env.path(""))
        .env("KEYWARD_VAULT", &env.vault)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let steps: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("STEP:")).collect();
    assert_eq!(
        steps,
        [
            "init",
            "add",
            "get",
            "status",
            "lock",
            "locked-exit-4",
            "unlock",
            "get-again",
            "entries-1",
            "identity-new",
            "identity-show",
            "member-add",
            "get-as-member"
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
