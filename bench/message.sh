#!/usr/bin/env bash
# The message-generation benchmark: LuaSocket's smtp.message against
# smtp-native's, side by side, on inputs made for the run (see
# bench/README.md, "Generating messages").
#
#   bench/message.sh [options] [-- message.lua options]
#
#   --lua LIST        interpreters, comma-separated: 5.4, jit (default
#                     "5.4,jit"; jit is skipped with a note when luajit is
#                     missing, unless asked for explicitly)
#   --rounds N        timed rounds per variant (5)
#   --size MIB        size of the binary and the text input (64)
#   --big-size MIB    size of the (e) file (1024)
#   --no-big          skip (e) and the big file
#   --no-callgrind    skip the instruction counts (the (b) requirement then fails)
#   --clock cpu|wall  clock the requirements are judged on (cpu)
#   --no-build        do not run make for each interpreter first
#
# Inputs are made in a temporary directory under ${TMPDIR:-/tmp} (random
# data from /dev/urandom, text from message_check.py gen-text) and removed
# on exit, also on failure or interrupt. Output is also saved under
# bench/results/ (ignored by git).
#
# Exit status: 0 if every requirement holds under every interpreter, 1 if
# one fails, 2 on any other error.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init

SIZE=64
BIG=1024
CALLGRIND=1
PASS=()

die() { echo "bench/message.sh: $*" >&2; exit 2; }
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --lua) [ $# -ge 2 ] || die "--lua needs a value"; LUAS=$2; LUAS_EXPLICIT=1; shift 2 ;;
        --rounds|--clock)
            [ $# -ge 2 ] || die "$1 needs a value"; PASS+=("$1" "$2"); shift 2 ;;
        --size) [ $# -ge 2 ] || die "--size needs a value"; posint "$1" "$2"; SIZE=$2; shift 2 ;;
        --big-size) [ $# -ge 2 ] || die "--big-size needs a value"; posint "$1" "$2"; BIG=$2; shift 2 ;;
        --no-big) BIG=0; PASS+=(--no-big); shift ;;
        --no-callgrind) CALLGRIND=0; PASS+=(--valgrind none); shift ;;
        --no-build) BUILD=0; shift ;;
        --) shift; PASS+=("$@"); break ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done
[ "$SIZE" -ge 16 ] || die "--size must be at least 16 (the 16 MiB inputs are cut from it)"

# --- tools ------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON)"
command -v base64 >/dev/null 2>&1 || die "base64 (coreutils) not found"
if [ "$CALLGRIND" = 1 ]; then
    command -v valgrind >/dev/null 2>&1 || die "valgrind not found: apt-get install valgrind, or --no-callgrind"
fi

# --- interpreters -------------------------------------------------------------
select_luas bench/message.sh "require(\"socket\"); require(\"ltn12\"); require(\"mime\")"

SETSID=()
if command -v setsid >/dev/null 2>&1; then SETSID=(setsid); fi

# --- inputs -------------------------------------------------------------------
# The traps stop the client (CLIENT_PID: its process group, the
# orchestrator and the worker it is running) and TEE_PID.
bench_tmp smtp-message-bench

new_results message-

{
    echo "smtp.message benchmark, $(header_date)"
    echo "machine: $(header_cpus), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    header_git
    echo "tools: $($PYTHON --version 2>&1), $(base64 --version | head -1)$(command -v valgrind >/dev/null 2>&1 && echo ", $(valgrind --version)")"
    echo "inputs in $TMP: random.bin and text.txt ${SIZE} MiB, 16 MiB cuts of both$([ "$BIG" -gt 0 ] && echo ", big.bin ${BIG} MiB")"
} | tee "$OUT"

t0=$(date +%s)
head -c "${SIZE}M" /dev/urandom >"$TMP/random.bin"
head -c 16M "$TMP/random.bin" >"$TMP/random16.bin"
"$PYTHON" bench/message_check.py gen-text "$TMP/text.txt" $((SIZE * 1048576))
head -c 16M "$TMP/text.txt" >"$TMP/text16.txt"
if [ "$BIG" -gt 0 ]; then head -c "${BIG}M" /dev/urandom >"$TMP/big.bin"; fi
echo "(inputs made in $(( $(date +%s) - t0 )) s)" | tee -a "$OUT"

# --- run ------------------------------------------------------------------------
status=0
declare -A RESULT
for tag in "${TAGS[@]}"; do
    if [ "$tag" = jit ]; then bin=luajit; else bin=lua$tag; fi
    echo | tee -a "$OUT"
    # The orchestrator runs in the background, in a process group of its
    # own (setsid), so that an interrupt reaches the traps at once and they
    # can stop it and the worker it is running (by that group's ID).
    run_logged "${SETSID[@]}" "$bin" bench/message.lua --root "$ROOT" --dir "$TMP" --interp "$bin" \
        --python "$PYTHON" ${PASS[@]+"${PASS[@]}"}
    record_result "$tag" "$rc"
done

print_results "message, " "$OUT"
exit $status
