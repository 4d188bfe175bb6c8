#!/usr/bin/env bash
# Throughput of `matterwall check` on messages carrying a ~5 MB PDF, a ~5 MB
# DOCX, a ZIP of both, and all three at once. See benches/ATTACHMENTS.md.
#
#   pip install reportlab python-docx      # input generator only
#   CARGO_TARGET_DIR=/path RUNS=5 PROFILE=release benches/attachments.sh
#
# Uses the debug build (dependencies at opt-level 2, per Cargo.toml) unless
# PROFILE=release, the
# repository's rules/matterwall.toml, best of RUNS wall-clock times, and the
# peak resident memory of that run. Each document ends with a client name, so
# the verdict must be "hold" with a match inside the attachment: a reader that
# stopped early would show up as "pass".
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-$(mktemp -d)}

python3 benches/make_inputs.py "$DIR" >/dev/null
PROFILE=${PROFILE:-debug}
if [ "$PROFILE" = release ]; then cargo build --quiet --release; else cargo build --quiet; fi
BIN="$TARGET/$PROFILE/matterwall"

printf '%-6s %9s %9s %8s %9s  %s\n' message size_MB best_s MB/s peak_MB "verdict / match locations"
for f in pdf docx zip all; do
    size=$(stat -c %s "$DIR/$f.eml")
    best=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$DIR/time" "$BIN" check \
            --from b.associate@firm.example --to someone@example.com "$DIR/$f.eml" >"$DIR/out.json"
        read -r secs kb <"$DIR/time"
        if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; peak=$kb; fi
    done
    verdict=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["action"], sorted({m["location"] for m in d["matches"]}), [u["reason"] for u in d["uninspectable"]])' "$DIR/out.json")
    awk -v f="$f" -v s="$size" -v t="$best" -v k="$peak" -v v="$verdict" \
        'BEGIN{printf "%-6s %9.1f %9.2f %8.2f %9.0f  %s\n", f, s/1e6, t, s/1e6/t, k/1024, v}'
done
