//! `keyward mask` throughput: at least 200 MB of realistic log text, with 10, 1,000 and 10,000
//! known secrets (each with every encoded form) and all built-in patterns.
//!
//! Measured as whole pipelines in the same run: `cat FILE | X | cat >/dev/null` with X = `cat`
//! and X = `keyward mask`, plus the engine alone on one core (in process), plus the peak memory
//! of the `keyward mask` process. Targets (issue #4): >= 1 GB/s on one core, >= 0.3x the `cat`
//! pipeline, under 64 MB with 1,000 secrets.
//!
//! `cargo bench --bench mask`; `KEYWARD_BENCH_MB` sets the log size (default 256).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use keyward::mask::{Engine, KnownValue, Options};
use keyward::providers::Registry;
use keyward::sensitive::{Key32, SecretValue};
use keyward::unlock::RandomSecret;
use keyward::unlock::codes::{self, CodeKind};
use keyward::vault::Vault;
use keyward::vault::format::SlotKind;
use keyward::vault::payload::Record;
use keyward::vault::secret::{Metadata, Secret};

const BIN: &str = env!("CARGO_BIN_EXE_keyward");

#[path = "../tests/common/rng.rs"]
mod rng;

use rng::Rng;

/// Picking and making tokens with the shared generator.
trait Pick {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str;
    fn token(&mut self, len: usize) -> String;
}

impl Pick for Rng {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn token(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| A[(self.next() % A.len() as u64) as usize] as char).collect()
    }
}

fn secrets(n: usize) -> Vec<String> {
    let mut rng = Rng(0x5eed_0000 + n as u64);
    (0..n).map(|i| format!("{}{}", ["svc_", "int-", "tok_", ""][i % 4], rng.token(28 + i % 20))).collect()
}

fn log_file(path: &std::path::Path, mb: usize, planted: &[String]) {
    let mut rng = Rng(42);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let levels = ["INFO ", "DEBUG", "WARN ", "INFO ", "ERROR"];
    let paths = ["/api/v1/users", "/api/v1/orders", "/healthz", "/api/v2/search", "/static/app.js", "/login"];
    let agents = ["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)", "python-requests/2.31", "Go-http-client/2.0"];
    let words = ["request", "completed", "cache", "miss", "retry", "connection", "pool", "user", "session", "token"];
    let mut written = 0;
    let mut line = 0u64;
    while written < mb * 1_000_000 {
        line += 1;
        let mut l = format!(
            "2026-11-26T11:{:02}:{:02}.{:03}Z {} [worker-{}] {} {} id={} path={}/{} status={} duration={}ms ua=\"{}\"",
            line / 60000 % 60,
            line / 1000 % 60,
            line % 1000,
            rng.pick(&levels),
            rng.next() % 16,
            rng.pick(&words),
            rng.pick(&words),
            rng.token(16),
            rng.pick(&paths),
            rng.next() % 100_000,
            [200, 200, 200, 404, 500, 302][(rng.next() % 6) as usize],
            rng.next() % 900,
            rng.pick(&agents),
        );
        if line.is_multiple_of(50_000) && !planted.is_empty() {
            l.push_str(&format!(" auth={}", planted[(line / 50_000) as usize % planted.len()]));
        }
        l.push('\n');
        written += l.len();
        out.write_all(l.as_bytes()).unwrap();
    }
    out.flush().unwrap();
}

fn vault(path: &std::path::Path, values: &[String]) -> String {
    let mut vault = Vault::create(path, 1_700_000_000);
    let token = Key32::random();
    vault
        .add_slot(&RandomSecret { kind: SlotKind::Token, label: "bench".to_string(), secret: &token }, 1_700_000_000)
        .unwrap();
    let mut records = vault.records().unwrap();
    for (i, v) in values.iter().enumerate() {
        let s = Secret::new(format!("s/{i}"), format!("S_{i}"), None, Metadata::new(1), SecretValue::new(v.clone()), 1);
        records.records.push(Record::encode(&s));
    }
    vault.set_records(records);
    vault.save().unwrap();
    codes::encode(CodeKind::Token, &token).to_string()
}

/// `cat FILE | MIDDLE | cat >/dev/null`, timed; returns the seconds and the middle process's
/// peak resident memory in kB (its VmHWM, read until it exits: `ru_maxrss` would include the
/// high-water mark the parent had before exec).
fn pipeline(middle: &[&str], file: &std::path::Path, vault: &std::path::Path, token: &str) -> (f64, u64) {
    let start = Instant::now();
    let mut first = Command::new("cat").arg(file).stdout(Stdio::piped()).spawn().unwrap();
    let mut mid = Command::new(middle[0])
        .args(&middle[1..])
        .env("KEYWARD_VAULT", vault)
        .env("KEYWARD_VAULT_KEY", token)
        .stdin(first.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut last = Command::new("cat").stdin(mid.stdout.take().unwrap()).stdout(Stdio::null()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", mid.id());
    let mut peak_kb = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if mid.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(first.wait().unwrap().success() && last.wait().unwrap().success());
    (start.elapsed().as_secs_f64(), peak_kb)
}

fn main() {
    let mb: usize = std::env::var("KEYWARD_BENCH_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::builtin();
    println!(
        "keyward mask benchmark, {mb} MB of log text, all {} built-in providers' patterns",
        registry.providers.len()
    );
    for n in [10usize, 1_000, 10_000] {
        let values = secrets(n);
        let planted: Vec<String> = values.iter().take(300).cloned().collect();
        let file = dir.path().join(format!("log-{n}.txt"));
        log_file(&file, mb, &planted);
        let bytes = std::fs::metadata(&file).unwrap().len() as f64;
        let vault_path = dir.path().join(format!("v{n}.kw"));
        let token = vault(&vault_path, &values);

        // The engine alone, one thread, input already in memory.
        let known: Vec<KnownValue<'_>> =
            values.iter().map(|v| KnownValue { name: "s", value: v, public_prefix: None }).collect();
        let build = Instant::now();
        let engine = Engine::build(&known, Some(&registry), Options::default());
        let build_ms = build.elapsed().as_secs_f64() * 1000.0;
        let input = std::fs::read(&file).unwrap();
        let start = Instant::now();
        let mut sink = std::io::sink();
        keyward::mask::stream::mask(&engine, &input[..], &mut sink).unwrap();
        let engine_gbs = bytes / start.elapsed().as_secs_f64() / 1e9;
        let masked = engine.mask_bytes(&input[..2_000_000.min(input.len())]);
        assert!(!planted.iter().any(|p| masked.windows(p.len()).any(|w| w == p.as_bytes())));
        drop(input);

        let (cat_s, _) = pipeline(&["cat"], &file, &vault_path, &token);
        let (kw_s, rss_kb) = pipeline(&[BIN, "mask"], &file, &vault_path, &token);
        println!(
            "{n:>6} secrets: engine {engine_gbs:.2} GB/s (build {build_ms:.0} ms) | pipeline: cat {:.2} GB/s, keyward mask {:.2} GB/s, ratio {:.2} | peak RSS {:.1} MB",
            bytes / cat_s / 1e9,
            bytes / kw_s / 1e9,
            cat_s / kw_s,
            rss_kb as f64 / 1024.0
        );
        std::fs::remove_file(&file).unwrap();
    }
}
