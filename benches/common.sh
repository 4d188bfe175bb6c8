# Sourced by benches/{bigmail,smtp,store}.sh (from the repository root):
# Postfix's smtp-sink and smtp-source on PATH (installed as root when
# missing, with any extra Debian packages named in NEED_PACKAGES), the
# matterwall binary to measure in BIN, and the helpers every script uses.
#
#   MATTERWALL_BIN=path   use this binary, build nothing
#   PROFILE=release|debug which build to make otherwise (default: release)

need=()
command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ] || need+=(postfix)
for p in ${NEED_PACKAGES:-}; do command -v "$p" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "needs ${need[*]} (Debian packages)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
PATH=$PATH:/usr/sbin

TARGET=${CARGO_TARGET_DIR:-target}
PROFILE=${PROFILE:-release}
BIN=${MATTERWALL_BIN:-}
if [ -z "$BIN" ]; then
    if [ "$PROFILE" = release ]; then
        nice -n 5 cargo build --quiet --release
    else
        nice -n 5 cargo build --quiet
    fi
    BIN="$TARGET/$PROFILE/matterwall"
fi

# A free loopback port.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (a minute at most) until something on port $1 says 220.
wait_banner() {
    for _ in $(seq 600); do
        if python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$1)); sys.exit(not s.recv(3).startswith(b'220'))" 2>/dev/null; then return; fi
        sleep 0.1
    done
    echo "nothing answers on port $1" >&2; exit 1
}
