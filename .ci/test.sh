#!/bin/sh
# Runs every test suite of smtp-native and ends with one line
# "N passed, N failed, N skipped". Each suite prints TAP ("ok N ..." /
# "not ok N ..."); an "ok" line with a "# SKIP" directive (busted's pending)
# is counted as skipped, never as passed. A suite that fails without
# reporting a failing test (a crash, a build error) counts as one failure.
# Exit status 0 only when nothing failed.
# Expects a build for each of TEST_LUAS (default "5.4 jit") in place, and
# the ASan+UBSan build for Lua 5.4 (`make asan`, build/asan/); `make test`
# builds them all. SMTP_NATIVE_SKIP_ASAN=1 leaves out the two ASan suites
# (lua5.4-asan, bind-fuzz); BIND_FUZZ_SECONDS sets the binding fuzzer's
# budget (default 40).
set -u
cd "$(dirname "$0")/.." || exit 1
log_dir=$(mktemp -d "${TMPDIR:-/tmp}/smtp-native-test.XXXXXX")
# shellcheck disable=SC2317  # called from the traps
stop_bg() { # the background suites, if any still run (an interrupt)
    for f in "$log_dir"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        pkill -TERM -P "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    rm -rf "$log_dir"
}
trap stop_bg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
passed=0
failed=0
skipped=0

suite() { # name command...
    name=$1
    shift
    log="$log_dir/$name.log"
    echo "== $name"
    t0=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    echo "# $name took $(( $(date +%s) - t0 )) s"
    tally
}

# A suite with no timing in it (the C tests under valgrind, the binding
# fuzzer: pure CPU) started in the background, beside the others, and
# counted by suite_wait: the machine has two cores.
suite_bg() { # name command...
    name=$1
    shift
    ( t0=$(date +%s); "$@" >"$log_dir/$name.log" 2>&1; echo $? >"$log_dir/$name.rc"
      echo $(( $(date +%s) - t0 )) >"$log_dir/$name.took" ) &
    echo $! >"$log_dir/$name.pid"
}

suite_wait() { # name
    name=$1
    log="$log_dir/$name.log"
    wait "$(cat "$log_dir/$name.pid")"
    rm -f "$log_dir/$name.pid" # done: its PID is no longer ours to stop
    rc=$(cat "$log_dir/$name.rc" 2>/dev/null || echo 1)
    echo "== $name (ran in the background)"
    cat "$log"
    echo "# $name took $(cat "$log_dir/$name.took" 2>/dev/null || echo '?') s"
    tally
}

tally() { # counts $log, $rc and $name of the suite just run
    p=$(grep -c '^ok ' "$log")
    s=$(grep -c -i -E '^ok [^#]*#[[:space:]]*skip([[:space:]]|$)' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc"
        f=1
    fi
    passed=$((passed + p - s))
    skipped=$((skipped + s))
    failed=$((failed + f))
    [ "$s" -eq 0 ] || echo "# $name: $s skipped"
}

# Specs tagged #once check what does not depend on the interpreter that
# runs busted (nginx's own LuaJIT, LuaRocks trees tried under every
# interpreter): they run in the first suite of TEST_LUAS only, not again
# under the other interpreters or ASan (which they never load).
busted_run() { # interpreter build [busted options]
    i=$1
    b=$2
    shift 2
    "$i" /usr/bin/busted --output=TAP --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
        --cpath="./build/$b/?.so" "$@" spec
}

# A sanitizer report in a log: ASan's "==PID==ERROR: AddressSanitizer",
# UBSan's "file.c:L:C: runtime error:" (also when the process survived it).
sanitizer_report() { # log
    grep -E -e '==[0-9]+==ERROR: (Address|Leak)Sanitizer' -e '\.[ch]:[0-9]+:[0-9]+: runtime error:' \
        -e '^SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$1" | head -n 5
}

# The whole busted suite under Lua 5.4 on the ASan+UBSan build of
# core.so (build/asan/), with the ASan runtime preloaded into lua5.4
# (.ci/lua-asan.sh). Any sanitizer report fails the suite, whatever the
# exit status.
busted_asan() {
    if [ ! -f build/asan/socket/smtp/core.so ]; then
        echo "not ok 1 - build/asan/socket/smtp/core.so is missing: run make asan"
        return 1
    fi
    out="$log_dir/busted-asan.out"
    .ci/lua-asan.sh /usr/bin/busted --output=TAP --exclude-tags=once \
        --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' --cpath='./build/asan/?.so' spec >"$out" 2>&1
    rc=$?
    cat "$out"
    report=$(sanitizer_report "$out")
    if [ -n "$report" ]; then
        printf '%s\n' "$report" | sed 's/^/# /'
        echo "not ok - sanitizer report in the busted suite under ASan (exit status $rc)"
        return 1
    fi
    return "$rc"
}

# The binding fuzzer (fuzz/bind/), briefly: the committed seeds, then
# random cases for BIND_FUZZ_SECONDS, under the ASan build. One TAP line.
bind_fuzz() {
    fuzz/bind/run.sh --tap --seconds "${BIND_FUZZ_SECONDS:-40}"
}

# The C tests again, without sanitizers, under valgrind's memcheck: one
# TAP line for the whole run (the tests themselves are counted above).
c_valgrind() {
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "ok 1 - # SKIP valgrind is not installed"
        return 0
    fi
    out=$(spec/c/run.sh --valgrind 2>&1)
    rc=$?
    n=$(printf '%s\n' "$out" | grep -c '^ok ')
    if [ "$rc" -eq 0 ]; then
        echo "ok 1 - C engine tests clean under valgrind ($n tests)"
    else
        printf '%s\n' "$out" | grep -E '^not ok|==[0-9]+==' | head -40
        echo "not ok 1 - C engine tests under valgrind"
    fi
}

# No global mutable state in the C code: every object file of the module
# has empty .data and .bss sections (tables are static const).
no_globals() {
    bad=0
    n=0
    for f in $(find build/5.4/obj build/jit/obj -name '*.o' 2>/dev/null | sort); do
        n=$((n + 1))
        w=$(size -A "$f" | awk '($1 == ".data" || $1 == ".bss") && $2 > 0 { print $1 "=" $2 }')
        if [ -n "$w" ]; then echo "# $f: $w"; bad=1; fi
    done
    # every source of src/sources.mk, for both builds (the objects sit in
    # per-layer directories: a glob of one directory would find none)
    want=$(( 2 * $(grep -o 'src/[A-Za-z0-9_/]*\.c' src/sources.mk | sort -u | wc -l) ))
    if [ "$n" -lt "$want" ]; then
        echo "not ok 1 - only $n object files found under build/5.4/obj and build/jit/obj, $want expected"
    elif [ "$bad" -eq 0 ]; then echo "ok 1 - no writable global data in the $n C objects"; else
        echo "not ok 1 - writable global data in the C objects"; fi
}

lint() {
    if luacheck --formatter=plain lua spec bench demo fuzz; then
        echo "ok 1 - luacheck"
    else
        echo "not ok 1 - luacheck"
    fi
}

bg_fuzz=0
if [ "${SMTP_NATIVE_SKIP_ASAN:-0}" != 1 ]; then
    suite_bg bind-fuzz bind_fuzz
    bg_fuzz=1
fi
if [ -x spec/c/run.sh ]; then
    suite_bg c-valgrind c_valgrind
    suite c-engine spec/c/run.sh
    suite_wait c-valgrind
fi
[ "$bg_fuzz" = 0 ] || suite_wait bind-fuzz
once=
for v in ${TEST_LUAS:-5.4 jit}; do
    if [ "$v" = jit ]; then suite luajit busted_run luajit jit $once
    else suite "lua$v" busted_run "lua$v" "$v" $once; fi
    once=--exclude-tags=once
done
if [ "${SMTP_NATIVE_SKIP_ASAN:-0}" != 1 ]; then
    suite lua5.4-asan busted_asan
else
    suite asan echo "ok 1 - # SKIP lua5.4-asan and bind-fuzz (SMTP_NATIVE_SKIP_ASAN=1)"
fi
suite globals no_globals
suite luacheck lint
suite docs .ci/docscov.sh

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
