#!/bin/sh
# fuzz/run.sh -- build the libFuzzer targets and run each for a while.
#
#   fuzz/run.sh [seconds] [target...]
#
#   seconds   per target (default 30)
#   target    fuzz_reply fuzz_caps fuzz_client fuzz_mime_body fuzz_mime_enc
#             fuzz_mime_hdr fuzz_mime_gen fuzz_mime_msg fuzz_sasl, or one of the
#             *_small builds, or fuzz_bind (default: all of them)
#
# fuzz_bind is the binding fuzzer (fuzz/bind/run.sh): Lua operation
# sequences on socket.smtp.core under lua5.4 with the ASan+UBSan build
# (make asan), seeds in fuzz/bind/seeds.txt, findings in build/fuzz/bind/.
#
# Every target is built with clang -fsanitize=fuzzer,address,undefined into
# build/fuzz/. The *_small builds shrink the engine limits
# (smtp_config.h is overridable) so that a fuzzer reaches every bound and
# its error path with short inputs. fuzz_sasl is always built with
# SASL_SCRAM_ITER_MAX=1000 so that no input spends seconds in PBKDF2.
# Each run starts from the seeds in fuzz/corpus/<target>/ (never written
# to); new inputs go to build/fuzz/corpus/<target>/ and crash reproducers
# to build/fuzz/artifacts/. Replay one with: build/fuzz/<target> <file>.
#
# Environment: FUZZ_FLAGS adds libFuzzer flags (e.g. -jobs=2);
# FUZZ_KEEP_GOING=1 runs in fork mode and keeps fuzzing past a crash.
# Exits non-zero when a target fails to build or a run finds a crash.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
. tools/engine-src.sh

SECS=30
TARGETS=""
for arg in "$@"; do
    case "$arg" in
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        [0-9]*) SECS=$arg ;;
        fuzz_*) TARGETS="$TARGETS $arg" ;;
        *) echo "fuzz/run.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
[ -n "$TARGETS" ] || TARGETS="fuzz_reply fuzz_reply_small fuzz_caps fuzz_caps_small fuzz_client fuzz_client_small fuzz_mime_body fuzz_mime_enc fuzz_mime_hdr fuzz_mime_gen fuzz_mime_msg fuzz_sasl fuzz_sasl_small fuzz_bind"

CC=${FUZZ_CC:-clang}
CFLAGS="-std=c99 -Wall -Wextra -Werror -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc"
SMALL="-DSMTP_REPLY_LINE_MAX=64 -DSMTP_REPLY_LINES_MAX=8 -DSMTP_REPLY_MAX=256 -DSMTP_CAPS_MAX=128 -DSMTP_IN_MAX=64 -DSMTP_PIPELINE_MAX=4 -DSASL_CHALLENGE_MAX=128 -DSASL_OUT_MAX=128"
OUT=build/fuzz

# clang with the libFuzzer runtime (Debian: clang + libclang-rt-14-dev)
have_fuzzer() {
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$OUT/probe.c"
    "$CC" -fsanitize=fuzzer,address,undefined "$OUT/probe.c" -o "$OUT/probe" >/dev/null 2>&1
}
mkdir -p "$OUT/artifacts"
if [ "$(echo $TARGETS)" != fuzz_bind ] && ! have_fuzzer; then
    echo "fuzz/run.sh: $CC cannot build libFuzzer targets; installing clang" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y clang libclang-rt-14-dev >&2 || true
    CC=clang
    have_fuzzer || { echo "fuzz/run.sh: no working libFuzzer toolchain" >&2; exit 2; }
fi

sources() {
    case "$1" in
        fuzz_reply) engine_src smtp_reply smtp_errors ;;
        fuzz_caps) engine_src smtp_caps smtp_reply smtp_errors ;;
        fuzz_client) engine_src smtp_client smtp_reply smtp_caps smtp_cmd mime_body mime_enc smtp_errors ;;
        fuzz_mime_body) engine_src mime_body ;;
        fuzz_mime_enc) engine_src mime_enc ;;
        fuzz_mime_hdr) engine_src mime_hdr smtp_errors ;;
        fuzz_mime_gen) engine_src mime_gen mime_hdr mime_enc smtp_errors ;;
        fuzz_mime_msg) engine_src mime_msg mime_gen mime_hdr mime_enc mime_body smtp_errors ;;
        fuzz_sasl) engine_src sasl sasl_hash mime_enc smtp_errors ;;
        *) return 1 ;;
    esac
}

# Defines a target always needs (the _small builds add $SMALL).
defines() {
    case "$1" in
        fuzz_sasl) echo "-DSASL_SCRAM_ITER_MAX=1000" ;;
    esac
}

summary=""
bad=0
for t in $TARGETS; do
    if [ "$t" = fuzz_bind ]; then
        echo "==== fuzz_bind: run ${SECS}s"
        log=$OUT/fuzz_bind.log
        mkdir -p "$OUT"
        fuzz/bind/run.sh --seconds "$SECS" >"$log" 2>&1
        rc=$?
        tail -n 25 "$log"
        if [ "$rc" = 0 ]; then result=$(sed -n 's/^==== //p' "$log" | tail -n 1); else
            result="FINDING (exit $rc, see $log and build/fuzz/bind/)"; bad=1; fi
        summary="$summary
fuzz_bind: ${SECS}s, $result"
        continue
    fi
    base=${t%_small}
    extra=""
    [ "$base" != "$t" ] && extra=$SMALL
    extra="$extra $(defines "$base")"
    eng=$(sources "$base") || { echo "fuzz/run.sh: no such target: $t" >&2; exit 2; }
    echo "==== $t: build"
    # shellcheck disable=SC2086
    if ! "$CC" $CFLAGS $extra -o "$OUT/$t" "fuzz/$base.c" $eng; then
        summary="$summary
$t: BUILD FAILED"
        bad=1
        continue
    fi
    mkdir -p "$OUT/corpus/$t"
    log="$OUT/$t.log"
    mode=""
    [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && mode="-fork=1 -ignore_crashes=1"
    echo "==== $t: run ${SECS}s"
    # shellcheck disable=SC2086
    "$OUT/$t" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 \
        -artifact_prefix="$OUT/artifacts/$t-" $mode ${FUZZ_FLAGS:-} \
        "$OUT/corpus/$t" "fuzz/corpus/$base" >"$log" 2>&1
    rc=$?
    tail -n 25 "$log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/.*#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    crashes=$(ls "$OUT/artifacts/$t-"* 2>/dev/null | wc -l)
    if [ "$rc" != 0 ] || grep -q -e '^==[0-9]*==ERROR' -e 'invariant failed' -e 'deadly signal' "$log"; then
        result="CRASH (exit $rc, $crashes artifact(s) in $OUT/artifacts/)"
        bad=1
    else
        result="ok"
    fi
    summary="$summary
$t: ${SECS}s, ${execs:-?} execs, ${cov:-cov: ?}, $(ls "$OUT/corpus/$t" | wc -l) inputs in $OUT/corpus/$t: $result"
done

echo "==== summary$summary"
exit $bad
