//! Detection quality of `scan`: a labelled set of files built here — real-shaped keys in the
//! contexts developers put them (.env, JSON, YAML, Python, JavaScript, Go, Java, Ruby, shell,
//! Dockerfile, TOML) and look-alikes that must not match (hashes, UUIDs, placeholders, test
//! fixtures, references to the environment, public keys, image data). Prints precision and recall
//! and fails below 0.95 for either.

use crate::common;

use std::collections::BTreeSet;

use common::Env;
use common::rng::Rng;
use keyward::providers::Registry;

/// How a file type writes `name = value`.
const CONTEXTS: &[(&str, &str)] = &[
    ("env", "{NAME}={value}"),
    ("json", "  \"{name}\": \"{value}\","),
    ("yaml", "{name}: {value}"),
    ("py", "{name} = \"{value}\""),
    ("js", "const {camel} = '{value}';"),
    ("go", "\t{camel} := \"{value}\""),
    ("java", "    private static final String {NAME} = \"{value}\";"),
    ("rb", "{name} = '{value}'"),
    ("sh", "export {NAME}=\"{value}\""),
    ("Dockerfile", "ENV {NAME}={value}"),
    ("toml", "{name} = \"{value}\""),
];

fn render(template: &str, name: &str, value: &str) -> String {
    let camel: String = name
        .split('_')
        .enumerate()
        .map(|(i, w)| if i == 0 { w.to_owned() } else { w[..1].to_uppercase() + &w[1..] })
        .collect();
    template
        .replace("{NAME}", &name.to_uppercase())
        .replace("{name}", name)
        .replace("{camel}", &camel)
        .replace("{value}", value)
}

fn random(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize] as char).collect()
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// The families precision and recall are reported by.
const PREFIXED: &str = "provider formats with a fixed prefix";
const GATED: &str = "provider formats found near a keyword";
const CONTEXT: &str = "credentials in context (URLs, headers, config files)";
const GENERIC: &str = "generic: key-like name, high-entropy value";
const PLACEHOLDERS: &str = "look-alikes: placeholders, documented examples, references";
const HASHES: &str = "look-alikes: hashes, ids, integrity strings";

/// (variable name, value, family) of items that are secrets.
fn positives(rng: &mut Rng) -> Vec<(String, String, &'static str)> {
    let registry = Registry::builtin();
    let mut out = Vec::new();
    for p in &registry.providers {
        for pat in &p.patterns {
            let family = if pat.secret_group().is_some() {
                CONTEXT
            } else if pat.near_keyword {
                GATED
            } else {
                PREFIXED
            };
            for example in &pat.examples {
                if example.contains('\n') || example.contains('\r') || example.contains('"') || example.contains('\'') {
                    continue;
                }
                // Keyword-gated shapes are written after a name carrying the provider's keyword.
                let keyword = p.keywords.first().map_or("api", |k| k.trim()).replace([' ', '.', '-'], "_");
                // A keyword that is a command (`curl `) is written before the value, as in a script.
                let value = match p.keywords.first() {
                    Some(k) if pat.near_keyword && k.ends_with(' ') => format!("{k}{example}"),
                    _ => example.clone(),
                };
                out.push((format!("{keyword}_api_key"), value, family));
            }
        }
    }
    // Secrets of no provider: high-entropy values assigned to key-like names.
    for name in
        ["api_key", "client_secret", "auth_token", "db_password", "signing_key", "access_token", "webhook_secret"]
    {
        for len in [16, 24, 32, 40] {
            out.push((name.to_owned(), random(rng, ALNUM, len), GENERIC));
        }
        out.push((name.to_owned(), random(rng, HEX, 32), GENERIC));
    }
    out
}

/// (variable name, value, family) of items that are not secrets.
fn negatives(rng: &mut Rng) -> Vec<(String, String, &'static str)> {
    let mut out: Vec<(String, String, &str)> = [
        ("api_key", "<your-api-key>"),
        ("api_key", "YOUR_API_KEY_HERE"),
        ("stripe_key", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"),
        ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
        ("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("github_token", "${GITHUB_TOKEN}"),
        ("token", "{{ secrets.DEPLOY_TOKEN }}"),
        ("password", "changeme"),
        ("password", "password123456"),
        ("secret_key", "test_secret_key_1234567890"),
        ("api_token", "dummy-token-for-tests-0001"),
        ("auth_token", "fake_token_abcdef123456"),
        ("api_key", "settings.OPENAI_API_KEY"),
        ("secret", "os.environ.get"),
        ("token_url", "https://oauth2.googleapis.com/token"),
        ("key_file", "/etc/ssl/private/server.key"),
        ("primary_key", "user_account_id"),
        ("sort_key", "created_at_descending"),
        ("token_type", "Bearer"),
        ("database_url", "postgres://postgres:postgres@localhost:5432/app"),
        ("database_url", "postgres://app:${DB_PASSWORD}@db:5432/app"),
        ("public_key", "-----BEGIN PUBLIC KEY-----"),
        ("cache_key", "user-profile-v2"),
        ("stripe_key", "sk_live_0000000000000000000000000000"),
        ("sample_key", "sk_live_EXAMPLEEXAMPLEEXAMPLE1234"),
        ("image", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="),
        ("version", "1.24.3-alpine3.19"),
        ("color", "#ff8800"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned(), PLACEHOLDERS))
    .collect();
    // Hashes and ids under names that are not key-like.
    for _ in 0..5 {
        out.push(("commit".into(), random(rng, HEX, 40), HASHES));
        out.push(("sha256".into(), random(rng, HEX, 64), HASHES));
        out.push(("checksum".into(), random(rng, HEX, 32), HASHES));
        let u = random(rng, HEX, 32);
        out.push((
            "request_id".into(),
            format!("{}-{}-{}-{}-{}", &u[..8], &u[8..12], &u[12..16], &u[16..20], &u[20..]),
            HASHES,
        ));
        out.push(("integrity".into(), format!("sha512-{}==", random(rng, ALNUM, 86)), HASHES));
        out.push(("etag".into(), random(rng, HEX, 32), HASHES));
    }
    out
}

#[test]
fn precision_and_recall_on_the_labelled_set() {
    let env = Env::new();
    let root = env.home.join("corpus");
    let mut rng = Rng(0x5ca9_2026);
    let (pos, neg) = (positives(&mut rng), negatives(&mut rng));
    // One file per context; every line one item, labelled by whether it holds a secret.
    let mut expected = BTreeSet::new();
    let mut family_of: std::collections::BTreeMap<(String, u64), &str> = std::collections::BTreeMap::new();
    let mut items = 0;
    for (ext, template) in CONTEXTS {
        let file = if *ext == "Dockerfile" { "Dockerfile".to_owned() } else { format!("config.{ext}") };
        let mut text = String::from(if *ext == "json" { "{\n" } else { "\n" });
        let mut line = 1;
        let all = pos.iter().map(|p| (p, true)).chain(neg.iter().map(|n| (n, false)));
        for ((name, value, family), secret) in all {
            line += 1;
            text.push_str(&render(template, name, value));
            text.push('\n');
            items += 1;
            family_of.insert((file.clone(), line), family);
            if secret {
                expected.insert((file.clone(), line));
            }
        }
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join(&file), text).unwrap();
    }

    let out =
        env.cmd().current_dir(&root).args(["scan", "--no-known", "--format", "json", "--exit-zero"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: BTreeSet<(String, u64)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_owned(), f["line"].as_u64().unwrap()))
        .collect();
    let true_pos = found.intersection(&expected).count() as f64;
    let false_pos: Vec<_> = found.difference(&expected).collect();
    let missed: Vec<_> = expected.difference(&found).collect();
    let precision = true_pos / found.len() as f64;
    let recall = true_pos / expected.len() as f64;
    println!(
        "labelled set: {items} items in {} files, {} secrets; found {}: precision {precision:.3}, recall {recall:.3}",
        CONTEXTS.len(),
        expected.len(),
        found.len()
    );
    println!("false positives: {false_pos:?}");
    println!("missed: {missed:?}");
    if std::env::var_os("KEYWARD_SHOW_CORPUS").is_some() {
        let text = std::fs::read_to_string(root.join("config.env")).unwrap();
        for (i, l) in text.lines().enumerate() {
            if missed.iter().chain(false_pos.iter()).any(|(f, n)| f == "config.env" && *n == i as u64 + 1) {
                println!("  {}: {l}", i + 1);
            }
        }
    }
    assert!(precision >= 0.95, "precision {precision:.3}; false positives: {false_pos:?}");
    assert!(recall >= 0.95, "recall {recall:.3}; missed: {missed:?}");

    // By family, as the README gives it (the README must say what this run says).
    let mut table = String::from(
        "| family | items | found | true positives | recall | false positives |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for family in [PREFIXED, GATED, CONTEXT, GENERIC, PLACEHOLDERS, HASHES] {
        let lines: Vec<&(String, u64)> = family_of.iter().filter(|(_, f)| **f == family).map(|(l, _)| l).collect();
        let secrets = lines.iter().filter(|l| expected.contains(**l)).count();
        let hits = lines.iter().filter(|l| found.contains(**l)).count();
        let true_hits = lines.iter().filter(|l| found.contains(**l) && expected.contains(**l)).count();
        let recall = if secrets == 0 { "—".to_owned() } else { format!("{:.3}", true_hits as f64 / secrets as f64) };
        table.push_str(&format!(
            "| {family} | {} | {hits} | {true_hits} | {recall} | {} |\n",
            lines.len(),
            hits - true_hits
        ));
    }
    table.push_str(&format!(
        "| **all** | {items} | {} | {} | {recall:.3} | {} |\n",
        found.len(),
        true_pos as usize,
        false_pos.len()
    ));
    println!("{table}");
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains(&table), "the README's precision and recall table should read:\n{table}");
}
