#!/usr/bin/env bash
# Regenerates docs/shop.png: the shop's home page after a short session
# (ada logs in from two browsers and adds two items), rendered by headless
# Chromium. Run from anywhere: ./examples/shop/screenshot.sh
#
# Chromium cannot take a curl cookie jar, so the script saves the final page
# as HTML (its CSS is inline) and renders that file: the footer is the one
# of the request that fetched it.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${1:-docs/shop.png}"
case "$out" in /*) ;; *) out="$root/$out" ;; esac

if [ ! -x /usr/bin/chromium ]; then
    # Debian's package; needs root.
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
fi

cargo build -q -p shop-axum

tmp="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Port 0: the shop binds a free port and announces its URL.
GIMLET_ADDR=127.0.0.1:0 GIMLET_BACKEND="sqlite://$tmp/shop.db?mode=rwc" \
    target/debug/shop-axum >"$tmp/out.log" 2>"$tmp/err.log" &
server=$!
base=""
for _ in $(seq 100); do
    base="$(sed -n 's|.*open \(http://[^ ]*\)/$|\1|p' "$tmp/out.log")"
    [ -n "$base" ] && break
    sleep 0.1
done
[ -n "$base" ] || { cat "$tmp/err.log" >&2; echo "the shop did not start" >&2; exit 1; }

# One browser: a cookie jar. `token JAR` prints the CSRF token of the home page.
token() {
    curl -fsS -b "$1" -c "$1" "$base/" | grep -o 'name=csrf value=[0-9a-f]*' | head -n1 | cut -d= -f3
}
post() { # JAR PATH FIELD...
    local jar="$1" path="$2"
    shift 2
    local args=()
    for field in "$@"; do args+=(--data-urlencode "$field"); done
    curl -fsS -o /dev/null -b "$jar" -c "$jar" "${args[@]}" "$base$path"
}

laptop="$tmp/laptop.jar"
phone="$tmp/phone.jar"
post "$phone" /login name=ada "csrf=$(token "$phone")"
post "$laptop" /login name=ada "csrf=$(token "$laptop")"
post "$laptop" /cart item=gin "csrf=$(token "$laptop")"
post "$laptop" /cart item=lime "csrf=$(token "$laptop")"
curl -fsS -b "$laptop" -c "$laptop" "$base/" >"$tmp/shop.html"

chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1100,1400 --screenshot="$out" "file://$tmp/shop.html" 2>"$tmp/chromium.log" ||
    { cat "$tmp/chromium.log" >&2; exit 1; }
echo "wrote $out"
