# tools/engine-src.sh -- sourced by spec/c/run.sh and fuzz/run.sh.
# engine_src NAME... prints the path of each engine source named (by file
# name without .c), as src/sources.mk lists it: the one list of sources.
engine_src() {
    for _n in "$@"; do
        _p=$(grep -o "src/[a-z]*/$_n\.c" src/sources.mk | head -n 1)
        [ -n "$_p" ] || { echo "engine_src: $_n.c is not in src/sources.mk" >&2; return 1; }
        printf '%s ' "$_p"
    done
}
