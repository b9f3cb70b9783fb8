# shellcheck shell=bash
# Shell helpers shared by the benchmark scripts (sourced, bash).
# Needs: die, LUAS (comma/space list of 5.x/jit), LUAS_EXPLICIT, BUILD.

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
