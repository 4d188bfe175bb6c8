#!/usr/bin/env bash
# Peak memory with big messages (issue 14; README → Performance → Big messages):
# matterwall (release build) with the shipped config and max_message_size at
# 150 MiB, Postfix's smtp-sink as its next hop, and
#   1. one 100 MB message alone        (how many copies of it the server holds)
#   2. 20 sessions, each a 100 MB message, all at once, with the default
#      budgets (max_buffered_bytes 1 GiB, max_scanning_bytes 512 MiB)
#   3. the same with smaller ones (SMALL_BUFFERED, SMALL_SCANNING)
# each on a fresh server; peak RSS is the server's VmHWM (/proc/PID/status)
# when every message is answered, less its resident size before the first
# one (the dictionaries). The message is a deposition video (an MP4 in
# base64) and a cover note, as law firms send them; it carries no client
# name, so every one is scanned whole and relayed (the script checks 250s).
#
#   benches/bigmail.sh                     # builds release once; MATTERWALL_BIN= reuses one
#   SESSIONS=20 MB=100 SMALL_BUFFERED=268435456 SMALL_SCANNING=134217728 RUNS="one default smaller"
#
# Needs smtp-sink (Debian: postfix) and python3 (benches/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-20}
MB=${MB:-100}
SMALL_BUFFERED=${SMALL_BUFFERED:-268435456}
SMALL_SCANNING=${SMALL_SCANNING:-134217728}
SCAN_MILLIS=${SCAN_MILLIS:-20000}   # [limits] max_scan_millis; a debug build needs more
DIR=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT

. benches/common.sh

# The message: headers, a note, an MP4 in 76-column base64, a closing note.
python3 - "$DIR/msg.eml" "$MB" <<'PY'
import base64, os, sys
path, mb = sys.argv[1], int(sys.argv[2])
head = ("From: a.partner@firm.example\r\nTo: counsel@partner.example\r\n"
        "Subject: deposition recording, day 2\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"rec\"\r\n\r\n"
        "--rec\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The recording of yesterday's session is attached.\r\n"
        "--rec\r\nContent-Type: video/mp4; name=\"day2.mp4\"\r\n"
        "Content-Disposition: attachment; filename=\"day2.mp4\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n").encode()
tail = b"--rec\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBest regards, Alex\r\n--rec--\r\n"
binary = (mb * 1000 * 1000 - len(head) - len(tail)) * 57 // 78
video = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + os.urandom(binary)
b64 = base64.encodebytes(video).replace(b"\n", b"\r\n")
with open(path, "wb") as f:
    f.write(head + b64 + tail)
PY
SIZE=$(stat -c %s "$DIR/msg.eml")

SINK=$(port)
USER_OPT=(); [ "$(id -u)" = 0 ] && USER_OPT=(-u postfix)
smtp-sink "${USER_OPT[@]}" "127.0.0.1:$SINK" 1024 & PIDS+=($!)
wait_banner "$SINK"

kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# One run: $1 label, $2 sessions, $3 max_buffered_bytes, $4 max_scanning_bytes.
run() {
    local label=$1 n=$2 buffered=$3 scanning=$4 mw http pid before t0 t1 peak
    mw=$(port); http=$(port)
    python3 - "$DIR" "$mw" "$SINK" "$http" "$buffered" "$scanning" "$SCAN_MILLIS" <<'PY'
import sys
d, mw, sink, http, buffered, scanning, millis = sys.argv[1:]
text = open("rules/matterwall.toml").read().split("[[example]]")[0]
text = text.replace('listen = "127.0.0.1:10025"', f'listen = "127.0.0.1:{mw}"\n'
    f'max_message_size = 157286400\nmax_buffered_bytes = {buffered}\nmax_scanning_bytes = {scanning}')
text = text.replace('address = "127.0.0.1:10026"', f'address = "127.0.0.1:{sink}"')
text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{http}"')
for f in ("clients.csv", "matters.csv", "waivers.csv"):
    text = text.replace(f'"{f}"', f'"{__import__("os").path.abspath("rules/" + f)}"')
text = text.replace('certs = "certs"', f'certs = "{__import__("os").path.abspath("rules/certs")}"')
text = text.replace('url = "sqlite://data/matterwall.db"', f'url = "sqlite://{d}/data-{mw}/mw.db"')
text = text.replace("max_scan_millis = 20000", f"max_scan_millis = {millis}")
open(f"{d}/mw-{mw}.toml", "w").write(text)
PY
    "$BIN" --config "$DIR/mw-$mw.toml" serve 2>"$DIR/serve-$mw.log" & PIDS+=($!); pid=$!
    wait_banner "$mw"
    before=$(kb "$pid" VmRSS)
    t0=$(date +%s.%N)
    python3 - "$mw" "$n" "$DIR/msg.eml" <<'PY'
import socket, sys, threading
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
msg = open(path, "rb").read()
assert b"\r\n." not in msg  # base64 and the notes need no dot-stuffing
codes = []
def reply(f):
    while True:
        line = f.readline()
        if line[3:4] != b"-":
            return int(line[:3])
def send():
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    got = [reply(f)]
    for cmd in (b"EHLO bench", b"MAIL FROM:<a.partner@firm.example> SIZE=%d" % len(msg),
                b"RCPT TO:<counsel@partner.example>", b"DATA"):
        s.sendall(cmd + b"\r\n"); got.append(reply(f))
    s.sendall(msg); s.sendall(b".\r\n"); got.append(reply(f))
    s.sendall(b"QUIT\r\n"); codes.append(got)
threads = [threading.Thread(target=send) for _ in range(n)]
[t.start() for t in threads]; [t.join() for t in threads]
bad = [c for c in codes if c != [220, 250, 250, 250, 354, 250]]
assert len(codes) == n and not bad, f"replies: {bad}"
PY
    t1=$(date +%s.%N)
    peak=$(kb "$pid" VmHWM)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    awk -v l="$label" -v n="$n" -v b="$buffered" -v s="$scanning" -v before="$before" -v peak="$peak" \
        -v secs="$(echo "$t1 - $t0" | bc)" -v size="$SIZE" 'BEGIN {
        grow = (peak - before) * 1024
        printf "%-24s %3d %10d %10d %8.0f %8.0f %8.0f %6.2f %7.1f\n", l, n, b / 1048576, s / 1048576,
            before / 1024, peak / 1024, grow / 1048576, grow / (n == 1 ? size : size), secs }'
}

echo "message: $SIZE bytes; $(nproc) cores; $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) memory"
printf '%-24s %3s %10s %10s %8s %8s %8s %6s %7s\n' run msgs buffer_MiB scan_MiB base_MB peak_MB grow_MB xmsg seconds
for r in ${RUNS:-one default smaller}; do
    case $r in
        one) run "one message" 1 1073741824 536870912 ;;
        default) run "$SESSIONS at once, default" "$SESSIONS" 1073741824 536870912 ;;
        smaller) run "$SESSIONS at once, smaller" "$SESSIONS" "$SMALL_BUFFERED" "$SMALL_SCANNING" ;;
    esac
done
