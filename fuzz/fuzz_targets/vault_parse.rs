//! Any bytes as a vault file: a header or a clean error, never a panic; and with any key, the
//! payload opens only if it authenticates (so no plaintext before authentication).
#![no_main]

use keyward::sensitive::Key32;
use keyward::vault::Locked;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("/fuzz/vault.kw");
    if let Ok(locked) = Locked::from_bytes(path, zeroize::Zeroizing::new(data.to_vec()), None) {
        let slots = locked.header.slots.clone();
        for slot in &slots {
            let _ = locked.unwrap_slot(slot, &Key32::from_bytes([7; 32]));
        }
        // A random key never authenticates: opening must fail cleanly.
        assert!(locked.open(Key32::random()).is_err());
    }
});
