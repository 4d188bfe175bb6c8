#!/usr/bin/env bash
# The verdict of `matterwall check` for every message of the labelled corpus
# (../shared/corpus, with its envelope and dictionaries, as tests/it/corpus.rs
# runs it) and for every file under fixtures/, one JSON file each in OUTDIR.
# Run it with the binary before and after a change to extraction, then
# `diff -r BEFORE AFTER`: empty means the verdicts did not change.
#
#   benches/check_all.sh target/debug/matterwall /tmp/before
set -euo pipefail
BIN=$(realpath "$1")
OUT=$2
REPO=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$REPO/../shared/corpus}
[ -d "$CORPUS" ] || CORPUS=/work/shared/corpus
CORPUS=$(realpath "$CORPUS")
mkdir -p "$OUT/corpus" "$OUT/fixtures"

# The config tests/it/support::config_with_dictionaries builds.
CONF=$(mktemp -d)
trap 'rm -rf "$CONF"' EXIT
awk '/^\[\[example\]\]/{exit} {print}' "$REPO/rules/matterwall.toml" >"$CONF/matterwall.toml"
for name in clients.csv matters.csv waivers.csv certs; do
    ln -s "$CORPUS/$name" "$CONF/$name"
done

# `check` prints the verdict on stdout; its exit status and stderr are kept too.
run() {
    local out=$1
    shift
    local rc=0
    "$BIN" --config "$CONF/matterwall.toml" check "$@" >"$out.json" 2>"$out.stderr" || rc=$?
    echo "$rc" >"$out.rc"
}

python3 - "$CORPUS/expected.jsonl" >"$CONF/cases" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        c = json.loads(line)
        args = ["--from", c["from"]]
        for to in c["to"]:
            args += ["--to", to]
        print("\t".join([c["file"]] + args))
EOF
while IFS=$'\t' read -r -a fields; do
    file=${fields[0]}
    run "$OUT/corpus/$file" "${fields[@]:1}" "$CORPUS/msgs/$file"
done <"$CONF/cases"

# Fixtures: each file as the whole message, from a firm address to an outside one.
cd "$REPO"
find fixtures -type f | sort | while read -r f; do
    name=$(echo "$f" | tr '/' '_')
    run "$OUT/fixtures/$name" --from b.associate@firm.example --to someone@outside.example "$f"
done
