//! Vault test vectors, in the manner of age's test kit: each `tests/vectors/NAME.kw` has a
//! `NAME.expect` beside it saying which key to use and what must happen. One test per vector.
//!
//! Regenerate (only when the format changes, with a format version bump):
//! `cargo test --test e2e vectors::regenerate -- --ignored`

use crate::common;

use std::path::{Path, PathBuf};

use common::{Env, stderr, stdout};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

struct Expect {
    key: Option<String>,
    passphrase: Option<String>,
    code: i32,
    stderr: Option<String>,
    secrets: Vec<(String, String)>,
}

fn read_expect(name: &str) -> Expect {
    let text = std::fs::read_to_string(dir().join(format!("{name}.expect"))).expect("expect file");
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
    let expect = read_expect(name);
    let mut env = Env::new();
    std::fs::copy(dir().join(format!("{name}.kw")), &env.vault).unwrap();
    env.key = expect.key.clone();
    if let Some(p) = &expect.passphrase {
        std::fs::write(env.path("pass"), p).unwrap();
        env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    }
    let before = std::fs::read(&env.vault).unwrap();
    let out = env.cmd().args(["list", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(expect.code), "{name}: stderr {}", stderr(&out));
    if let Some(want) = &expect.stderr {
        assert!(stderr(&out).contains(want.as_str()), "{name}: stderr {:?} lacks {want:?}", stderr(&out));
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

#[test]
fn every_vector_file_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str().and_then(|n| n.strip_suffix(".kw")).map(str::to_owned))
        .collect();
    names.sort();
    let mut listed: Vec<String> = ALL.iter().map(|n| n.replace('_', "-")).collect();
    listed.sort();
    assert_eq!(names, listed);
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
    env.cmd().args(["init", "--keyring", "none", "--passphrase", "--recovery-key-file"]).arg(&rk).assert().success();
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
