//! The readers of other tools' files on arbitrary bytes: a 1Password `.1pux` (a zip) or CSV
//! export, CSV records, a dotenvx `encrypted:` value, and `scan`'s archive walker (zip, tar,
//! tar.gz, gzip). Each returns items or a clean error, never a panic; a fuzzer-made dotenvx value
//! never decrypts (that would be a forgery).
#![no_main]

use keyward::interop::{csv, dotenvx, onepassword};
use keyward::scan::archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = onepassword::from_1pux(data);
    for kind in [archive::Kind::Zip, archive::Kind::Tar, archive::Kind::TarGz, archive::Kind::Gz] {
        let _ = archive::walk(std::io::Cursor::new(data), kind, "fuzz", &mut |_, r| {
            let mut sink = Vec::new();
            std::io::Read::read_to_end(r, &mut sink).map(|n| n as u64)
        });
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = onepassword::from_csv(text);
        if let Ok(rows) = csv::parse(text) {
            // What was read is written back and read again unchanged.
            let mut out = Vec::new();
            for row in &rows {
                let fields: Vec<&str> = row.fields.iter().map(|f| f.as_str()).collect();
                csv::write_row(&mut out, &fields);
            }
            let again = csv::parse(std::str::from_utf8(&out).unwrap()).expect("written CSV reads back");
            let flat = |rows: &[csv::Row]| -> Vec<Vec<String>> {
                rows.iter().map(|r| r.fields.iter().map(|f| f.to_string()).collect()).collect()
            };
            assert_eq!(flat(&rows), flat(&again));
        }
        let key = dotenvx::PrivateKey::from_hex(&"42".repeat(32)).unwrap();
        assert!(key.decrypt(text).is_err());
    }
});
