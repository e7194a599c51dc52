#!/usr/bin/env bash
# The mutation campaign of the hardening issue: cargo-mutants over the vault, the unlock chain
# and the mask engine, each with the tests that are its oracle. Not run in CI (about 6 s a
# mutant on two cores, some 700 mutants); run it before a release and after changing those
# modules. Needs `cargo install cargo-mutants --locked`.
#
#   scripts/mutants.sh                # everything
#   scripts/mutants.sh vault          # one group: vault, unlock or mask
#
# Results go to target/mutants/<group>/mutants.out (missed.txt lists the survivors). Settings
# shared by every group are in .cargo/mutants.toml. Check a log under mutants.out/log/ after a
# change here: arguments cargo test does not understand make every mutant look caught.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debug info makes each mutant's link three times slower and is not needed to run tests.
export CARGO_PROFILE_DEV_DEBUG=0
# A caught mutant fails a property test; shrinking the failing input only costs time here.
export PROPTEST_MAX_SHRINK_ITERS=0
common=(--no-shuffle --jobs 1 --timeout 120 --baseline skip)

run() {
    local group=$1
    shift
    echo "== $group"
    mkdir -p "target/mutants/$group"
    cargo mutants "${common[@]}" --output "target/mutants/$group" "$@" || true
    local out="target/mutants/$group/mutants.out"
    printf '%s: caught %s, missed %s, unviable %s, timeout %s\n' "$group" \
        "$(wc -l <"$out/caught.txt")" "$(wc -l <"$out/missed.txt")" \
        "$(wc -l <"$out/unviable.txt")" "$(wc -l <"$out/timeout.txt")"
}

groups=("${@:-vault unlock mask}")
for group in ${groups[*]}; do
    case $group in
    # The vault's unit tests and the committed vault vectors (`vectors::` of the end-to-end
    # binary); the mask and scan tests cannot catch a vault mutant and take most of the time.
    # Name filters apply to both test binaries: lib tests are named by module, end-to-end tests
    # by file.
    vault) run vault --file 'src/vault/*.rs' -- --lib --test=e2e -- vault:: audit:: rotation:: unlock:: vectors:: ;;
    # The unlock chain also through the binary: tokens, passphrases (typed at a pseudo-terminal
    # too), the kernel keyring and the Secret Service (which need the keyring daemons, as the
    # end-to-end suite does).
    unlock) run unlock --file 'src/unlock/*.rs' -- --lib --test=e2e -- vault:: unlock:: vectors:: prompt:: secret_service:: ;;
    # The mask engine: its differential property tests against the reference masker.
    mask) run mask --file 'src/mask/*.rs' -- --lib -- mask:: ;;
    *) echo "unknown group $group (vault, unlock or mask)" >&2 && exit 2 ;;
    esac
done
