//! `validate --online --all` over 200 secrets against a loopback provider that answers each
//! request after 50 ms. Target (issue #3): under 1.5 s for the whole process.
//!
//! Run with `cargo bench --bench validate`. `KEYWARD_BENCH_RUNS=N` sets the number of runs.

#[path = "../tests/common/provider_server.rs"]
mod provider_server;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyward::sensitive::{Key32, SecretValue};
use keyward::unlock::RandomSecret;
use keyward::unlock::codes::{self, CodeKind};
use keyward::vault::Vault;
use keyward::vault::format::SlotKind;
use keyward::vault::payload::Record;
use keyward::vault::secret::{Metadata, Secret};
use provider_server::{Reply, Server};

const BIN: &str = env!("CARGO_BIN_EXE_keyward");
const SECRETS: usize = 200;

fn main() {
    let runs: usize = std::env::var("KEYWARD_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let server = Server::start(|_| Reply::json(200, "{}").after(Duration::from_millis(50)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.kw");
    let mut vault = Vault::create(&path, 1_700_000_000);
    let token = Key32::random();
    vault
        .add_slot(&RandomSecret { kind: SlotKind::Token, label: "bench".to_string(), secret: &token }, 1_700_000_000)
        .unwrap();
    let mut records = vault.records().unwrap();
    for i in 0..SECRETS {
        let mut meta = Metadata::new(1_700_000_000);
        meta.provider = Some("stripe".into());
        let value = SecretValue::new(format!("sk_live_{i:08}{}", "x".repeat(32)));
        let secret = Secret::new(format!("stripe/{i}"), format!("K{i}"), None, meta, value, 1_700_000_000);
        records.records.push(Record::encode(&secret));
    }
    vault.set_records(records);
    vault.save().unwrap();
    let token = codes::encode(CodeKind::Token, &token).to_string();

    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(BIN)
            .args(["validate", "--all", "--online", "--json"])
            .env_clear()
            .env("HOME", dir.path())
            .env("KEYWARD_VAULT", &path)
            .env("KEYWARD_VAULT_KEY", &token)
            .env("KEYWARD_PROVIDER_STRIPE_URL", &server.url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        times.push(start.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    println!(
        "validate --online --all, {SECRETS} secrets, 50 ms per answer, concurrency 16: median {median:.0} ms, \
         min {:.0} ms, max {:.0} ms over {runs} runs (target < 1500 ms: {})",
        ms(times[0]),
        ms(times[times.len() - 1]),
        if median < 1500.0 { "met" } else { "MISSED" }
    );
    println!(
        "requests served: {}, most in flight: {}",
        server.requests().len(),
        server.max_in_flight.load(std::sync::atomic::Ordering::SeqCst)
    );
}
