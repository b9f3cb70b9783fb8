# shellcheck shell=bash
# Shell helpers shared by the benchmark scripts (sourced, bash, from the
# script's own directory first thing). The scripts define die.

# bench_init: ROOT, the checkout (the directory above the script's), made
# the working directory; and the defaults of the options every script has,
# which select_luas reads: LUAS (comma/space list of 5.x/jit),
# LUAS_EXPLICIT (set to 1 by --lua), BUILD (set to 0 by --no-build).
bench_init() {
    ROOT=$(cd "$(dirname "$0")/.." && pwd)
    cd "$ROOT" || exit 2
    LUAS="5.4,jit"
    LUAS_EXPLICIT=0
    BUILD=1
}

# select_luas NAME MODULES: fills TAGS with the interpreters of LUAS that
# exist and have the Lua modules MODULES (e.g. 'require("socket")'); 5.4,
# or any interpreter named explicitly, must be there. Builds each for
# smtp-native when BUILD=1.
select_luas() {
    local name=$1 modules=$2 tag bin
    local -a want
    TAGS=()
    IFS=', ' read -r -a want <<<"$LUAS"
    for tag in "${want[@]}"; do
        [ -n "$tag" ] || continue
        case "$tag" in
            jit) bin=luajit ;;
            5.1|5.2|5.3|5.4) bin=lua$tag ;;
            *) die "unknown interpreter '$tag' (use 5.4 or jit)" ;;
        esac
        if ! command -v "$bin" >/dev/null 2>&1; then
            if [ "$LUAS_EXPLICIT" = 1 ] || [ "$tag" = 5.4 ]; then die "$bin not found: run 'make deps'"; fi
            echo "$name: $bin not found, skipping it" >&2
            continue
        fi
        if ! "$bin" -e "$modules" >/dev/null 2>&1; then
            if [ "$LUAS_EXPLICIT" = 1 ] || [ "$tag" = 5.4 ]; then
                die "LuaSocket is not installed for $bin: run 'make deps'"
            fi
            echo "$name: no LuaSocket for $bin, skipping it" >&2
            continue
        fi
        TAGS+=("$tag")
    done
    [ ${#TAGS[@]} -gt 0 ] || die "no interpreter to run"
    if [ "$BUILD" = 1 ]; then
        for tag in "${TAGS[@]}"; do
            make --no-print-directory -s LUA="$tag" >/dev/null || die "make LUA=$tag failed"
        done
    fi
}

# record_result TAG RC: the verdict of one interpreter's run (exit 0 pass,
# 1 fail, else error) into RESULT[TAG], and the worst so far into status
# (0, 1 or 2). Needs: declare -A RESULT; status=0.
record_result() {
    case $2 in
        0) RESULT[$1]=PASS ;;
        1) RESULT[$1]=FAIL; [ "$status" = 2 ] || status=1 ;;
        *) RESULT[$1]="ERROR (exit $2)"; status=2 ;;
    esac
}

# print_results PREFIX OUT: one line per interpreter of TAGS ("PREFIXlua5.4:
# PASS"), then where the output is saved; shown and appended to OUT.
print_results() {
    local prefix=$1 out=$2 tag
    {
        echo
        for tag in "${TAGS[@]}"; do
            if [ "$tag" = jit ]; then echo "${prefix}luajit: ${RESULT[$tag]}"; else echo "${prefix}lua$tag: ${RESULT[$tag]}"; fi
        done
        echo "(saved in $out)"
    } | tee -a "$out"
}

# new_results NAME: makes bench/results/ and sets OUT to a new file there,
# bench/results/NAME<UTC time stamp>.txt.
new_results() {
    mkdir -p bench/results
    # shellcheck disable=SC2034  # OUT is for the caller
    OUT="bench/results/$1$(date -u +%Y%m%dT%H%M%SZ).txt"
}

# The lines every results file starts with: when, the machine's CPUs,
# the commit measured.
header_date() { date -u '+%Y-%m-%d %H:%M UTC'; }
header_cpus() {
    echo "$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1))"
}
header_git() {
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src lua 2>/dev/null || echo ' (+ uncommitted changes in src/ or lua/)')"
}

# run_logged CMD...: runs CMD in the background, its output (stdout and
# stderr) shown and appended to $OUT through a fifo in $TMP, and waits for
# it. CLIENT_PID and TEE_PID name the two while they run, for the EXIT
# trap to stop. Sets rc to CMD's exit status.
# shellcheck disable=SC2034  # rc is for the caller
run_logged() {
    rm -f "$TMP/fifo"; mkfifo "$TMP/fifo"
    tee -a "$OUT" <"$TMP/fifo" &
    TEE_PID=$!
    "$@" >"$TMP/fifo" 2>&1 &
    CLIENT_PID=$!
    rc=0
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=""
    wait "$TEE_PID" || true
    TEE_PID=""
}

# stop_pid PID: TERM to our child PID, if any, and reap it.
stop_pid() {
    if [ -n "$1" ]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}

# bench_tmp NAME: TMP, a new directory ${TMPDIR:-/tmp}/NAME.XXXXXX, and
# the traps: on exit (also on failure or interrupt) they stop the
# processes the script names in CLIENT_PID (its process group when it
# leads one: setsid), TEE_PID and SINK_PID, by PID, and remove TMP.
bench_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    CLIENT_PID=""
    TEE_PID=""
    SINK_PID=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# shellcheck disable=SC2317  # called from the EXIT trap
bench_cleanup() {
    if [ -n "$CLIENT_PID" ]; then
        kill -- "-$CLIENT_PID" 2>/dev/null || kill "$CLIENT_PID" 2>/dev/null || true
        wait "$CLIENT_PID" 2>/dev/null || true
    fi
    if [ -n "$TEE_PID" ]; then wait "$TEE_PID" 2>/dev/null || true; fi
    stop_sink
    rm -rf "$TMP"
}

# --- Postfix's smtp-sink ------------------------------------------------------

# find_smtp_sink: SMTP_SINK, the smtp-sink program (the environment's
# SMTP_SINK=/path/to/smtp-sink overrides the search), and SINK_USER, the
# options that make it drop privileges when run as root (it refuses to run
# as root otherwise; SMTP_SINK_USER, default nobody).
find_smtp_sink() {
    local d u
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
    [ -n "$SMTP_SINK" ] || die "smtp-sink not found. It comes with Postfix (Debian package 'postfix'):
    run 'make deps', or: apt-get install postfix"
    SINK_USER=()
    if [ "$(id -u)" = 0 ]; then
        u=${SMTP_SINK_USER:-nobody}
        id "$u" >/dev/null 2>&1 || die "user '$u' does not exist: set SMTP_SINK_USER to an unprivileged user"
        SINK_USER=(-u "$u")
    fi
}

# free_port: prints a TCP port of 127.0.0.1 that was free a moment ago.
free_port() {
    lua5.4 -e 'local s = require("socket"); local t = assert(s.bind("127.0.0.1", 0));
        local _, p = t:getsockname(); t:close(); print(p)' 2>/dev/null
}

# start_smtp_sink NAME [PREFIX...]: starts smtp-sink -c (run under PREFIX,
# e.g. taskset) on a free port of 127.0.0.1, in the background, and waits
# until it accepts connections; five ports are tried. Sets SINK_PID,
# SINK_PORT and SINK_LOG (its output, in TMP: "sess=N quit=N mesg=N\r").
# Needs find_smtp_sink and bench_tmp first.
# shellcheck disable=SC2034  # SINK_PORT and SINK_LOG are for the caller
start_smtp_sink() {
    local name=$1 attempt port
    shift
    for attempt in 1 2 3 4 5; do
        port=$(free_port) || die "could not find a free port (is LuaSocket installed for lua5.4?)"
        SINK_LOG="$TMP/sink.$port.log"
        "$@" "$SMTP_SINK" -c "${SINK_USER[@]}" "127.0.0.1:$port" 1000 >"$SINK_LOG" 2>"$TMP/sink.err" &
        SINK_PID=$!
        for _ in $(seq 1 100); do
            if ! kill -0 "$SINK_PID" 2>/dev/null; then break; fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && kill -0 "$SINK_PID" 2>/dev/null; then
                SINK_PORT=$port
                return 0
            fi
            sleep 0.05
        done
        echo "$name: smtp-sink did not start on port $port (attempt $attempt):" >&2
        sed 's/^/    /' "$TMP/sink.err" >&2 || true
        stop_sink
    done
    die "could not start smtp-sink ($SMTP_SINK)"
}

# stop_sink: stops the sink of SINK_PID, if any.
stop_sink() {
    stop_pid "$SINK_PID"
    SINK_PID=""
}
