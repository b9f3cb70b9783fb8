#!/bin/sh
# spec/c/run.sh -- build and run the C engine tests (TAP).
#
#   spec/c/run.sh                  ASan + UBSan build, run every test
#   spec/c/run.sh --valgrind       plain build, every test under valgrind
#   spec/c/run.sh test_reply ...   only the named tests (either mode)
#
# Each test is compiled from its own source plus the engine .c files it
# needs (listed below: the engines are independent), into build/c/. The TAP
# output of every test is printed; the script exits non-zero when a test
# fails, crashes, prints no plan, or (with --valgrind) valgrind reports an
# error or a leak. TAP_SEED=N in the environment reproduces a random run.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
. tools/engine-src.sh

CC=${CC:-cc}
WARN="-std=c99 -Wall -Wextra -Werror"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
OUT=build/c
VALGRIND=0

TESTS=""
for arg in "$@"; do
    case "$arg" in
        --valgrind) VALGRIND=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        test_*) TESTS="$TESTS $arg" ;;
        *) echo "run.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
[ -n "$TESTS" ] || TESTS="test_reply test_caps test_cmd test_mime_body test_mime_enc test_mime_enc_ref test_mime_hdr test_mime_gen test_mime_msg test_client test_host test_sasl_hash test_sasl test_random"

# The engine files each test links, and nothing more.
engines() {
    case "$1" in
        test_reply) engine_src smtp_reply smtp_errors ;;
        test_caps) engine_src smtp_caps smtp_reply smtp_errors ;;
        test_cmd) engine_src smtp_cmd smtp_errors ;;
        test_mime_body) engine_src mime_body ;;
        test_mime_enc) engine_src mime_enc ;;
        test_mime_enc_ref) engine_src mime_enc ;; # runs spec/c/ref_enc.py
        test_mime_hdr) engine_src mime_hdr smtp_errors ;;
        test_mime_gen) engine_src mime_gen mime_hdr mime_enc smtp_errors ;;
        test_mime_msg) engine_src mime_msg mime_gen mime_hdr mime_enc mime_body smtp_errors ;;
        test_client) engine_src smtp_client smtp_reply smtp_caps smtp_cmd mime_body mime_enc smtp_errors ;;
        test_host) engine_src smtp_host ;;
        test_sasl_hash) engine_src sasl_hash ;;
        test_sasl) engine_src sasl sasl_hash smtp_caps mime_enc smtp_errors ;;
        test_random) engine_src smtp_random ;;
        *) return 1 ;;
    esac
}

if [ "$VALGRIND" = 1 ]; then
    command -v valgrind >/dev/null 2>&1 || { echo "run.sh: valgrind not found" >&2; exit 2; }
    CFLAGS="$WARN -g -O1 -DSPEC_VALGRIND"
    BIN=$OUT/vg
else
    CFLAGS="$WARN -g -O1 $SAN"
    BIN=$OUT
fi
mkdir -p "$BIN"

total_pass=0
total_fail=0
bad=""

# tally LOG: prints a TAP log, sets pass and fail to its counts and adds
# them to the totals.
tally() {
    cat "$1"
    pass=$(grep -c '^ok ' "$1")
    fail=$(grep -c '^not ok ' "$1")
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
}

for t in $TESTS; do
    src="spec/c/$t.c"
    eng=$(engines "$t") || { echo "run.sh: no such test: $t" >&2; exit 2; }
    echo "# ---- $t ($src + $eng)"
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -Isrc -o "$BIN/$t" "$src" $eng; then
        echo "not ok - $t: build failed"
        bad="$bad $t(build)"
        continue
    fi
    log="$BIN/$t.tap"
    if [ "$VALGRIND" = 1 ]; then
        valgrind -q --error-exitcode=99 --leak-check=full \
            --log-file="$BIN/$t.valgrind" "$BIN/$t" >"$log" 2>&1
        rc=$?
    else
        "$BIN/$t" >"$log" 2>&1
        rc=$?
    fi
    tally "$log"
    if [ "$VALGRIND" = 1 ] && [ -s "$BIN/$t.valgrind" ]; then
        cat "$BIN/$t.valgrind"
    fi
    if ! grep -q '^1\.\.[0-9]' "$log"; then
        echo "# $t: no plan: crashed or stopped early (exit $rc)"
        bad="$bad $t(crash)"
    elif [ "$VALGRIND" = 1 ] && [ "$rc" = 99 ]; then
        echo "# $t: valgrind reported errors (see above)"
        bad="$bad $t(valgrind)"
    elif [ "$rc" != 0 ] || [ "$fail" != 0 ]; then
        bad="$bad $t($fail failed)"
    fi
    echo "# $t: $pass passed, $fail failed"
done

# Python's email package as the oracle for mime_hdr: spec/c/hdr_tool.c
# formats generated fields, spec/c/hdr_oracle.py parses them back (TAP).
case " $TESTS " in
*" test_mime_hdr "*)
    echo "# ---- hdr_oracle (spec/c/hdr_oracle.py + spec/c/hdr_tool.c)"
    if [ ! -x /usr/bin/python3 ]; then
        echo "# hdr_oracle: /usr/bin/python3 not found, skipped"
    elif ! $CC $CFLAGS -Isrc -o "$BIN/hdr_tool" spec/c/hdr_tool.c $(engine_src mime_hdr smtp_errors); then
        echo "not ok - hdr_oracle: build failed"
        bad="$bad hdr_oracle(build)"
    else
        log="$BIN/hdr_oracle.tap"
        /usr/bin/python3 spec/c/hdr_oracle.py "$BIN/hdr_tool" >"$log" 2>&1
        rc=$?
        tally "$log"
        if ! grep -q '^1\.\.[0-9]' "$log"; then
            bad="$bad hdr_oracle(crash)"
        elif [ "$rc" != 0 ] || [ "$fail" != 0 ]; then
            bad="$bad hdr_oracle($fail failed)"
        fi
        echo "# hdr_oracle: $pass passed, $fail failed"
    fi
    ;;
esac

echo "# ----"
if [ -n "$bad" ]; then
    echo "# FAIL:$bad"
fi
echo "$total_pass passed, $total_fail failed"
[ -z "$bad" ]
