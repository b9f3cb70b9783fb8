#!/bin/sh
# Install the Debian packages that smtp-native's build, tests, demo and
# benchmarks need, but only those that are missing. Non-interactive, and no
# system service is started: a policy-rc.d that refuses every start is put in
# place for the duration of the install when the host has none.
set -eu

PKGS="${PKGS:-gcc make pkg-config lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev \
lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev luarocks \
lua-socket lua-sec lua-busted lua-check lua-dkjson python3 python3-aiosmtpd postfix \
nginx-core libnginx-mod-http-lua openssl procps valgrind dovecot-core dovecot-submissiond}"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "deps: all present"
    exit 0
fi
echo "deps: installing:$missing"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "deps: need root (or sudo) to install:$missing" >&2; exit 1
    fi
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT INT TERM

export DEBIAN_FRONTEND=noninteractive
# Dovecot (dovecot-core, dovecot-submissiond): the specs run a private
# instance from spec/support/dovecot.py; the system one stays stopped.
# Postfix: ask nothing, configure nothing (we only use its smtp-sink binary).
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections

# An apt index that was never fetched (fresh machine) makes every install fail.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] \
   || ! $SUDO apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold $missing; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold $missing
fi
