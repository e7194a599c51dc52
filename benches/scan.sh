#!/usr/bin/env bash
# `keyward scan` next to other secret scanners on the same generated source tree, one run, one
# machine: at least 100 MB in a few thousand files of code and config text (Python, JavaScript,
# Go, YAML, JSON, .env), with a few hundred keys planted. Prints throughput (MB/s) and ratios.
# Peers (left out when not installed): ripsecrets (cargo install ripsecrets --locked),
# detect-secrets (pip install detect-secrets), gitleaks (not on the registries reachable here).
# Usage: benches/scan.sh [MB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-100}"
runs="${2:-3}"
cargo build --release --quiet
K="$PWD/target/release/keyward"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tree="$work/tree"

python3 - "$tree" "$mb" <<'EOF'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
R = random.Random(7)
AL = "abcdefghijklmnopqrstuvwxyz"; ALNUM = AL + AL.upper() + "0123456789"; HEX = "0123456789abcdef"
words = "user account order invoice payment request response client server config value items index cache queue worker handler session token_count retry timeout offset limit page total status result error message".split()
def ident(): return "_".join(R.choice(words) for _ in range(R.randint(1, 3)))
def r(a, n): return "".join(R.choice(a) for _ in range(n))
keys = [lambda: "sk_live_" + r(ALNUM, 24), lambda: "ghp_" + r(ALNUM, 36), lambda: "AKIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        lambda: "xoxb-" + r("0123456789", 12) + "-" + r("0123456789", 12) + "-" + r(ALNUM, 24), lambda: "glpat-" + r(ALNUM, 20),
        lambda: "sk-proj-" + r(ALNUM, 48), lambda: "npm_" + r(ALNUM, 36), lambda: "SG." + r(ALNUM, 22) + "." + r(ALNUM, 43)]
lines = {
 "py": lambda: R.choice([f"def {ident()}({ident()}, {ident()}):", f"    {ident()} = {ident()}.get('{ident()}', {R.randint(0, 999)})",
        f"    if {ident()} is None:", f"        raise ValueError('{ident()} is missing')", f"    return {ident()}[{R.randint(0, 9)}]",
        f"# {' '.join(R.choice(words) for _ in range(8))}", f"import {ident()}", f"    logger.info('processed %d {ident()}', {ident()})"]),
 "js": lambda: R.choice([f"export function {ident()}({ident()}) {{", f"  const {ident()} = await fetch(`/api/{ident()}/${{id}}`);",
        f"  if (!{ident()}) return null;", f"  // {' '.join(R.choice(words) for _ in range(8))}", "}", f"  {ident()}.push({{ id: {R.randint(0, 9999)}, name: '{ident()}' }});"]),
 "go": lambda: R.choice([f"func {ident()}(ctx context.Context) error {{", f"\t{ident()}, err := {ident()}(ctx, \"{ident()}\")",
        "\tif err != nil {", "\t\treturn fmt.Errorf(\"%w\", err)", "\t}", "}", f"\t// {' '.join(R.choice(words) for _ in range(8))}"]),
 "yaml": lambda: R.choice([f"{ident()}:", f"  {ident()}: {R.randint(0, 9999)}", f"  {ident()}: \"{ident()}\"", f"  - name: {ident()}", f"    image: registry.example.com/{ident()}:{R.randint(1, 9)}.{R.randint(0, 20)}", f"    checksum: {r(HEX, 64)}"]),
 "json": lambda: R.choice([f"  \"{ident()}\": {R.randint(0, 99999)},", f"  \"{ident()}\": \"{ident()}\",", f"  \"id\": \"{r(HEX, 8)}-{r(HEX, 4)}-{r(HEX, 4)}-{r(HEX, 4)}-{r(HEX, 12)}\","]),
 "env": lambda: R.choice([f"{ident().upper()}={R.randint(0, 9999)}", f"{ident().upper()}={ident()}", f"{ident().upper()}_URL=https://{ident()}.example.com"]),
}
os.makedirs(root, exist_ok=True)
total, target, n, planted = 0, mb * 1_000_000, 0, 0
while total < target:
    ext = R.choice(list(lines))
    d = os.path.join(root, *(R.choice(words) for _ in range(R.randint(1, 3))))
    os.makedirs(d, exist_ok=True)
    body = []
    size = R.randint(10_000, 90_000)
    cur = 0
    while cur < size:
        if R.random() < 0.00012:
            body.append(f"API_TOKEN = \"{R.choice(keys)()}\""); planted += 1
        else:
            body.append(lines[ext]())
        cur += len(body[-1]) + 1
    text = "\n".join(body) + "\n"
    with open(os.path.join(d, f"{ident()}_{n}.{ext}"), "w") as f:
        f.write(text)
    total += len(text); n += 1
print(f"tree: {n} files, {total / 1e6:.1f} MB, {planted} keys planted", file=sys.stderr)
EOF
bytes=$(du -sb "$tree" | cut -f1)
# Every tool scans "." from inside the tree (detect-secrets only reports paths under its
# working directory).
cd "$tree"
cmds=(-n "keyward scan" "$K scan --no-known --exit-zero --format json .")
command -v ripsecrets >/dev/null && cmds+=(-n "ripsecrets" "ripsecrets .")
command -v detect-secrets >/dev/null && cmds+=(-n "detect-secrets" "detect-secrets scan --all-files .")
command -v gitleaks >/dev/null && cmds+=(-n "gitleaks" "gitleaks dir --no-banner .")

# What each finds, for the record.
"$K" scan --no-known --exit-zero --format json . | python3 -c 'import json,sys; d=json.load(sys.stdin); print("keyward findings:", len(d["findings"]))'
if command -v ripsecrets >/dev/null; then echo "ripsecrets findings: $(ripsecrets . | wc -l || true)"; fi
if command -v detect-secrets >/dev/null; then
    detect-secrets scan --all-files . | python3 -c 'import json,sys; d=json.load(sys.stdin); print("detect-secrets findings:", sum(len(v) for v in d["results"].values()))'
fi

hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$work/scan.json" "${cmds[@]}"
python3 - "$work/scan.json" "$bytes" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))["results"]; mb = int(sys.argv[2]) / 1e6
base = next(r for r in res if r["command"] == "keyward scan")["median"]
print(f"\n{'tool':<16}{'median s':>10}{'MB/s':>10}{'vs keyward':>12}")
for r in res:
    print(f"{r['command']:<16}{r['median']:>10.2f}{mb / r['median']:>10.0f}{r['median'] / base:>11.1f}x")
EOF
