//! Any bytes as a wrapped domain key (a `to` line's age file): a key or `None`, never a panic —
//! a vault's writer chooses these bytes. A wrap keyward made opens to its key.
#![no_main]

use keyward::sensitive::Key32;
use keyward::vault::v2::keys::{self, Opener};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let secret = Key32::from_bytes([7; 32]);
    let opener = Opener::X25519(secret.clone());
    let _ = opener.unwrap(data);
    if data.len() >= 32 {
        let key = Key32::from_slice(&data[..32]).expect("32 bytes");
        let wrapped = keys::wrap(&key, &keys::recipient(&secret)).expect("an X25519 wrap");
        assert_eq!(opener.unwrap(&wrapped).expect("opens").expose(), key.expose());
    }
});
