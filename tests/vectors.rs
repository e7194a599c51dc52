//! Vault test vectors, in the manner of age's test kit: each `tests/vectors/NAME.kw` (format 1)
//! and `tests/vectors/v2/NAME.kw` (format 2) has a `NAME.expect` beside it saying which key to
//! use and what must happen. One test per vector; and every format 1 vector that opens is
//! upgraded to format 2 with every secret byte-identical.
//!
//! Regenerate (only when a format changes, with a format version bump):
//! `cargo test --test e2e vectors::regenerate -- --ignored` (format 1),
//! `cargo test --test e2e vectors::regenerate_v2 -- --ignored` (format 2).

use crate::common;

use std::path::{Path, PathBuf};

use common::{Env, stderr, stdout};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn dir_v2() -> PathBuf {
    dir().join("v2")
}

struct Expect {
    key: Option<String>,
    passphrase: Option<String>,
    code: i32,
    stderr: Option<String>,
    secrets: Vec<(String, String)>,
}

fn read_expect(dir: &Path, name: &str) -> Expect {
    let text = std::fs::read_to_string(dir.join(format!("{name}.expect"))).expect("expect file");
    let mut e = Expect { key: None, passphrase: None, code: -1, stderr: None, secrets: Vec::new() };
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (k, v) = line.split_once(": ").unwrap_or_else(|| panic!("bad line {line:?} in {name}.expect"));
        match k {
            "key" => e.key = Some(v.to_owned()),
            "passphrase" => e.passphrase = Some(v.to_owned()),
            "expect" if v == "success" => e.code = 0,
            "expect" => {
                e.code = v.strip_prefix("exit ").and_then(|c| c.parse().ok()).expect("expect: success | exit N");
            }
            "stderr" => e.stderr = Some(v.to_owned()),
            "secret" => {
                let (n, val) = v.split_once('=').expect("secret: NAME=VALUE");
                e.secrets.push((n.to_owned(), val.to_owned()));
            }
            other => panic!("unknown field {other} in {name}.expect"),
        }
    }
    assert!(e.code >= 0, "{name}.expect has no expect: line");
    e
}

fn check(name: &str) {
    check_in(&dir(), name);
}

fn check_in(dir: &Path, name: &str) {
    let expect = read_expect(dir, name);
    let mut env = Env::new();
    std::fs::copy(dir.join(format!("{name}.kw")), &env.vault).unwrap();
    env.key = expect.key.clone();
    if let Some(p) = &expect.passphrase {
        std::fs::write(env.path("pass"), p).unwrap();
        env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    }
    let before = std::fs::read(&env.vault).unwrap();
    let out = env.cmd().args(["list", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(expect.code), "{name}: stderr {}", stderr(&out));
    if let Some(want) = &expect.stderr {
        let said = common::error_text(&stderr(&out));
        assert!(said.contains(want.as_str()), "{name}: stderr {said:?} lacks {want:?}");
    }
    if expect.code != 0 {
        assert!(stdout(&out).is_empty(), "{name}: a refused vault prints nothing on stdout");
        common::assert_one_line_error(&stderr(&out));
    }
    for (secret, value) in &expect.secrets {
        assert_eq!(env.get(secret), *value, "{name}: {secret}");
    }
    assert_eq!(std::fs::read(&env.vault).unwrap(), before, "{name}: reading never writes");
}

macro_rules! vectors {
    ($($name:ident),* $(,)?) => {
        $( #[test] fn $name() { check(&stringify!($name).replace('_', "-")) } )*
        const ALL: &[&str] = &[$(stringify!($name)),*];
    };
}

vectors!(
    valid,
    valid_recovery,
    valid_passphrase,
    wrong_token,
    wrong_passphrase,
    truncated,
    truncated_header,
    header_byte_flipped,
    header_checksum_flipped,
    payload_byte_flipped,
    tag_byte_flipped,
    slot_swapped,
    future_version,
    absurd_argon2,
    not_a_vault,
    empty_file,
);

mod v2 {
    macro_rules! vectors_v2 {
        ($($name:ident),* $(,)?) => {
            $( #[test] fn $name() { super::check_in(&super::dir_v2(), &stringify!($name).replace('_', "-")) } )*
            pub(super) const ALL: &[&str] = &[$(stringify!($name)),*];
        };
    }

    vectors_v2!(
        valid,
        valid_recovery,
        valid_passphrase,
        valid_limited,
        wrong_token,
        record_moved,
        record_renamed,
        record_removed,
        recipient_removed,
        recipient_altered,
        seal_altered,
        truncated,
        no_end_line,
        crlf,
        future_version,
        in_two_domains,
    );
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str().and_then(|n| n.strip_suffix(".kw")).map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn every_vector_file_has_a_test() {
    let mut listed: Vec<String> = ALL.iter().map(|n| n.replace('_', "-")).collect();
    listed.sort();
    assert_eq!(names_in(&dir()), listed);
    let mut listed: Vec<String> = v2::ALL.iter().map(|n| n.replace('_', "-")).collect();
    listed.sort();
    assert_eq!(names_in(&dir_v2()), listed);
}

/// Every format 1 vector that opens, upgraded: every secret's encoded body (all versions and
/// metadata) byte for byte the same, and the file format 2.
#[test]
fn every_format_1_vector_that_opens_upgrades_with_every_secret_intact() {
    let mut upgraded = 0;
    for name in names_in(&dir()) {
        let expect = read_expect(&dir(), &name);
        if expect.code != 0 {
            continue;
        }
        let mut env = Env::new();
        std::fs::copy(dir().join(format!("{name}.kw")), &env.vault).unwrap();
        if let Some(p) = &expect.passphrase {
            std::fs::write(env.path("pass"), p).unwrap();
            env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
        }
        env.key = expect.key.clone();
        let bodies = |env: &Env| {
            let mut all: Vec<(String, String, Option<String>, Vec<u8>)> = env
                .open_vault_with_passphrase()
                .secrets()
                .unwrap()
                .iter()
                .map(|s| {
                    let keyward::vault::payload::RecordBody::Plain(b) = keyward::vault::payload::Record::encode(s).body
                    else {
                        unreachable!()
                    };
                    (s.name.clone(), s.var.clone(), s.env.clone(), b.0.to_vec())
                })
                .collect();
            all.sort();
            all
        };
        let before = bodies(&env);
        let rk = env.path("rk");
        let mut upgrade = env.cmd();
        upgrade.args(["key", "upgrade", "--yes", "--recovery-key-file"]).arg(&rk);
        if expect.passphrase.is_none() {
            upgrade.arg("--drop-passphrase");
        }
        let out = upgrade.output().unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(std::fs::read(&env.vault).unwrap().starts_with(b"keyward vault 2\n"), "{name}");
        env.key = Some(std::fs::read_to_string(&rk).unwrap().trim().to_owned());
        env.extra.clear();
        assert_eq!(bodies(&env), before, "{name}");
        for (secret, value) in &expect.secrets {
            assert_eq!(env.get(secret), *value, "{name}: {secret}");
        }
        upgraded += 1;
    }
    assert!(upgraded >= 3, "{upgraded} vectors upgraded");
}

// ---------------------------------------------------------------- generation

const TOKEN_SECRET_VALUE: &str = "sk_test_vectorValue0123456789";

fn write(name: &str, bytes: &[u8], expect: &str) {
    std::fs::write(dir().join(format!("{name}.kw")), bytes).unwrap();
    std::fs::write(dir().join(format!("{name}.expect")), expect).unwrap();
}

#[test]
#[ignore = "writes tests/vectors; run by hand when the format changes"]
fn regenerate() {
    use keyward::vault::format;

    std::fs::create_dir_all(dir()).unwrap();
    let mut env = Env::new();
    let rk = env.path("rk");
    std::fs::write(env.path("pass"), "vector passphrase 123\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd()
        .args(["init", "--keyring", "none", "--passphrase", "--format", "1", "--recovery-key-file"])
        .arg(&rk)
        .assert()
        .success();
    let recovery = std::fs::read_to_string(&rk).unwrap().trim().to_owned();
    env.key = Some(recovery.clone());
    let token = String::from_utf8(env.cmd().args(["key", "token", "add", "vectors"]).output().unwrap().stdout).unwrap();
    let token = token.trim().to_owned();
    env.add("stripe/test", TOKEN_SECRET_VALUE, &["--env", "dev", "--provider", "stripe"]);
    env.add("multi/line", "line one\nline two", &[]);
    let good = std::fs::read(&env.vault).unwrap();
    let secrets = format!("secret: stripe/test={TOKEN_SECRET_VALUE}\n");
    let ok_with = |k: &str| format!("key: {k}\nexpect: success\n{secrets}");

    write("valid", &good, &format!("# a valid vault opened with a token\n{}", ok_with(&token)));
    write("valid-recovery", &good, &format!("# the same vault opened with its recovery key\n{}", ok_with(&recovery)));
    write(
        "valid-passphrase",
        &good,
        &format!(
            "# the same vault opened with its passphrase\npassphrase: vector passphrase 123\nexpect: success\n{secrets}"
        ),
    );
    let other = Env::with_recovery_key();
    let stranger = String::from_utf8(other.cmd().args(["key", "token", "add", "x"]).output().unwrap().stdout).unwrap();
    write(
        "wrong-token",
        &good,
        &format!(
            "# a well-formed token of another vault\nkey: {}\nexpect: exit 4\nstderr: does not open\n",
            stranger.trim()
        ),
    );
    write(
        "wrong-passphrase",
        &good,
        "# the wrong passphrase\npassphrase: not the passphrase\nexpect: exit 4\nstderr: does not open\n",
    );

    let header_len = format::parse(&good).map(|p| p.aad.len()).unwrap();
    let damaged = |reason: &str| format!("key: {token}\nexpect: exit 5\nstderr: {reason}\n");
    write(
        "truncated",
        &good[..good.len() - 20],
        &format!("# cut 20 bytes short\n{}", damaged("does not authenticate")),
    );
    write("truncated-header", &good[..header_len - 5], &format!("# cut inside the header\n{}", damaged("truncated")));
    let mut flip = good.clone();
    flip[20] ^= 0x01;
    write("header-byte-flipped", &flip, &format!("# one bit of the vault id flipped\n{}", damaged("checksum")));
    let mut flip = good.clone();
    flip[header_len + 3] ^= 0x80;
    write(
        "header-checksum-flipped",
        &flip,
        &format!("# one bit of the header checksum flipped\n{}", damaged("checksum")),
    );
    let mut flip = good.clone();
    flip[header_len + 32 + 10] ^= 0x01;
    write(
        "payload-byte-flipped",
        &flip,
        &format!("# one bit of the ciphertext flipped\n{}", damaged("does not authenticate")),
    );
    let mut flip = good.clone();
    let last = flip.len() - 1;
    flip[last] ^= 0x01;
    write(
        "tag-byte-flipped",
        &flip,
        &format!("# one bit of the GCM tag flipped\n{}", damaged("does not authenticate")),
    );

    // A forged header: the token slot's wrapped key moved under another label, checksum fixed up.
    let parsed = format::parse(&good).unwrap();
    let mut header = parsed.header.clone();
    for slot in &mut header.slots {
        if slot.kind == format::SlotKind::Token {
            slot.label = "forged".into();
        }
    }
    let mut forged = format::encode_header(&header);
    forged.extend_from_slice(parsed.ciphertext);
    write(
        "slot-swapped",
        &forged,
        &format!(
            "# a token slot relabelled, checksum recomputed: the slot no longer opens\nkey: {token}\nexpect: exit 4\n"
        ),
    );

    let mut future = good.clone();
    future[8] = 2;
    write("future-version", &future, &format!("# format version 2, from a newer keyward\n{}", damaged("newer")));

    let mut header = parsed.header.clone();
    for slot in &mut header.slots {
        if let format::Kdf::Argon2id(p) = &mut slot.kdf {
            p.m_kib = 4 * 1024 * 1024;
        }
    }
    let mut absurd = format::encode_header(&header);
    absurd.extend_from_slice(parsed.ciphertext);
    write(
        "absurd-argon2",
        &absurd,
        "# a passphrase slot asking for 4 GiB of memory, checksum recomputed\npassphrase: vector passphrase 123\nexpect: exit 5\nstderr: exceed the limits\n",
    );

    write(
        "not-a-vault",
        b"KEY=value\nOTHER=thing\n",
        &format!("# a dotenv file, not a vault\n{}", damaged("not a keyward vault")),
    );
    write("empty-file", b"", &format!("# an empty file\n{}", damaged("not a keyward vault")));
}

#[test]
#[ignore = "writes tests/vectors/v2; run by hand when format 2 changes"]
fn regenerate_v2() {
    let dir = dir_v2();
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8], expect: &str| {
        std::fs::write(dir.join(format!("{name}.kw")), bytes).unwrap();
        std::fs::write(dir.join(format!("{name}.expect")), expect).unwrap();
    };
    let mut env = Env::new();
    let rk = env.path("rk");
    std::fs::write(env.path("pass"), "vector passphrase 123\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase", "--recovery-key-file"]).arg(&rk).assert().success();
    let recovery = std::fs::read_to_string(&rk).unwrap().trim().to_owned();
    env.key = Some(recovery.clone());
    let token = |args: &[&str]| {
        let out = env.cmd().args(["key", "token", "add"]).args(args).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let all = token(&["vectors"]);
    let limited = token(&["limited", "--env", "dev"]);
    env.add("stripe/test", TOKEN_SECRET_VALUE, &["--env", "dev", "--provider", "stripe"]);
    env.add("multi/line", "line one\nline two", &[]);
    env.add("prod/key", "prod-vector-value-0001", &["--env", "prod"]);
    let good = String::from_utf8(std::fs::read(&env.vault).unwrap()).unwrap();
    let secrets = format!("secret: stripe/test={TOKEN_SECRET_VALUE}\nsecret: prod/key=prod-vector-value-0001\n");
    let ok_with = |k: &str| format!("key: {k}\nexpect: success\n{secrets}");

    write(
        "valid",
        good.as_bytes(),
        &format!("# a valid format 2 vault opened with a token of every domain\n{}", ok_with(&all)),
    );
    write(
        "valid-recovery",
        good.as_bytes(),
        &format!("# the same vault opened with its recovery key\n{}", ok_with(&recovery)),
    );
    write(
        "valid-passphrase",
        good.as_bytes(),
        &format!(
            "# the same vault opened with its passphrase\npassphrase: vector passphrase 123\nexpect: success\n{secrets}"
        ),
    );
    write(
        "valid-limited",
        good.as_bytes(),
        &format!(
            "# the same vault opened with a token limited to dev: it lists, and reads dev\nkey: {limited}\nexpect: success\nsecret: stripe/test={TOKEN_SECRET_VALUE}\n"
        ),
    );
    let other = Env::with_recovery_key();
    let stranger = String::from_utf8(other.cmd().args(["key", "token", "add", "x"]).output().unwrap().stdout).unwrap();
    write(
        "wrong-token",
        good.as_bytes(),
        &format!(
            "# a well-formed token of another vault\nkey: {}\nexpect: exit 4\nstderr: does not open\n",
            stranger.trim()
        ),
    );

    let damaged = |why: &str, reason: &str| format!("# {why}\nkey: {all}\nexpect: exit 5\nstderr: {reason}\n");
    let lines: Vec<&str> = good.lines().collect();
    let join = |lines: &[String]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let owned: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let find = |prefix: &str| owned.iter().position(|l| l.starts_with(prefix)).unwrap();

    // stripe/test moved from dev into prod (its line kept as it was, in prod's block).
    let mut moved = owned.clone();
    let line = moved.remove(find("secret stripe/test "));
    let at = moved.iter().position(|l| l.starts_with("secret prod/key ")).unwrap();
    moved.insert(at + 1, line);
    write(
        "record-moved",
        join(&moved).as_bytes(),
        &damaged("a record moved from dev to prod", "does not authenticate"),
    );

    let mut renamed = owned.clone();
    let i = find("secret stripe/test ");
    renamed[i] = renamed[i].replacen("secret stripe/test ", "secret stripe/tesu ", 1);
    write("record-renamed", join(&renamed).as_bytes(), &damaged("a record renamed", "does not authenticate"));

    let mut removed = owned.clone();
    removed.remove(find("secret stripe/test "));
    write("record-removed", join(&removed).as_bytes(), &damaged("a record removed", "does not authenticate"));

    let mut no_recipient = owned.clone();
    let dev = find("domain dev ");
    let limited_line = dev + no_recipient[dev..].iter().position(|l| l.starts_with("to token:limited ")).unwrap();
    no_recipient.remove(limited_line);
    write(
        "recipient-removed",
        join(&no_recipient).as_bytes(),
        &damaged("the limited token's wrapped key removed from dev", "does not authenticate"),
    );

    let mut altered = owned.clone();
    let i = find("slot token:limited ");
    let created: Vec<&str> = altered[i].split(' ').collect();
    let later = (created[3].parse::<i64>().unwrap() + 1).to_string();
    altered[i] = format!("{} {} {} {later}", created[0], created[1], created[2]);
    write(
        "recipient-altered",
        join(&altered).as_bytes(),
        &damaged("the limited token's slot line altered (its creation time)", "does not authenticate"),
    );

    let mut seal = owned.clone();
    let i = dev + seal[dev..].iter().position(|l| l.starts_with("seal ")).unwrap();
    let mut chars: Vec<char> = seal[i].chars().collect();
    chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
    seal[i] = chars.into_iter().collect();
    write("seal-altered", join(&seal).as_bytes(), &damaged("dev's seal altered", "does not authenticate"));

    write("truncated", &good.as_bytes()[..good.len() * 2 / 3], &damaged("cut at two thirds", "truncated"));
    write("no-end-line", good.strip_suffix("end\n").unwrap().as_bytes(), &damaged("the end line missing", "truncated"));
    write(
        "crlf",
        good.replace('\n', "\r\n").as_bytes(),
        &format!("# CR LF line endings (a Windows checkout): accepted, as the spec says\n{}", ok_with(&all)),
    );
    write(
        "future-version",
        good.replacen("keyward vault 2\n", "keyward vault 3\n", 1).as_bytes(),
        &damaged("format version 3, from a newer keyward", "newer than this keyward reads"),
    );
    let mut twice = owned.clone();
    let line = twice[find("secret stripe/test ")].clone();
    let at = twice.iter().position(|l| l.starts_with("secret prod/key ")).unwrap();
    twice.insert(at + 1, line);
    write("in-two-domains", join(&twice).as_bytes(), &damaged("one name in two domains", "in two domains"));
}
