#!/usr/bin/python3
"""
ref_sasl.py -- reference values for test_sasl_hash.c and test_sasl.c,
computed with Python's hashlib, hmac and base64 (independent of
src/sasl/sasl_hash.c and src/sasl/sasl.c). Prints them as C; paste them into the
tests when a case changes.

    /usr/bin/python3 spec/c/ref_sasl.py

1. test_sasl_hash.c: sweeps. Each sweep hashes many inputs and folds the
results into one SHA-256, so that one 32-byte constant covers every
padding boundary:

  digest   SHA-256 of H(pat[0..L)) for L = 0..300
  hmac     SHA-256 of HMAC(key = pat[0..k), msg = pat[k..k + (7k % 200)))
           for k = 0..150 (keys below, at and above the 64-byte block)
  pbkdf2   SHA-256 of PBKDF2(pw = pat[0..d % 20), salt = pat[d..d + d % 17),
           iterations d % 3 + 1, length d) for d = 1..70 (several blocks)

with pat[i] = (i * 131 + 7) mod 256, for MD5, SHA-1 and SHA-256.

2. test_sasl.c: the exchanges that no RFC publishes (DIGEST-MD5 with an
escaped nonce, an authzid and the default service; with non-ASCII
credentials converted to ISO 8859-1 as RFC 2831 2.1.2.1 asks; SCRAM with a
user name and authzid that need saslname escaping, and an extension).
"""
import base64
import hashlib
import hmac

PAT = bytes((i * 131 + 7) & 0xFF for i in range(1024))
ALGS = [("SASL_HASH_MD5", "md5"), ("SASL_HASH_SHA1", "sha1"),
        ("SASL_HASH_SHA256", "sha256")]


def digest_sweep(name):
    acc = hashlib.sha256()
    for n in range(0, 301):
        acc.update(hashlib.new(name, PAT[:n]).digest())
    return acc.hexdigest()


def hmac_sweep(name):
    acc = hashlib.sha256()
    for k in range(0, 151):
        acc.update(hmac.new(PAT[:k], PAT[k:k + (7 * k) % 200], name).digest())
    return acc.hexdigest()


def pbkdf2_sweep(name):
    acc = hashlib.sha256()
    for d in range(1, 71):
        acc.update(hashlib.pbkdf2_hmac(name, PAT[:d % 20], PAT[d:d + d % 17],
                                       d % 3 + 1, d))
    return acc.hexdigest()


def digest_md5(user, pw, realm, nonce, cnonce, uri, authzid=b""):
    """(response, rspauth) of RFC 2831 2.1.2.1 / 2.1.3, qop=auth, nc=1.
    Each of user, realm, password is hashed as ISO 8859-1 when it can be."""
    def l1(b):
        try:
            return b.decode("utf-8").encode("latin-1")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return b

    def h(s):
        return hashlib.md5(s).digest()

    def hexh(s):
        return hashlib.md5(s).hexdigest().encode()

    a1 = h(l1(user) + b":" + l1(realm) + b":" + l1(pw)) + b":" + nonce + \
        b":" + cnonce + (b":" + authzid if authzid else b"")
    ha1 = hexh(a1)

    def kd(a2):
        return hexh(ha1 + b":" + nonce + b":00000001:" + cnonce + b":auth:" +
                    hexh(a2)).decode()
    return kd(b"AUTHENTICATE:" + uri), kd(b":" + uri)


def scram(name, user, authzid, pw, cnonce, server_first):
    """(client-first, client-final, server-final) of RFC 5802."""
    def esc(s):
        return s.replace("=", "=3D").replace(",", "=2C")
    gs2 = "n," + ("a=" + esc(authzid) if authzid else "") + ","
    attrs = dict(x.split("=", 1) for x in server_first.split(","))
    sp = hashlib.pbkdf2_hmac(name, pw, base64.b64decode(attrs["s"]),
                             int(attrs["i"]))
    ck = hmac.new(sp, b"Client Key", name).digest()
    sk = hashlib.new(name, ck).digest()
    bare = "n=%s,r=%s" % (esc(user), cnonce)
    final = "c=%s,r=%s" % (base64.b64encode(gs2.encode()).decode(),
                           attrs["r"])
    am = (bare + "," + server_first + "," + final).encode()
    sig = hmac.new(sk, am, name).digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    ss = hmac.new(hmac.new(sp, b"Server Key", name).digest(), am,
                  name).digest()
    return (gs2 + bare, final + ",p=" + base64.b64encode(proof).decode(),
            "v=" + base64.b64encode(ss).decode())


def main():
    print("/* test_sasl_hash.c */")
    print("static const sweep_ref sweep_refs[] = {")
    for cname, name in ALGS:
        print("    {%s, \"%s\", \"%s\", \"%s\"}," % (
            cname, digest_sweep(name), hmac_sweep(name), pbkdf2_sweep(name)))
    print("};")
    print("/* test_sasl.c */")
    uri = b"smtp/mail.example.org"
    cn = b"OA6MHXh6VqTrRk"
    print("escaped nonce, authzid:", digest_md5(
        b"chris", b"secret", b"", b'a"b\\c', cn, uri, b"admin"))
    print("latin-1:", digest_md5("j\u00f6s\u00e9".encode(),
                                 "p\u00e4ssw\u00f6rd".encode(),
                                 b"example.org", b"n0nce", cn, uri))
    print("not latin-1 user:", digest_md5("j\u20acs\u00e9".encode(),
                                          "p\u00e4ssw\u00f6rd".encode(),
                                          b"example.org", b"n0nce", cn, uri))
    for line in scram("sha256", "u=s,er", "adm,in", b"pencil",
                      "rOprNGfwEbeRWgbNEkqO",
                      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
                      "i=1,x=ext"):
        print("scram escaped:", line)


if __name__ == "__main__":
    main()
