//! Any bytes as a format 2 vault's text: a document or a clean error, never a panic; a document
//! prints back to text that parses to the same document (the format has one spelling).
#![no_main]

use keyward::vault::v2::text::{self, PrintSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = text::parse(data) else { return };
    // `get`'s read of one secret agrees with the whole read about every name it is asked for.
    let wanted: Vec<String> = doc
        .domains
        .iter()
        .flat_map(|d| d.secrets.iter().map(|s| doc.secret_name(s).to_owned()))
        .take(8)
        .chain(["a/missing".to_owned()])
        .collect();
    for name in &wanted {
        let part = text::parse_for_secret(data.to_vec().into(), name).expect("a whole vault reads for one secret");
        let at = |x: &text::Document| x.find(name).map(|(d, s)| (d.head.name.clone(), x.sealed_text(s).to_vec()));
        assert_eq!(at(&part), at(&doc), "{name}");
    }
    let mut out = Vec::new();
    text::print_header(&mut out, &doc.id, doc.created, &doc.slots);
    for d in &doc.domains {
        let secrets: Vec<PrintSecret<'_>> = d.secrets.iter().map(|s| PrintSecret::kept(&doc, s)).collect();
        text::print_domain(&mut out, &d.head, secrets).expect("a body prints with the tag it was parsed with");
    }
    text::print_end(&mut out);
    let again = text::parse(&out).expect("printed text parses");
    assert_eq!(again.id, doc.id);
    assert_eq!(again.slots, doc.slots);
    assert_eq!(again.domains.len(), doc.domains.len());
    for (a, b) in again.domains.iter().zip(&doc.domains) {
        assert_eq!(a.head, b.head);
        let names = |x: &text::Document, d: &text::Domain| {
            d.secrets.iter().map(|s| (x.secret_name(s).to_owned(), x.sealed_text(s).to_owned())).collect::<Vec<_>>()
        };
        assert_eq!(names(&again, a), names(&doc, b));
    }
});
