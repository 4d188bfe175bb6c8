#!/usr/bin/env bash
# SMTP throughput and added latency (README → Performance → The proxy):
#   smtp-source → smtp-sink                    (direct)
#   smtp-source → socat (TCP_NODELAY) → smtp-sink   (a relay that does nothing)
#   smtp-source → matterwall → smtp-sink       (the whole check on every message)
# all in one run, at each message size, with a large firm's dictionaries
# loaded (100,000 clients, 1,000,000 matters by default).
#
#   PROFILE=release benches/smtp.sh
#   MESSAGES=5000 SESSIONS=20 SIZES="20000 100000" CLIENTS=100000 MATTERS=1000000 LAT_COUNT=500
#
# Needs Postfix's smtp-source and smtp-sink (Debian: postfix) and socat; as
# root it installs what is missing. Messages carry no client names: every
# one passes, so every one is scanned whole and relayed.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
MESSAGES=${MESSAGES:-5000}
SESSIONS=${SESSIONS:-20}
SIZES=${SIZES:-20000 100000}
LAT_COUNT=${LAT_COUNT:-500}
DIR=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT

NEED_PACKAGES=socat . benches/common.sh
SINK=$(port); RELAY=$(port); MW=$(port); HTTP=$(port)

python3 benches/make_dictionaries.py "$DIR" "${CLIENTS:-100000}" "${MATTERS:-1000000}"
python3 - "$DIR" "$MW" "$SINK" "$HTTP" <<'PY'
import sys, re
d, mw, sink, http = sys.argv[1:]
text = open("rules/matterwall.toml").read().split("[[example]]")[0]
text = text.replace('listen = "127.0.0.1:10025"', f'listen = "127.0.0.1:{mw}"\nmax_connections = 200')
text = text.replace('address = "127.0.0.1:10026"', f'address = "127.0.0.1:{sink}"')
text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{http}"')
text = re.sub(r'certs = "certs"', 'certs = "certs"', text)
open(f"{d}/matterwall.toml", "w").write(text)
PY
mkdir -p "$DIR/certs"

USER_OPT=(); [ "$(id -u)" = 0 ] && USER_OPT=(-u postfix)
smtp-sink "${USER_OPT[@]}" "127.0.0.1:$SINK" 1024 & PIDS+=($!)
socat "TCP-LISTEN:$RELAY,fork,reuseaddr,nodelay,backlog=1024" "TCP:127.0.0.1:$SINK,nodelay" & PIDS+=($!)
start=$(date +%s.%N)
"$BIN" --config "$DIR/matterwall.toml" serve 2>"$DIR/serve.log" & PIDS+=($!); MWPID=$!
wait_banner "$SINK"; wait_banner "$RELAY"; wait_banner "$MW"
echo "matterwall up with the dictionaries loaded in $(echo "$(date +%s.%N) - $start" | bc) s ($PROFILE build)"
echo "$MESSAGES messages, $SESSIONS sessions; latency over $LAT_COUNT messages one after another"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$MWPID/stat"; } # user + system, in clock ticks
run() { # port size → seconds
    local t0 t1
    t0=$(date +%s.%N)
    smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$2" -f a@firm.example -t someone@partner.example "127.0.0.1:$1"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}
declare -A cpu_ms
printf '%-8s %-10s %8s %9s %7s %8s %8s %8s\n' size path seconds msgs/s "x direct" "x socat" p50_ms p99_ms
for size in $SIZES; do
    direct=$(run "$SINK" "$size"); relay=$(run "$RELAY" "$size")
    before=$(cpu_ticks); mw=$(run "$MW" "$size"); after=$(cpu_ticks)
    cpu_ms[$size]=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v m="$MESSAGES" 'BEGIN{printf "%.2f", t * 1000 / hz / m}')
    for path in direct socat matterwall; do
        case $path in direct) p=$SINK; s=$direct;; socat) p=$RELAY; s=$relay;; matterwall) p=$MW; s=$mw;; esac
        read -r p50 p99 < <(python3 benches/latency.py "$p" "$size" "$LAT_COUNT")
        awk -v sz="$size" -v path="$path" -v s="$s" -v d="$direct" -v r="$relay" -v m="$MESSAGES" -v a="$p50" -v b="$p99" \
            'BEGIN{printf "%-8s %-10s %8.2f %9.0f %7.2f %8.2f %8.2f %8.2f\n", sz, path, s, m/s, d/s, r/s, a, b}'
    done
done
for size in $SIZES; do echo "matterwall CPU per message at $size bytes: ${cpu_ms[$size]} ms (all threads)"; done
passed=$(python3 -c "import urllib.request; t=urllib.request.urlopen('http://127.0.0.1:$HTTP/metrics').read().decode(); print([l for l in t.splitlines() if 'outcome=\"pass\"' in l][0].split()[-1])")
want=$(( $(echo "$SIZES" | wc -w) * (MESSAGES + LAT_COUNT) ))
echo "matterwall passed $passed of $want messages (every one must pass: none held, none refused)"
[ "$passed" = "$want" ]
