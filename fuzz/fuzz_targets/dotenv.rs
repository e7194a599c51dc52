//! Any text as a .env file: entries or an error with a line number, never a panic; and every
//! value read back through `quote` parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match keyward::dotenv::parse(text) {
        Ok(entries) => {
            for e in entries {
                let line = format!("V={}\n", &*keyward::dotenv::quote(&e.value));
                let again = keyward::dotenv::parse(&line).expect("a quoted value parses");
                assert_eq!(again.len(), 1);
                assert_eq!(&*again[0].value, &*e.value);
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= text.lines().count().max(1) + 1),
    }
    // Any value survives quoting.
    let quoted = format!("X={}\n", &*keyward::dotenv::quote(text));
    assert_eq!(&*keyward::dotenv::parse(&quoted).unwrap()[0].value, text);
});
