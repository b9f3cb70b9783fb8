#!/bin/sh
# .ci/lua-asan.sh -- run the stock lua5.4 on the ASan+UBSan build of
# socket.smtp.core (build/asan/, `make asan`).
#
#   .ci/lua-asan.sh script.lua args...     (any lua5.4 arguments)
#
# lua5.4 is not instrumented, so the ASan runtime must be the first library
# loaded. It is preloaded with the dynamic loader's --preload option
# (glibc 2.30+): unlike LD_PRELOAD it does not enter the environment, so
# the processes the specs start (python servers, dovecot, nginx, openssl,
# other Lua interpreters on the release builds) run without it. Where the
# loader lacks --preload, LD_PRELOAD is used instead.
#
# Sanitizer options (each may be overridden from the environment):
#   ASAN_OPTIONS   detect_leaks=0 (lua5.4's own state at exit is no finding),
#                  abort_on_error=1, halt_on_error=1, allocator_may_return_null=1
#                  (a huge allocation is Lua's "not enough memory", not a report)
#   UBSAN_OPTIONS  print_stacktrace=1, halt_on_error=1, abort_on_error=1
# A report stops the process with SIGABRT; callers also look for
# "ERROR: AddressSanitizer" / ": runtime error:" in the output.
#
# LUA_ASAN_PRELOAD=env uses LD_PRELOAD even where --preload works: the
# children then inherit it, but ASan names the frames inside lua5.4 right
# (with --preload it takes /proc/self/exe, the loader, for the main
# program, and names lua5.4's frames after the loader's functions; the
# frames in core.so are right either way). The binding fuzzer, which starts
# no servers, runs so.
#
# Environment: LUA_ASAN_LUA (default /usr/bin/lua5.4), ASAN_CC (default gcc:
# the compiler whose libasan the build links), LUA_ASAN_PRELOAD.
set -u
lua=${LUA_ASAN_LUA:-/usr/bin/lua5.4}
asan=$("${ASAN_CC:-gcc}" -print-file-name=libasan.so)
case "$asan" in
    /*) [ -e "$asan" ] || asan="" ;;
    *) asan="" ;;
esac
if [ -z "$asan" ]; then
    echo "lua-asan.sh: ${ASAN_CC:-gcc} has no libasan.so" >&2
    exit 2
fi
: "${ASAN_OPTIONS:=detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1:abort_on_error=1}"
export ASAN_OPTIONS UBSAN_OPTIONS

interp=$(readelf -l "$lua" 2>/dev/null | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p')
if [ "${LUA_ASAN_PRELOAD:-}" != env ] && [ -n "$interp" ] && [ -x "$interp" ] && "$interp" --help 2>/dev/null | grep -q -e '--preload'; then
    exec "$interp" --preload "$asan" "$lua" "$@"
fi
LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}"
export LD_PRELOAD
exec "$lua" "$@"
