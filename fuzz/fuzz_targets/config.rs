//! Any text as the config file: a config or an error naming the file, never a panic. The same
//! text as a remote's location (a vault's settings are written by others): parsed, or refused,
//! and what parses names no host.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = keyward::config::Config::parse("/fuzz/config.toml".into(), text.to_owned()) {
            assert!(e.to_string().contains("/fuzz/config.toml"), "{e}");
        }
        if let Ok(location) = keyward::remote::Location::parse(text, None) {
            let url = location.url();
            assert!(!url.contains("//") || url.starts_with("aws-sm://"), "{url}");
            assert_eq!(keyward::remote::Location::parse(&url, None).as_ref(), Ok(&location));
        }
        let _ = keyward::remote::Remote::from_setting(text, text, None);
    }
});
