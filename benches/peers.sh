#!/usr/bin/env bash
# keyward next to peer tools, measured in one run on the same machine with hyperfine:
#   get:  keyward get   vs pass show   vs gopass show   vs dotenvx get   vs teller export
#   exec: keyward exec -- true   vs dotenvx run -- true   vs teller run -- true
#   mask: keyward mask   vs teller redact   (the same log, the same 1,000 values)
# Install the peers first (what the package registries reach):
#   apt-get install pass gopass hyperfine protobuf-compiler gnupg
#   npm install -g @dotenvx/dotenvx ;  cargo install teller --locked
# A peer that is not installed is left out of the table. Usage: benches/peers.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"
cargo build --release --quiet
K="$PWD/target/release/keyward"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_STATE_HOME="$work/state" GNUPGHOME="$work/gnupg"
mkdir -p "$HOME" "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
VALUE="sk_test_$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
have() { command -v "$1" >/dev/null 2>&1; }

# keyward: a vault opened by a token, as in CI.
export KEYWARD_VAULT="$work/vault.kw"
"$K" init --keyring none --recovery-key-file "$work/rk" >/dev/null 2>&1
export KEYWARD_VAULT_KEY="$(cat "$work/rk")"
printf %s "$VALUE" | "$K" add stripe/test --var STRIPE_KEY >/dev/null

get=(-n "keyward get" "$K get stripe/test")
exec_cmds=(-n "keyward exec" "$K exec -- true")
if have pass && have gpg; then
    gpg --batch --passphrase '' --quick-gen-key bench@keyward.invalid default default never >/dev/null 2>&1
    export PASSWORD_STORE_DIR="$work/pass"
    pass init bench@keyward.invalid >/dev/null
    printf '%s\n' "$VALUE" | pass insert -m stripe/test >/dev/null
    get+=(-n "pass show" "pass show stripe/test")
    if have gopass && gopass show stripe/test >/dev/null 2>&1; then
        get+=(-n "gopass show" "gopass show stripe/test")
    fi
fi
if have dotenvx; then
    (cd "$work" && printf 'STRIPE_KEY=%s\n' "$VALUE" > .env && dotenvx encrypt >/dev/null 2>&1)
    get+=(-n "dotenvx get" "cd $work && dotenvx get STRIPE_KEY")
    exec_cmds+=(-n "dotenvx run" "cd $work && dotenvx run -q -- true")
fi
if have teller; then
    printf 'STRIPE_KEY=%s\n' "$VALUE" > "$work/teller.env"
    cat > "$work/.teller.yml" <<YML
providers:
  dotenv:
    kind: dotenv
    maps:
      - id: one
        path: $work/teller.env
YML
    get+=(-n "teller export" "cd $work && teller export env")
    exec_cmds+=(-n "teller run" "cd $work && teller run --reset --shell -- true")
fi

echo "== get (one secret)"
hyperfine --warmup 5 --runs "$runs" --export-markdown "$work/get.md" "${get[@]}"
cat "$work/get.md"
echo "== exec"
hyperfine --warmup 3 --runs "$runs" --export-markdown "$work/exec.md" "${exec_cmds[@]}"
cat "$work/exec.md"

# mask: the same 1,000 values and a 50 MB log.
python3 - "$work" <<'PY'
import random, string, sys
work = sys.argv[1]
random.seed(7)
vals = ["".join(random.choice(string.ascii_letters + string.digits) for _ in range(32)) for _ in range(1000)]
open(f"{work}/values.env", "w").write("".join(f"V{i}={v}\n" for i, v in enumerate(vals)))
with open(f"{work}/app.log", "w") as f:
    n = 0
    while n < 50_000_000:
        line = f"2026-11-26T10:00:00Z INFO request id={random.getrandbits(64):016x} user=u{random.randint(1,9999)} status=200 took={random.randint(1,900)}ms\n"
        if random.random() < 0.001:
            line = line[:-1] + f" auth={random.choice(vals)}\n"
        f.write(line); n += len(line)
PY
"$K" import "$work/values.env" >/dev/null
mask=(-n "keyward mask" "$K mask < $work/app.log")
if have teller; then
    cp "$work/values.env" "$work/teller.env"
    mask+=(-n "teller redact" "cd $work && teller redact < $work/app.log")
fi
echo "== mask (50 MB, 1,000 values)"
hyperfine --warmup 1 --runs 5 --export-markdown "$work/mask.md" "${mask[@]}"
cat "$work/mask.md"
