#!/bin/sh
# fuzz/bind/run.sh -- run the binding fuzzer (fuzz_bind.lua) on the
# ASan+UBSan build of core.so under Lua 5.4.
#
#   fuzz/bind/run.sh [--seconds S] [--seed N] [--tap] [--keep-going]
#                    [--no-seeds] [--collect FILE]
#   fuzz/bind/run.sh --replay SEED        one case, every operation printed
#
#   --seconds S    time budget (default: FUZZ_SECONDS, else 60)
#   --seed N       master seed (default: FUZZ_SEED, else the clock);
#                  case i runs with seed N + i
#   --tap          print one TAP line (for .ci/test.sh)
#   --keep-going   after a crash, go on with the next case until the time
#                  is up (also FUZZ_KEEP_GOING=1); every distinct crash is
#                  listed, by the first frame of ours in its report
#   --no-seeds     do not replay fuzz/bind/seeds.txt first
#   --collect FILE append "SEED FEATURE" lines, the first case reaching each
#                  feature (how fuzz/bind/seeds.txt is made)
#
# Builds build/asan/ (make asan) when needed; runs lua5.4 with the ASan
# runtime preloaded (.ci/lua-asan.sh). FUZZ_BIND_LUA=jit (or 5.1, 5.3...)
# runs the same cases on that interpreter's release build instead (no
# sanitizer: a crash is a finding; LuaJIT collects inside lua_pushlstring
# before it copies, where 5.4 copies first). A case that makes no progress for
# FUZZ_HANG_SECONDS (default 20) is a hang. Logs go to build/fuzz/bind/.
# Exit status 0 when nothing was found, 1 on a finding (crash, sanitizer
# report, oracle failure, hang), 2 when the fuzzer could not run.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2

SECS=${FUZZ_SECONDS:-60}
SEED=${FUZZ_SEED:-}
TAP=0
KEEP=${FUZZ_KEEP_GOING:-0}
REPLAY=""
SEEDS=fuzz/bind/seeds.txt
COLLECT=""
HANG=${FUZZ_HANG_SECONDS:-20}
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECS=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --replay) REPLAY=$2; shift 2 ;;
        --tap) TAP=1; shift ;;
        --keep-going) KEEP=1; shift ;;
        --no-seeds) SEEDS=""; shift ;;
        --collect) COLLECT=$2; shift 2 ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "fuzz/bind/run.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -n "$SEED" ] || SEED=$(( $(date +%s) % 1000000 * 1000 ))

OUT=${FUZZ_BIND_OUT:-build/fuzz/bind}
mkdir -p "$OUT"
# the harness's files (a killed harness cannot remove them itself)
work=$(mktemp -d /tmp/smtp-native-bindfuzz.XXXXXXXX) || exit 2
pid=""
trap 'rm -rf "$work"' EXIT
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 2' INT TERM

say() { [ "$TAP" = 1 ] && echo "# $*" || echo "$*"; }
verdict() { # ok|not-ok message
    if [ "$TAP" = 1 ]; then
        if [ "$1" = ok ]; then echo "ok 1 - binding fuzzer: $2"; else echo "not ok 1 - binding fuzzer: $2"; fi
    else
        echo "==== $2"
    fi
}

LUAI=${FUZZ_BIND_LUA:-asan}
case "$LUAI" in
    asan) target=asan; set -- env LUA_ASAN_PRELOAD=env .ci/lua-asan.sh ;;
    jit) target="LUA=jit"; set -- luajit; : "${FUZZ_BIND_CPATH:=build/jit/?.so}" ;;
    *) target="LUA=$LUAI"; set -- "lua$LUAI"; : "${FUZZ_BIND_CPATH:=build/$LUAI/?.so}" ;;
esac
export FUZZ_BIND_CPATH
INTERP="$*"
if ! make --no-print-directory $target >"$OUT/build.log" 2>&1; then
    tail -n 20 "$OUT/build.log"
    verdict not-ok "make $target failed (see $OUT/build.log)"
    exit 2
fi

# The kind of a finding, from its log: the first frame in our sources, or
# the oracle's message.
signature() { # log
    s=$(sed -n 's/^ORACLE FAILURE ([^)]*): //p' "$1" | head -n 1 |
        sed -e 's/"[^"]*"/"..."/g' -e 's/[0-9][0-9]*/N/g' | cut -c 1-70)
    [ -n "$s" ] && { echo "oracle: $s"; return; }
    kind=$(grep -o -m 1 -E 'ERROR: AddressSanitizer: [a-zA-Z-]+' "$1" | sed 's/ERROR: //')
    grep -q 'runtime error:' "$1" && kind="UndefinedBehaviorSanitizer"
    frame=$(grep -o -m 1 -E ' in [A-Za-z_0-9]+ (src|fuzz)/[a-z_0-9/]+\.[ch]:[0-9]+' "$1" | sed 's/^ in //')
    [ -n "$frame" ] || frame=$(grep -o -m 1 -E '^src/[a-z_0-9/]+\.c:[0-9]+' "$1")
    echo "${kind:-crash} at ${frame:-?}"
}

# Runs the harness (extra arguments passed on), watching for hangs.
# Sets rc and log.
run_harness() { # log args...
    log=$1
    shift
    state="$work/state"
    : >"$state"
    rm -rf "${work:?}/files"
    mkdir "$work/files"
    $INTERP fuzz/bind/fuzz_bind.lua --state "$state" --tmpdir "$work/files" "$@" >"$log" 2>&1 &
    pid=$!
    last=""
    still=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        now=$(cat "$state" 2>/dev/null)
        if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; last=$now; fi
        if [ "$still" -ge "$HANG" ]; then
            kill -KILL "$pid" 2>/dev/null
            echo "HANG: case seed $(echo "$now" | tr -d ' ') made no progress for ${HANG}s" >>"$log"
            break
        fi
    done
    wait "$pid"
    rc=$?
    case_seed=$(tr -d ' \n' <"$state" 2>/dev/null)
}

if [ -n "$REPLAY" ]; then
    run_harness "$OUT/replay-$REPLAY.log" --replay "$REPLAY"
    cat "$log"
    if [ "$rc" -ne 0 ] || grep -q -E 'ERROR: AddressSanitizer|runtime error:|^HANG' "$log"; then
        sig=$(signature "$log")
        grep -q '^HANG' "$log" && sig="hang"
        verdict not-ok "case $REPLAY: $sig"
        exit 1
    fi
    verdict ok "case $REPLAY ran clean"
    exit 0
fi

start=$(date +%s)
deadline=$((start + SECS))
found=0
runs=0
cases=0
summary=""
next=$SEED
: >"$OUT/findings.txt"
while :; do
    left=$((deadline - $(date +%s)))
    [ "$runs" -gt 0 ] && [ "$left" -le 0 ] && break
    [ "$left" -gt 0 ] || left=1
    log="$OUT/run-$next.log"
    set -- --seed "$next" --seconds "$left"
    [ "$runs" -eq 0 ] && [ -n "$SEEDS" ] && [ -f "$SEEDS" ] && set -- "$@" --seeds "$SEEDS"
    [ -n "$COLLECT" ] && set -- "$@" --collect "$COLLECT"
    run_harness "$log" "$@"
    runs=$((runs + 1))
    n=$(sed -n 's/^bind-fuzz: \([0-9]*\) cases.*/\1/p' "$log")
    cases=$((cases + ${n:-0}))
    if [ "$rc" -eq 0 ] && ! grep -q -E '==[0-9]+==ERROR: AddressSanitizer|runtime error:|^HANG' "$log"; then
        summary=$(grep '^bind-fuzz: [0-9]* cases' "$log")
        break
    fi
    if [ -z "$case_seed" ]; then
        head -n 20 "$log"
        verdict not-ok "the harness did not start (exit $rc, see $log)"
        exit 2
    fi
    found=$((found + 1))
    sig=$(signature "$log")
    grep -q "^HANG" "$log" && sig="hang: no progress for ${HANG}s"
    cp "$log" "$OUT/finding-$case_seed.log"
    echo "$case_seed $sig" >>"$OUT/findings.txt"
    say "finding in case $case_seed: $sig"
    say "  log: $OUT/finding-$case_seed.log; replay: fuzz/bind/run.sh --replay $case_seed"
    if [ "$TAP" = 1 ] || [ "$KEEP" != 1 ]; then
        grep -E -A 12 'ERROR: AddressSanitizer|runtime error:|^ORACLE|^HANG|^HARNESS' "$log" | head -n 30 |
            sed 's/^/#   /'
        break
    fi
    # the next case after the one that failed
    case "$case_seed" in ''|*[!0-9]*) next=$((next + 100000)) ;; *) next=$((case_seed + 1)) ;; esac
done
elapsed=$(( $(date +%s) - start ))
if [ "$found" -eq 0 ]; then
    verdict ok "${cases} cases in ${elapsed}s, seed $SEED, nothing found${summary:+ (${summary#bind-fuzz: })}"
    exit 0
fi
if [ "$KEEP" = 1 ] && [ "$TAP" != 1 ]; then
    echo "==== distinct findings (first case seed of each):"
    sort -k2 -u "$OUT/findings.txt" | sort -n
fi
verdict not-ok "$found finding(s) in ${elapsed}s, seed $SEED; first: $(head -n 1 "$OUT/findings.txt") (replay: fuzz/bind/run.sh --replay <seed>)"
exit 1
