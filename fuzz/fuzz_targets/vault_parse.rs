//! Any bytes as a vault file, in either format: a header or a clean error, never a panic; and
//! with any key, the vault opens only if it authenticates (so no plaintext before
//! authentication).
#![no_main]

use keyward::sensitive::Key32;
use keyward::vault::{Locked, LockedFormat, OpenKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("/fuzz/vault.kw");
    let Ok(locked) = Locked::from_bytes(path, zeroize::Zeroizing::new(data.to_vec()), None) else { return };
    match &locked.format {
        LockedFormat::V1(l) => {
            for slot in &l.header.slots {
                let _ = l.unwrap_slot(slot, &Key32::from_bytes([7; 32]));
            }
            // A random key never authenticates: opening must fail cleanly.
            assert!(locked.open(OpenKey::V1(Key32::random())).is_err());
        }
        LockedFormat::V2(doc) => {
            let Some(slot) = doc.slots.first().map(|s| s.name.clone()) else { return };
            // A random secret for a real slot name: every domain must refuse it cleanly.
            let vault = locked.open(OpenKey::V2 { slot, secret: Key32::random().into() }).expect("opening is lazy");
            assert!(vault.records().is_err() || vault.index().is_ok_and(|i| i.is_empty()));
        }
    }
});
