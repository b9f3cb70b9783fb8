#!/bin/sh
# Docs coverage (luv .ci/docscov.sh style): every name the C binding
# registers and every public field of socket.smtp and of its low-level
# object must have a heading in doc/. Prints TAP.
set -u
cd "$(dirname "$0")/.."
headings=$(grep -h '^###' doc/*.md)
missing=0
check() { # name, pattern
    if printf '%s\n' "$headings" | grep -q -- "$2"; then :; else
        echo "# no heading in doc/ for $1"
        missing=$((missing + 1))
    fi
}
# luaL_Reg entries of the binding
for name in $(sed -n 's/^ *{"\([a-z][a-z_]*\)", [a-z_]*},.*/\1/p' src/lua/l*.c); do
    check "$name" "[.:]$name("
done
# public fields of socket.smtp (functions and constants)
for name in $(sed -n 's/^_M\.\([A-Za-z_]*\) = .*/\1/p; s/^function _M\.\([a-z_]*\)(.*/\1/p' lua/smtp_native.lua); do
    check "smtp.$name" "smtp\.$name"
done
# methods of the low-level object
for name in $(sed -n 's/^function methods:\([a-z_]*\)(.*/\1/p' lua/smtp_native.lua); do
    check "s:$name" "s:$name("
done
if [ "$missing" -eq 0 ]; then echo "ok 1 - every public name is documented"; else
    echo "not ok 1 - $missing public names without a doc heading"; fi
if doc/gen_states.py --check >/dev/null; then echo "ok 2 - state diagram matches the transition table"; else
    echo "not ok 2 - doc/design.md state diagram is out of date (run doc/gen_states.py)"; fi
