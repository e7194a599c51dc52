//! Hidden prompts on a real terminal (a pseudo-terminal that is the child's controlling
//! terminal): the passphrase and a value typed by a person. What is typed is never echoed, a
//! wrong passphrase is asked again, and every way out gives the terminal back as it was.

use crate::common;

use std::os::unix::process::ExitStatusExt;

use common::Env;
use common::terminal::Terminal;

const PASSPHRASE: &str = "a long enough passphrase";

/// A vault opened only by a passphrase, holding `k`; the environment no longer gives the
/// passphrase, so commands ask for it.
fn passphrase_vault() -> Env {
    let mut env = Env::new();
    std::fs::write(env.path("pass"), format!("{PASSPHRASE}\n")).unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase"]).assert().success();
    env.add("k", "the-stored-value", &[]);
    env.extra.clear();
    env
}

fn on_terminal(env: &Env, args: &[&str]) -> Terminal {
    let mut cmd = env.std_cmd();
    cmd.args(args);
    Terminal::spawn(cmd)
}

#[test]
fn a_typed_passphrase_is_not_echoed_and_a_wrong_one_is_asked_again() {
    let env = passphrase_vault();
    let mut term = on_terminal(&env, &["get", "k"]);
    term.expect("Passphrase for");
    // Echo is off by the time the prompt shows, not some moment after it.
    assert!(!term.echoes(), "echo still on when the prompt appeared");
    term.type_line("not the passphrase");
    term.expect("does not open the vault; try again");
    term.expect("Passphrase for");
    assert!(!term.echoes());
    term.type_line(PASSPHRASE);
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("the-stored-value"), "{screen}");
    assert!(!screen.contains("passphrase\r\n") && !screen.contains("not the"), "echoed: {screen}");
    assert!(term.echoes(), "echo left off");
}

#[test]
fn two_wrong_passphrases_are_refused() {
    // Two tries: each is an Argon2 derivation with parameters from the file, and a process runs
    // at most two (a hostile vault may ask for the maximum cost).
    let env = passphrase_vault();
    let mut term = on_terminal(&env, &["get", "k"]);
    for _ in 0..2 {
        term.expect("Passphrase for");
        term.type_line("not the passphrase");
    }
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(4), "{screen}");
    assert_eq!(screen.matches("does not open the vault; try again").count(), 1, "{screen}");
    assert_eq!(screen.matches("Passphrase for").count(), 2, "{screen}");
    assert!(screen.contains("that passphrase does not open"), "{screen}");
    assert!(!screen.contains("the-stored-value") && !screen.contains("not the"), "{screen}");
    assert!(term.echoes(), "echo left off");
}

/// Ctrl-C at the prompt ends keyward the usual way (killed by SIGINT, which shells and CI
/// runners understand) with echo back on.
#[test]
fn ctrl_c_at_the_prompt_gives_the_terminal_back() {
    let env = passphrase_vault();
    let mut term = on_terminal(&env, &["get", "k"]);
    term.expect("Passphrase for");
    term.type_bytes(b"half typ\x03");
    let (status, screen) = term.finish();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{screen}");
    assert!(term.echoes(), "echo left off after Ctrl-C");
    assert!(!screen.contains("half"), "{screen}");
}

/// Ctrl-Z gives the terminal back and, once continued, asks again from the start. (The child
/// leads its own session here, so the kernel does not actually stop it: an orphaned process
/// group ignores stop signals. What is tested is the restore and the second prompt.)
#[test]
fn ctrl_z_at_the_prompt_asks_again() {
    let env = passphrase_vault();
    let mut term = on_terminal(&env, &["get", "k"]);
    term.expect("Passphrase for");
    term.type_bytes(b"typed before ^Z\x1a");
    term.expect("Passphrase for");
    term.type_line(PASSPHRASE);
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("the-stored-value"), "{screen}");
}

/// `add` on a terminal asks for the value twice, hidden, and refuses two different answers.
#[test]
fn a_value_typed_at_the_terminal_is_asked_twice_and_never_shown() {
    let env = Env::with_recovery_key();
    let mut term = on_terminal(&env, &["add", "typed"]);
    term.expect("Value (input hidden): ");
    term.type_line("sk-typed-value-0001");
    term.expect("Value again: ");
    term.type_line("sk-typed-value-0001");
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(!screen.contains("sk-typed"), "echoed: {screen}");
    assert_eq!(env.get("typed"), "sk-typed-value-0001");

    let mut term = on_terminal(&env, &["add", "mismatch"]);
    term.expect("Value (input hidden): ");
    term.type_line("sk-typed-value-0001");
    term.expect("Value again: ");
    term.type_line("sk-typed-value-0002");
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(2), "{screen}");
    assert!(screen.contains("type the same text twice"), "{screen}");
    assert!(!screen.contains("sk-typed"), "echoed: {screen}");
}

/// `rm` on a terminal asks first; anything but yes keeps the secret (exit 6).
#[test]
fn rm_asks_before_removing() {
    let env = Env::with_recovery_key();
    env.add("doomed", "value-0001", &[]);
    let mut term = on_terminal(&env, &["rm", "doomed"]);
    term.expect("Remove doomed and all its versions? [y/N] ");
    term.type_line("n");
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(6), "{screen}");
    assert!(screen.contains("nothing removed"), "{screen}");
    assert_eq!(env.get("doomed"), "value-0001");

    let mut term = on_terminal(&env, &["rm", "doomed"]);
    term.expect("[y/N] ");
    term.type_line("yes");
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    env.cmd().args(["get", "doomed"]).assert().code(3);
}

/// `init --passphrase` on a terminal asks for the new passphrase twice; the passphrase typed then
/// is the one that opens the vault.
#[test]
fn a_new_passphrase_is_typed_twice() {
    let mut env = Env::new();
    let recovery = env.path("recovery.txt");
    let mut init = env.std_cmd();
    init.args(["init", "--keyring", "none", "--passphrase", "--recovery-key-file"]).arg(&recovery);
    let mut term = Terminal::spawn(init);
    term.expect("New passphrase: ");
    term.type_line(PASSPHRASE);
    term.expect("New passphrase again: ");
    term.type_line(PASSPHRASE);
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(!screen.contains(PASSPHRASE), "echoed: {screen}");

    std::fs::write(env.path("pass"), format!("{PASSPHRASE}\n")).unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.add("k", "value-0001", &[]);
    assert_eq!(env.get("k"), "value-0001");
}

/// Issue 19, item 6: on a terminal, `list` says which vault it read; a project vault is chosen by
/// the directory, so it is named.
#[test]
fn list_on_a_terminal_names_the_vault_it_read() {
    let env = Env::with_recovery_key();
    env.add("k", "value-0001", &[]);
    let mut term = on_terminal(&env, &["list"]);
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    let vault = env.vault.display().to_string();
    assert!(screen.contains(&format!("vault {vault}: from KEYWARD_VAULT")), "{screen}");
    // Not in a pipe: the table alone.
    let out = env.cmd().arg("list").output().unwrap();
    assert!(!common::stdout(&out).contains(&vault));
}

/// Issue 19, item 9: `list` and `audit` on terminals of 60, 80, 120 and 200 columns never break a
/// name, a time or a header, and no line is wider than the terminal; the renderings are committed
/// (`tests/snapshots/tables/`; `KEYWARD_BLESS=1` rewrites them).
#[test]
fn tables_fit_the_terminal_without_breaking_words() {
    let env = Env::with_recovery_key();
    let at = "2026-11-29T12:00:00Z";
    let add = |name: &str, value: &str, args: &[&str]| {
        env.at(at).arg("add").arg(name).args(args).write_stdin(value.to_owned()).assert().success();
    };
    add(
        "stripe/live",
        "sk_live_51HbX9TableValue0000000000",
        &["--env", "prod", "--tag", "billing", "--expires", "2027-01-31"],
    );
    add(
        "github/ci-release-bot",
        "ghp_TableValue0000000000000000000000000",
        &["--tag", "ci", "--tag", "release", "--tag", "team-platform"],
    );
    add("openai/dev", "sk-proj-TableValue000000000000000000000000", &["--env", "dev"]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/tables");
    let bless = std::env::var_os("KEYWARD_BLESS").is_some();
    for columns in [60u16, 80, 120, 200] {
        let mut cmd = env.std_cmd();
        cmd.args(["list", "--no-color"]).env("KEYWARD_NOW", at);
        let (status, screen) = Terminal::spawn_sized(cmd, columns, 40).finish();
        assert_eq!(status.code(), Some(0), "{screen}");
        let screen = screen.replace("\r\n", "\n").replace(&env.vault.display().to_string(), "VAULT");
        for line in screen.lines() {
            assert!(line.chars().count() <= usize::from(columns), "{columns}: {line:?}\n{screen}");
        }
        for whole in ["stripe/live", "github/ci-release-bot", "openai/dev", "NAME", "ROTATED", "2026-11-29"] {
            if screen.contains(&whole[..whole.len() - 1]) {
                assert!(screen.contains(whole), "{columns}: {whole} is broken\n{screen}");
            }
        }
        let file = dir.join(format!("list-{columns}.txt"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &screen).unwrap();
        } else {
            let expected = std::fs::read_to_string(&file).unwrap_or_default();
            assert_eq!(screen, expected, "{columns} columns changed; KEYWARD_BLESS=1 rewrites {}", file.display());
        }
    }
}

/// Issue 19, item 14: `export --format github` on a terminal asks before printing
/// `::add-mask::<value>`; `TERM=dumb` gets no colour; a passphrase prompt says how not to be
/// asked every time.
#[test]
fn small_terminal_things() {
    let env = Env::with_recovery_key();
    env.add("k", "the-github-value-0001", &[]);
    let mut cmd = env.std_cmd();
    cmd.args(["export", "--format", "github"]).env("GITHUB_ENV", env.path("github_env"));
    let mut term = Terminal::spawn(cmd);
    term.expect("[y/N] ");
    term.type_line("n");
    let (_, screen) = term.finish();
    assert!(!screen.contains("the-github-value-0001"), "{screen}");

    let mut cmd = env.std_cmd();
    cmd.args(["get", "nope"]).env("TERM", "dumb");
    let (_, screen) = Terminal::spawn(cmd).finish();
    assert!(screen.contains("keyward:") && !screen.contains('\x1b'), "{screen:?}");

    let env = passphrase_vault();
    let mut term = on_terminal(&env, &["get", "k"]);
    term.expect("Passphrase for");
    assert!(term.screen.contains("keyward unlock"), "{}", term.screen);
    term.type_line(PASSPHRASE);
    let (status, _) = term.finish();
    assert!(status.success());
}
