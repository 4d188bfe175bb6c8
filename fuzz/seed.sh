#!/bin/sh
# Builds the fuzz corpora in fuzz/corpus/<target>/ (not committed) from the
# committed seeds, the test fixtures and the shared corpus of messages.
# Usage: fuzz/seed.sh  (from anywhere)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
corpus=${MATTERWALL_CORPUS:-/work/shared/corpus/msgs}
for t in smtp message attachment config; do
    mkdir -p "$here/corpus/$t"
    cp "$here/seeds/$t/"* "$here/corpus/$t/"
done
# Messages: the shared corpus, and DATA bodies (dot-stuffed, CRLF) for smtp.
if [ -d "$corpus" ]; then
    for f in "$corpus"/*.eml; do
        cp "$f" "$here/corpus/message/"
        { printf '\100'; sed 's/$/\r/; s/^\./../' "$f"; printf '.\r\n'; } \
            > "$here/corpus/smtp/$(basename "$f")"
    done
fi
# Attachments: one selector byte (see invariants::attachment) then the file.
sel() { printf "\\$(printf '%03o' "$1")"; }
for f in "$root"/fixtures/attachments/*; do
    case "$f" in
        *bomb*) continue ;;
        *.pdf) s=0 ;; *.zip|*.docx|*.xlsx|*.pptx|*.odt) s=1 ;; *.tar.gz) s=2 ;;
        *.rtf) s=4 ;; *.dat) s=6 ;; *.txt) s=8 ;; *) continue ;;
    esac
    { sel $s; cat "$f"; } > "$here/corpus/attachment/$(basename "$f")"
    { sel 11; cat "$f"; } > "$here/corpus/attachment/sniffed-$(basename "$f")"
done
# Config: the example configuration and its dictionaries, NUL-separated.
r="$root/rules"
{ sed 's/^certs = .*//' "$r/matterwall.toml"; printf '\0'; cat "$r/clients.csv"; printf '\0'
  cat "$r/matters.csv"; printf '\0'; cat "$r/waivers.csv"; } > "$here/corpus/config/example"
echo "corpora in $here/corpus"
