#!/usr/bin/env bash
# smtp-native's benchmarks, LuaSocket's socket.smtp side by side:
#  1. sending ("no stalls"): LuaSocket's smtp (as shipped, and with
#     TCP_NODELAY) against smtp-native, on Postfix's smtp-sink;
#  2. generating messages: LuaSocket's smtp.message against ours
#     (bench/message.sh, which has more options of its own).
#
#   bench/run.sh [options] [-- smtp_sink.lua options]
#
#   --send            run only the sending benchmark
#   --message         run only the message-generation benchmark
#   --lua LIST        interpreters, comma-separated: 5.4, jit (default
#                     "5.4,jit"; jit is skipped with a note when luajit is
#                     missing, unless asked for explicitly); both benchmarks
#   --rounds N        rounds per variant (5); both benchmarks
#   --messages N      messages per session, nodelay and ours (2000)
#   --shipped-messages N   messages per session, LuaSocket as shipped (100)
#   --pin MODE        none (default) | same (client and sink on CPU 0) |
#                     split (client on CPU 0, sink on CPU 1); needs taskset
#   --no-build        do not run make for each interpreter first
#
# One smtp-sink per interpreter, on a free port of 127.0.0.1, stopped by PID
# on exit (also on failure or interrupt). Output is also saved under
# bench/results/ (ignored by git).
#
# Exit status: 0 if every requirement holds under every interpreter, 1 if
# one fails, 2 on any other error.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init

PIN=none
PASS=()
DO_SEND=1
DO_MESSAGE=1
MESSAGE_ARGS=()

die() { echo "bench/run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --send) DO_MESSAGE=0; shift ;;
        --message) DO_SEND=0; shift ;;
        --lua) [ $# -ge 2 ] || die "--lua needs a value"; LUAS=$2; LUAS_EXPLICIT=1; shift 2 ;;
        --rounds)
            [ $# -ge 2 ] || die "$1 needs a value"; PASS+=("$1" "$2"); MESSAGE_ARGS+=("$1" "$2"); shift 2 ;;
        --messages|--shipped-messages)
            [ $# -ge 2 ] || die "$1 needs a value"; PASS+=("$1" "$2"); shift 2 ;;
        --pin) [ $# -ge 2 ] || die "--pin needs a value"; PIN=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --) shift; PASS+=("$@"); break ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done
[ "$DO_SEND" = 1 ] || [ "$DO_MESSAGE" = 1 ] || die "--send and --message exclude each other"
if [ "$LUAS_EXPLICIT" = 1 ]; then MESSAGE_ARGS+=(--lua "$LUAS"); fi
if [ "$BUILD" = 0 ]; then MESSAGE_ARGS+=(--no-build); fi
if [ "$DO_SEND" = 0 ]; then
    exec "$ROOT/bench/message.sh" ${MESSAGE_ARGS[@]+"${MESSAGE_ARGS[@]}"}
fi

# --- smtp-sink ------------------------------------------------------------
# SMTP_SINK=/path/to/smtp-sink overrides the search.
find_smtp_sink

# --- CPU pinning ------------------------------------------------------------
PIN_CLIENT=()
PIN_SINK=()
case "$PIN" in
    none) ;;
    same|split)
        command -v taskset >/dev/null 2>&1 || die "--pin $PIN needs taskset (util-linux)"
        PIN_CLIENT=(taskset -c 0)
        if [ "$PIN" = same ]; then PIN_SINK=(taskset -c 0); else
            [ "$(nproc)" -ge 2 ] || die "--pin split needs 2 CPUs"
            PIN_SINK=(taskset -c 1)
        fi ;;
    *) die "--pin must be none, same or split" ;;
esac

# --- interpreters -------------------------------------------------------------
select_luas bench/run.sh "require(\"socket\"); require(\"ltn12\")"

# --- sink lifecycle -------------------------------------------------------------
# The traps stop the client (CLIENT_PID, TEE_PID) and the sink by PID.
bench_tmp smtp-bench

# --- run ------------------------------------------------------------------------
new_results ""

{
    echo "smtp-native benchmark, $(header_date)"
    echo "machine: $(header_cpus), kernel $(uname -r); pinning: $PIN"
    echo "sink: $SMTP_SINK (postfix $(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?'))"
    header_git
} | tee "$OUT"

status=0
declare -A RESULT
for tag in "${TAGS[@]}"; do
    if [ "$tag" = jit ]; then bin=luajit; else bin=lua$tag; fi
    start_smtp_sink bench/run.sh "${PIN_SINK[@]}"
    echo | tee -a "$OUT"
    # The client runs in the background so that an interrupt reaches the
    # traps at once (they stop it, and the sink, by PID).
    run_logged "${PIN_CLIENT[@]}" "$bin" bench/smtp_sink.lua --root "$ROOT" --port "$SINK_PORT" \
        --sink-log "$SINK_LOG" ${PASS[@]+"${PASS[@]}"}
    stop_sink
    record_result "$tag" "$rc"
done

print_results "" "$OUT"

if [ "$DO_MESSAGE" = 1 ]; then
    echo
    # In the background, as the clients above: the traps stop it by PID
    # (it then stops its own processes and removes its inputs).
    "$ROOT/bench/message.sh" ${MESSAGE_ARGS[@]+"${MESSAGE_ARGS[@]}"} &
    CLIENT_PID=$!
    rc=0
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=""
    case $rc in
        0) message=PASS ;;
        1) message=FAIL; [ $status = 2 ] || status=1 ;;
        *) message="ERROR (exit $rc)"; status=2 ;;
    esac
    send=PASS
    for tag in "${TAGS[@]}"; do [ "${RESULT[$tag]}" = PASS ] || send="${RESULT[$tag]}"; done
    echo
    echo "bench/run.sh: sending $send; generating messages $message"
fi
exit $status
