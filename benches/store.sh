#!/usr/bin/env bash
# Group commit (issue 13, README → Performance → The store): with fsync on,
#   (a) holds committed per second, 20 SMTP sessions sending leaks,
#   (b) passes per second (each with its audit entry) from 20 sessions,
# through `matterwall serve` (release) on SQLite and on PostgreSQL, and the
# same two writes through the store alone (benches/store.rs, 20 threads),
# which shows whether SMTP or the store is the bottleneck.
#
#   benches/store.sh                      # both backends
#   MESSAGES=4000 SESSIONS=20 BACKENDS="sqlite postgres" benches/store.sh
#
# PostgreSQL is a private cluster in a temp dir (as tests/it/support/
# postgres.rs: initdb, never the system service) with fsync=on and
# synchronous_commit=on. Needs Postfix's smtp-source and smtp-sink and
# Debian's postgresql (.ci/run installs both; benches/common.sh builds).
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-4000}
SESSIONS=${SESSIONS:-20}
BACKENDS=${BACKENDS:-sqlite postgres}
DIR=$(mktemp -d)
chmod 755 "$DIR"
PIDS=()
PG=
cleanup() {
    kill "${PIDS[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    [ -n "$PG" ] && as_owner "$PG/pg_ctl" -D "$DIR/pg/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$DIR"
}
trap cleanup EXIT
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
metric() { # port outcome → messages with that outcome so far
    python3 - "$1" "$2" <<'PY'
import sys, urllib.request
t = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
print(sum(int(float(l.split()[-1])) for l in t.splitlines()
          if l.startswith("matterwall_messages_total") and f'outcome="{sys.argv[2]}"' in l))
PY
}

. benches/common.sh
nice -n 5 cargo bench --quiet --bench store --no-run 2>/dev/null
DRIVER=$(ls -t "$TARGET"/release/deps/store-* | grep -v '\.d$' | head -1)

# The two messages smtp-source sends (-F): smtp-source itself ends every
# line it sends with CRLF, so the copies have LF line ends (a CRLF in the
# file would go out as CR CR LF, a bare CR, refused with 550 5.5.2) and a
# newline after the last line.
for m in misdirected clean; do
    python3 - "rules/examples/$m.eml" "$DIR/$m.eml" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
open(sys.argv[2], "wb").write(b"".join(l + b"\n" for l in lines))
PY
done

# One smtp-source run, bounded: a server that stops answering fails the run
# within SOURCE_TIMEOUT seconds instead of hanging the script.
source_run() { # port file recipient
    timeout "${SOURCE_TIMEOUT:-600}" smtp-source -s "$SESSIONS" -m "$MESSAGES" -F "$2" \
        -f a.partner@firm.example -t "$3" "127.0.0.1:$1" ||
        { echo "smtp-source failed or timed out ($2)" >&2; return 1; }
}

start_postgres() {
    PG=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    mkdir -p "$DIR/pg"
    [ "$(id -u)" = 0 ] && chown nobody: "$DIR/pg"
    as_owner "$PG/initdb" -U matterwall --auth=trust -E UTF8 --no-sync -D "$DIR/pg/data" >/dev/null
    PGPORT=$(port)
    as_owner "$PG/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w -o \
        "-p $PGPORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200" \
        start >/dev/null
}
fresh_url() { # backend name → a store URL of its own
    case $1 in
    sqlite) echo "sqlite://$DIR/$2/mw.db" ;;
    postgres)
        "$PG/psql" -q -h 127.0.0.1 -p "$PGPORT" -U matterwall -d postgres -c "CREATE DATABASE $2" >/dev/null
        echo "postgres://matterwall@127.0.0.1:$PGPORT/$2" ;;
    esac
}

smtp_run() { # backend → "holds/s passes/s"
    local name=smtp_$1 url mw sink http t0 t1 t2 held passed
    mkdir -p "$DIR/$name/certs"
    url=$(fresh_url "$1" "$name")
    mw=$(port); sink=$(port); http=$(port)
    python3 - "$DIR/$name" "$mw" "$sink" "$http" "$url" <<'PY'
import sys
d, mw, sink, http, url = sys.argv[1:]
text = open("rules/matterwall.toml").read().split("[[example]]")[0]
text = text.replace('listen = "127.0.0.1:10025"', f'listen = "127.0.0.1:{mw}"\nmax_connections = 200')
text = text.replace('address = "127.0.0.1:10026"', f'address = "127.0.0.1:{sink}"')
text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{http}"')
text = text.replace('url = "sqlite://data/matterwall.db"', f'url = "{url}"\nnode = "bench"')
open(f"{d}/matterwall.toml", "w").write(text)
PY
    cp rules/*.csv "$DIR/$name/"
    local user=(); [ "$(id -u)" = 0 ] && user=(-u postfix)
    smtp-sink "${user[@]}" "127.0.0.1:$sink" 1024 >/dev/null 2>&1 & PIDS+=($!)
    "$BIN" --config "$DIR/$name/matterwall.toml" serve >/dev/null 2>"$DIR/$name/serve.log" & PIDS+=($!)
    wait_banner "$sink"; wait_banner "$mw"
    t0=$(date +%s.%N)
    source_run "$mw" "$DIR/misdirected.eml" j.smith@meridian-tankers.com
    t1=$(date +%s.%N)
    source_run "$mw" "$DIR/clean.eml" friend@gmail.com
    t2=$(date +%s.%N)
    held=$(metric "$http" hold); passed=$(metric "$http" pass)
    if [ "$held" != "$MESSAGES" ] || [ "$passed" != "$MESSAGES" ]; then
        echo "$1: held $held and passed $passed of $MESSAGES each: not a valid run" >&2
        tail -5 "$DIR/$name/serve.log" >&2; exit 1
    fi
    "$BIN" --config "$DIR/$name/matterwall.toml" audit verify >/dev/null
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v m="$MESSAGES" 'BEGIN{printf "%.0f %.0f\n", m/(b-a), m/(c-b)}'
}

echo "release build; $SESSIONS concurrent sessions / threads, $MESSAGES messages or writes each; fsync on"
printf '%-9s %-11s %9s %10s\n' backend path holds/s passes/s
for b in $BACKENDS; do
    [ "$b" = postgres ] && [ -z "$PG" ] && start_postgres
    # In this shell, not a subshell: the servers it starts join PIDS, so a
    # failure's exit stops them (a subshell's would hold the pipe open).
    smtp_run "$b" >"$DIR/figures"
    read -r holds passes <"$DIR/figures"
    printf '%-9s %-11s %9s %10s\n' "$b" smtp "$holds" "$passes"
    mkdir -p "$DIR/store_$b"
    MW_STORE_URL=$(fresh_url "$b" "store_$b") MW_THREADS=$SESSIONS MW_OPS=$MESSAGES \
        "$DRIVER" | sed "s/^/          /"
done
