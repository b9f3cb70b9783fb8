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
