#!/bin/sh
# spec/support/tls_certs.sh DIR
#
# Generates, with openssl, the test PKI that the TLS specs (issue #4) use.
# Everything lands in DIR (created if missing). All keys are EC P-256
# (fast; generating the whole set takes ~0.2 s). Leaf certificates are
# signed by the test CA unless noted otherwise.
#
#   ca.pem / ca.key               test CA ("smtp-native test CA"): the trust
#                                 anchor to give clients (cafile)
#   other_ca.pem / other_ca.key   a second CA that no client trusts
#   NAME.pem / NAME.key           one leaf certificate + key per NAME:
#
#   localhost      CN=localhost, SAN DNS:localhost, IP:127.0.0.1,
#                  IP:127.0.0.2, IP:::1. The good server certificate.
#   wrong_host     CN=wrong.example, SAN DNS:wrong.example
#   cn_ignored     CN=localhost, SAN DNS:wrong.example (a SAN exists, so
#                  the CN must NOT be used: fails for "localhost")
#   cn_only        CN=localhost, no subjectAltName at all (the CN may be
#                  used: passes for "localhost")
#   ip_only        CN=ip-only.test, SAN IP:127.0.0.1 only (passes for
#                  "127.0.0.1", fails for "localhost")
#   wildcard       CN=*.example.test, SAN DNS:*.example.test (passes for
#                  "mail.example.test"; fails for "example.test" and
#                  "a.mail.example.test")
#   wildcard_inner CN=mail.x.test, SAN DNS:mail.*.test (wildcard not in the
#                  left-most label: must fail for "mail.example.test")
#   expired        SAN as localhost, valid 2020-01-01 .. 2020-02-01
#   not_yet_valid  SAN as localhost, valid 2099-01-01 .. 2099-02-01
#   untrusted      SAN as localhost, but signed by other_ca
#   client         CN=client.test, extendedKeyUsage clientAuth (a client
#                  certificate for ssl = {certificate=, key=})
#
# Other good certificates are valid for 10 years from now. The expired and
# not-yet-valid ones are made with `openssl ca -startdate/-enddate`
# (OpenSSL 3.0 has no `x509 -not_before`).
#
# Idempotent: once DIR/.complete-v1 exists the script does nothing. Files
# are generated in a private work directory and moved into DIR before the
# stamp is written, under flock(1) on DIR/.lock, so concurrent runs on the
# same DIR are safe. Exit status 0 on success.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
DIR=$1
STAMP=.complete-v1
mkdir -p "$DIR"
[ -f "$DIR/$STAMP" ] && exit 0

exec 9>"$DIR/.lock"
flock 9
[ -f "$DIR/$STAMP" ] && exit 0

W=$(mktemp -d "$DIR/.work.XXXXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
umask 077

# A private openssl configuration: nothing from /etc/ssl/openssl.cnf or
# OPENSSL_CONF leaks in. The ext_* sections repeat their common lines on
# purpose: an openssl config section cannot include another.
cat > openssl.cnf <<'EOF'
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused

[ ca ]
default_ca = testca
[ testca ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied

[ ext_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ ext_localhost ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:127.0.0.2, IP:::1

[ ext_wrong_host ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:wrong.example

[ ext_ip_only ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1

[ ext_wildcard ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:*.example.test

[ ext_wildcard_inner ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:mail.*.test

[ ext_no_san ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ ext_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
export OPENSSL_CONF="$W/openssl.cnf"

newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
}

# selfsigned_ca NAME CN
selfsigned_ca() {
    newkey "$1"
    openssl req -new -x509 -config openssl.cnf -key "$1.key" -subj "/CN=$2" \
        -days 3650 -extensions ext_ca -set_serial 1 -out "$1.pem"
}

# leaf NAME CN EXTENSIONS ISSUER [openssl ca validity options...]
leaf() {
    name=$1 cn=$2 ext=$3 issuer=$4
    shift 4
    newkey "$name"
    openssl req -new -config openssl.cnf -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
    if [ $# -eq 0 ]; then
        set -- -days 3650
    fi
    rm -rf newcerts index.txt* serial*
    mkdir newcerts
    : > index.txt
    # A fresh random positive serial per certificate (8 bytes, 16 hex digits).
    printf '7f%s\n' "$(od -An -N7 -tx1 /dev/urandom | tr -d ' \n')" > serial
    if ! openssl ca -batch -config openssl.cnf -notext -cert "$issuer.pem" -keyfile "$issuer.key" \
            -in "$name.csr" -out "$name.pem" -extfile openssl.cnf -extensions "$ext" "$@" \
            > ca.log 2>&1; then
        cat ca.log >&2
        exit 1
    fi
    rm -f "$name.csr"
}

selfsigned_ca ca "smtp-native test CA"
selfsigned_ca other_ca "smtp-native untrusted CA"

leaf localhost      localhost         ext_localhost      ca
leaf wrong_host     wrong.example     ext_wrong_host     ca
leaf cn_ignored     localhost         ext_wrong_host     ca
leaf cn_only        localhost         ext_no_san         ca
leaf ip_only        ip-only.test      ext_ip_only        ca
leaf wildcard       '*.example.test'  ext_wildcard       ca
leaf wildcard_inner mail.x.test       ext_wildcard_inner ca
leaf expired        localhost         ext_localhost      ca \
    -startdate 20200101000000Z -enddate 20200201000000Z
leaf not_yet_valid  localhost         ext_localhost      ca \
    -startdate 20990101000000Z -enddate 20990201000000Z
leaf untrusted      localhost         ext_localhost      other_ca
leaf client         client.test       ext_client         ca

# Certificates are public; keys stay 0600 (the owner runs the servers).
chmod 644 ./*.pem
for f in ./*.pem ./*.key; do
    mv -f "$f" "$DIR/"
done
: > "$DIR/$STAMP"
