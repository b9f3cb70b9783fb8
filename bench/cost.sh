#!/usr/bin/env bash
# CPU instructions and system calls per message of the low-level send path
# (smtp.open, s:greet, s:send per message, s:quit), smtp-native against
# LuaSocket's smtp, on Postfix's smtp-sink over 127.0.0.1.
#
#   bench/cost.sh [options]
#
#   --lua LIST        interpreters, comma-separated: 5.4, jit (default
#                     "5.4,jit"; jit is skipped with a note when luajit is
#                     missing, unless asked for explicitly)
#   --tree DIR        a checkout of smtp-native whose lua/ and build/<lua>/
#                     are measured (default: this one); may be repeated, to
#                     measure several commits in one sitting
#   --modules LIST    native, luasocket (default both)
#   --messages N      messages of the smaller session (200); the larger one
#                     sends 2N
#   --runs N          times each measurement is made (2)
#   --size N          message size in bytes (2048)
#   --no-build        do not run make in each tree for each interpreter
#
# The marginal method: each client (bench/cost.lua) opens one connection and
# sends N, then 2N, messages; the figure is (cost(2N) - cost(N)) / N, so
# that start-up, greeting and quit cancel.
#  - instructions: user-mode instructions executed (callgrind's total Ir) of
#    the client process;
#  - system calls: every call of the client in `strace -f`, counted by name,
#    failed calls by name and errno (recvfrom:EAGAIN).
# LuaSocket's smtp runs with TCP_NODELAY set through `create` (as the
# nodelay variant of bench/smtp_sink.lua): the same instructions and calls
# as shipped, without a 40 ms stall per message.
#
# One smtp-sink on a free port of 127.0.0.1, stopped by PID on exit (also on
# failure or interrupt); after each client its counter must have grown by
# the number of messages sent. Output is also saved under bench/results/.
# Exit status: 0 when every measurement was made, 2 on any error.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

LUAS="5.4,jit"
LUAS_EXPLICIT=0
BUILD=1
TREES=()
MODULES="native,luasocket"
N=200
RUNS=2
SIZE=2048

die() { echo "bench/cost.sh: $*" >&2; exit 2; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --lua) [ $# -ge 2 ] || die "--lua needs a value"; LUAS=$2; LUAS_EXPLICIT=1; shift 2 ;;
        --tree)
            [ $# -ge 2 ] || die "--tree needs a value"
            [ -d "$2/lua" ] || die "--tree $2: no lua/ there"
            TREES+=("$(cd "$2" && pwd)"); shift 2 ;;
        --modules) [ $# -ge 2 ] || die "--modules needs a value"; MODULES=$2; shift 2 ;;
        --messages) [ $# -ge 2 ] || die "--messages needs a value"; posint "$1" "$2"; N=$2; shift 2 ;;
        --runs) [ $# -ge 2 ] || die "--runs needs a value"; posint "$1" "$2"; RUNS=$2; shift 2 ;;
        --size) [ $# -ge 2 ] || die "--size needs a value"; posint "$1" "$2"; SIZE=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done
[ ${#TREES[@]} -gt 0 ] || TREES=("$ROOT")
DO_NATIVE=0
DO_LS=0
IFS=', ' read -r -a mods <<<"$MODULES"
for m in "${mods[@]}"; do
    case "$m" in
        native) DO_NATIVE=1 ;;
        luasocket) DO_LS=1 ;;
        "") ;;
        *) die "unknown module '$m' (use native, luasocket)" ;;
    esac
done
[ "$DO_NATIVE" = 1 ] || [ "$DO_LS" = 1 ] || die "--modules: nothing to measure"
command -v valgrind >/dev/null 2>&1 || die "valgrind not found: run 'make deps'"
command -v strace >/dev/null 2>&1 || die "strace not found (Debian package 'strace')"

# --- smtp-sink (as bench/run.sh) ------------------------------------------
if [ -n "${SMTP_SINK:-}" ]; then
    [ -x "$SMTP_SINK" ] || die "SMTP_SINK=$SMTP_SINK is not an executable"
else
    SMTP_SINK=$(command -v smtp-sink 2>/dev/null || true)
fi
if [ -z "$SMTP_SINK" ]; then
    for d in /usr/sbin /usr/lib/postfix /usr/libexec/postfix /usr/lib/postfix/sbin; do
        if [ -x "$d/smtp-sink" ]; then SMTP_SINK="$d/smtp-sink"; break; fi
    done
fi
[ -n "$SMTP_SINK" ] || die "smtp-sink not found. It comes with Postfix (Debian package 'postfix')"
SINK_USER=()
if [ "$(id -u)" = 0 ]; then
    u=${SMTP_SINK_USER:-nobody}
    id "$u" >/dev/null 2>&1 || die "user '$u' does not exist: set SMTP_SINK_USER to an unprivileged user"
    SINK_USER=(-u "$u")
fi

# --- interpreters -----------------------------------------------------------
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
WANT_BUILD=$BUILD
BUILD=0 # select_luas would build this checkout only: each tree is built below
select_luas bench/cost.sh "require(\"socket\"); require(\"ltn12\")"
if [ "$WANT_BUILD" = 1 ] && [ "$DO_NATIVE" = 1 ]; then
    for tree in "${TREES[@]}"; do
        for tag in "${TAGS[@]}"; do
            make --no-print-directory -s -C "$tree" LUA="$tag" >/dev/null || die "make LUA=$tag failed in $tree"
        done
    done
fi

# --- sink lifecycle -----------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/smtp-cost.XXXXXX")
SINK_PID=""
SINK_PORT=""
SINK_LOG="$TMP/sink.log"
CLIENT_PID=""
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    stop_pid "$CLIENT_PID"
    stop_pid "$SINK_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    lua5.4 -e 'local s = require("socket"); local t = assert(s.bind("127.0.0.1", 0));
        local _, p = t:getsockname(); t:close(); print(p)' 2>/dev/null
}

start_sink() {
    local attempt port
    for attempt in 1 2 3 4 5; do
        port=$(free_port) || die "could not find a free port (is LuaSocket installed for lua5.4?)"
        "$SMTP_SINK" -c "${SINK_USER[@]}" "127.0.0.1:$port" 1000 >"$SINK_LOG" 2>"$TMP/sink.err" &
        SINK_PID=$!
        for _ in $(seq 1 100); do
            if ! kill -0 "$SINK_PID" 2>/dev/null; then break; fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && kill -0 "$SINK_PID" 2>/dev/null; then
                SINK_PORT=$port
                return 0
            fi
            sleep 0.05
        done
        echo "bench/cost.sh: smtp-sink did not start on port $port (attempt $attempt):" >&2
        sed 's/^/    /' "$TMP/sink.err" >&2 || true
        stop_pid "$SINK_PID"
        SINK_PID=""
    done
    die "could not start smtp-sink ($SMTP_SINK)"
}

# The sink's message counter (smtp-sink -c writes "sess=N quit=N mesg=N\r").
sink_count() { tr '\r' '\n' <"$SINK_LOG" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1; }
# check_sink BEFORE N: waits (3 s at most) for the counter to reach BEFORE+N.
check_sink() {
    local got
    for _ in $(seq 1 60); do
        got=$(sink_count); got=${got:-0}
        [ "$got" -ne $(($1 + $2)) ] || return 0
        sleep 0.05
    done
    die "smtp-sink counted $((got - $1)) messages, the client sent $2"
}

# client WRAPPER_OUT MSGS BIN MODULE TREE [TOOL...]: one session of MSGS
# messages under TOOL, in the background (the traps stop it by PID); dies
# unless it says OK and the sink counted them.
client() {
    local out=$1 msgs=$2 bin=$3 module=$4 tree=$5 before rc=0
    shift 5
    before=$(sink_count); before=${before:-0}
    "$@" "$bin" "$ROOT/bench/cost.lua" --port "$SINK_PORT" --module "$module" --root "$tree" \
        --messages "$msgs" --size "$SIZE" >"$out" 2>"$out.err" &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=""
    if [ "$rc" != 0 ] || ! grep -qx "OK $msgs" "$out"; then
        sed 's/^/    /' "$out.err" "$out" >&2 || true
        die "$bin $module ($tree), $msgs messages: client failed (exit $rc)"
    fi
    check_sink "$before" "$msgs"
}

# irs BIN MODULE TREE MSGS: the client's total Ir under callgrind, into IR
# (not echoed: a command substitution would hide the client from the traps).
irs() {
    local f="$TMP/cg.out" ir
    client "$TMP/client.out" "$4" "$1" "$2" "$3" \
        valgrind --tool=callgrind --callgrind-out-file="$f" --dump-instr=no
    ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$f" | tail -1)
    [ -n "$ir" ] || ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | tail -1)
    [ -n "$ir" ] || die "no total in callgrind's output"
    rm -f "$f"
    IR=$ir
}

# calls BIN MODULE TREE MSGS FILE: the client's system calls under strace,
# one "name count" line each (failed calls as "name:ERRNO"), into FILE.
calls() {
    local f="$TMP/strace.out"
    client "$TMP/client.out" "$4" "$1" "$2" "$3" strace -f -qq -o "$f"
    awk '
        /^[0-9]+ +(\+\+\+|---)/ || /^(\+\+\+|---)/ { next }
        {
            sub(/^[0-9]+ +/, "")
            if ($0 ~ /resumed>/) next
            name = $0; sub(/\(.*/, "", name)
            if (name !~ /^[a-z_0-9]+$/) next
            if (match($0, /= -1 [A-Z][A-Z0-9_]+/)) {
                e = substr($0, RSTART + 5, RLENGTH - 5)
                name = name ":" e
            }
            n[name]++
        }
        END { for (k in n) print k, n[k] }' "$f" | sort >"$5"
    rm -f "$f"
}

# marginal SMALL LARGE: per-message difference of two "name count" files;
# prints "total breakdown" (breakdown: name=per-message, largest first).
marginal() {
    awk -v n="$N" '
        FNR == NR { a[$1] = $2; keys[$1] = 1; next }
        { b[$1] = $2; keys[$1] = 1 }
        END {
            total = 0
            for (k in keys) { d = (b[k] - a[k]) / n; total += d; if (d >= 0.005 || d <= -0.005) per[k] = d }
            line = ""
            while (1) {
                best = ""
                for (k in per) if (best == "" || per[k] > per[best]) best = k
                if (best == "") break
                line = line (line == "" ? "" : " ") sprintf("%s=%.2f", best, per[best])
                delete per[best]
            }
            printf "%.2f %s\n", total, line
        }' "$1" "$2"
}

# --- run ------------------------------------------------------------------------
new_results "cost-"
tree_label() {
    local t=$1 c
    c=$(git -C "$t" rev-parse --short HEAD 2>/dev/null || echo '?')
    git -C "$t" diff --quiet HEAD -- src lua 2>/dev/null || c="$c+"
    echo "$c"
}
{
    echo "smtp-native cost per message, $(header_date)"
    echo "machine: $(header_cpus), kernel $(uname -r)"
    echo "tools: $(valgrind --version), $(strace -V | head -1)"
    echo "sink: $SMTP_SINK (postfix $(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?'))"
    for tree in "${TREES[@]}"; do
        echo "tree: $tree at $(tree_label "$tree") ('+': uncommitted changes in src/ or lua/)"
    done
    echo "method: one connection, $N and $((2 * N)) messages of $SIZE bytes, difference / $N; $RUNS runs each"
} | tee "$OUT"

start_sink
ROWS=()
for tag in "${TAGS[@]}"; do
    if [ "$tag" = jit ]; then bin=luajit; else bin=lua$tag; fi
    interp=$("$bin" -e 'print(rawget(_G, "jit") and jit.version or _VERSION)')
    jobs=()
    if [ "$DO_LS" = 1 ]; then jobs+=("luasocket|-|$ROOT"); fi
    if [ "$DO_NATIVE" = 1 ]; then
        for tree in "${TREES[@]}"; do jobs+=("smtp-native|$(tree_label "$tree")|$tree"); done
    fi
    for job in "${jobs[@]}"; do
        IFS='|' read -r label commit tree <<<"$job"
        module=native
        [ "$label" = luasocket ] && module=luasocket
        irs_list=""
        sc_list=""
        breakdown=""
        for run in $(seq 1 "$RUNS"); do
            echo "  $interp, $label $commit, run $run/$RUNS ..." >&2
            irs "$bin" "$module" "$tree" "$N"; a=$IR
            irs "$bin" "$module" "$tree" $((2 * N)); b=$IR
            ir=$(awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "%.1f k", (b - a) / n / 1000 }')
            calls "$bin" "$module" "$tree" "$N" "$TMP/calls.small"
            calls "$bin" "$module" "$tree" $((2 * N)) "$TMP/calls.large"
            read -r sc bd < <(marginal "$TMP/calls.small" "$TMP/calls.large")
            irs_list="${irs_list:+$irs_list / }$ir"
            sc_list="${sc_list:+$sc_list / }$sc"
            breakdown="${breakdown:+$breakdown; }run $run: $bd"
            echo "    Ir $a ($N msgs), $b ($((2 * N))): $ir per message; system calls $sc per message: $bd" \
                | tee -a "$OUT" >&2
        done
        ROWS+=("| $interp | $label | $commit | $irs_list | $sc_list | $breakdown |")
    done
done
stop_pid "$SINK_PID"
SINK_PID=""

{
    echo
    echo "| interpreter | module | commit | instructions per message (runs) | system calls per message (runs) | calls per message |"
    echo "|---|---|---|---:|---:|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "(saved in $OUT)"
} | tee -a "$OUT"
