//! The backup parser on arbitrary bytes: a parsed header or a clean error, never a panic, and
//! opening with a wrong key or passphrase is an error, never garbage; and what `seal` writes,
//! `parse` reads back.
#![no_main]

use keyward::sensitive::Key32;
use keyward::vault::backup::{self, Bundle, Key, Protection, VAULT_FILE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = backup::parse(data) else { return };
    let key = Key32::from_bytes([7; 32]);
    // A key that opened a fuzzer-made backup would be a forgery of AES-GCM: never.
    assert!(parsed.open(Key::DataKey(&key)).is_err());
    // Mode 2 costs an Argon2 derivation (two per process at most): only the cheapest parameters.
    if parsed.argon.is_some_and(|p| p.m_kib <= 64 && p.t <= 2) {
        let _ = parsed.open(Key::Passphrase("not the passphrase"));
    }
    // Round trip: what seal writes, parse reads and open opens.
    let bundle = Bundle::new(vec![(VAULT_FILE.into(), data.to_vec())]);
    let sealed = backup::seal(&bundle, &Protection::VaultKey { vault_file: data, data_key: &key });
    let reopened = backup::parse(&sealed).expect("a sealed backup parses").open(Key::DataKey(&key)).expect("it opens");
    assert_eq!(reopened.vault(), Some(data));
});
