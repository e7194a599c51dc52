//! Any text as an inject template: a rendering or an error with a line, never a panic; text
//! outside references is kept byte for byte.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match keyward::template::render(text, |name, _| Some(Cow::Owned(format!("<{name}>")))) {
        Ok(out) => {
            if !text.contains("{{") {
                assert_eq!(&*out, text);
            }
        }
        Err(keyward::template::TemplateError::Malformed { line, .. }) => assert!(line >= 1),
        Err(keyward::template::TemplateError::Unknown { .. }) => unreachable!("every name is known"),
    }
});
