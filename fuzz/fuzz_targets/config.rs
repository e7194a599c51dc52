//! Any text as the config file: a config or an error naming the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = keyward::config::Config::parse("/fuzz/config.toml".into(), text.to_owned()) {
            assert!(e.to_string().contains("/fuzz/config.toml"), "{e}");
        }
    }
});
