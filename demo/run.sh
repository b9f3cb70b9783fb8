#!/bin/sh
# make demo: start a capture server (aiosmtpd) on 127.0.0.1, send a
# multipart message with an attachment through smtp-native, show what
# arrived, stop the server.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/smtp-native-demo.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

/usr/bin/python3 spec/support/capture_server.py --dir "$dir" >"$dir/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$dir/port" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then echo "capture server did not start:"; cat "$dir/server.log"; exit 1; fi
    sleep 0.05
done
port=$(cat "$dir/port")
echo "capture server (aiosmtpd) listening on 127.0.0.1:$port"

# an attachment of every byte value, 64 KiB
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 256)' >"$dir/attachment.bin"

lua5.4 -e "package.path='$root/lua/?.lua;'..package.path package.cpath='$root/build/5.4/?.so;'..package.cpath" \
    demo/demo.lua 127.0.0.1 "$port" "$dir/attachment.bin"

i=0
while [ ! -s "$dir/msg-0001.json" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then echo "nothing arrived"; exit 1; fi
    sleep 0.05
done
echo
/usr/bin/python3 demo/show.py "$dir/msg-0001.json" "$dir/attachment.bin"
