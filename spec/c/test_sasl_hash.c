/*
 * test_sasl_hash.c -- sasl_hash: MD5, SHA-1, SHA-256, HMAC, PBKDF2.
 *
 * The published vectors: RFC 1321 A.5 (MD5 suite), FIPS 180 "abc", the
 * two-block message and a million 'a' (SHA-1, SHA-256), RFC 2202 (HMAC-MD5,
 * HMAC-SHA1, cases 1-7), RFC 4231 (HMAC-SHA256, cases 1-7, case 5
 * truncated to 128 bits), RFC 6070 (PBKDF2-HMAC-SHA1; the 16,777,216-
 * iteration case only with SASL_SLOW_TESTS=1) and RFC 7914 11
 * (PBKDF2-HMAC-SHA256). Every expected value was also checked with
 * Python's hashlib/hmac.
 *
 * Each digest vector is hashed one-shot, through the run-time API, split
 * at every point into two updates, byte by byte and in random pieces; each
 * input sits against a guard page. Sweeps over many lengths (every padding
 * boundary, keys shorter and longer than a block, multi-block PBKDF2) are
 * folded into one SHA-256 and compared with spec/c/ref_sasl.py.
 *
 * Engines: sasl_hash.c
 */
#include "guard.h"
#include "tap.h"
#include "sasl/sasl_hash.h"

#define STR(s) s, sizeof(s) - 1

static guard g;

/* hex[0..2n) -> out[0..n) */
static size_t unhex(const char *hex, unsigned char *out)
{
    size_t n = strlen(hex) / 2, i;
    for (i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

static const char *alg_name(sasl_hash_alg a)
{
    return a == SASL_HASH_MD5 ? "MD5" : a == SASL_HASH_SHA1 ? "SHA-1" : "SHA-256";
}

/* The per-type streaming APIs behind one switch (the generic one is tested
 * separately, against them). */
typedef struct {
    sasl_hash_alg alg;
    sasl_md5_ctx md5;
    sasl_sha1_ctx sha1;
    sasl_sha256_ctx sha256;
} typed;

static void t_init(typed *t, sasl_hash_alg a)
{
    t->alg = a;
    if (a == SASL_HASH_MD5)
        sasl_md5_init(&t->md5);
    else if (a == SASL_HASH_SHA1)
        sasl_sha1_init(&t->sha1);
    else
        sasl_sha256_init(&t->sha256);
}

static void t_update(typed *t, const void *p, size_t n)
{
    if (t->alg == SASL_HASH_MD5)
        sasl_md5_update(&t->md5, p, n);
    else if (t->alg == SASL_HASH_SHA1)
        sasl_sha1_update(&t->sha1, p, n);
    else
        sasl_sha256_update(&t->sha256, p, n);
}

static void t_final(typed *t, unsigned char *out)
{
    if (t->alg == SASL_HASH_MD5)
        sasl_md5_final(&t->md5, out);
    else if (t->alg == SASL_HASH_SHA1)
        sasl_sha1_final(&t->sha1, out);
    else
        sasl_sha256_final(&t->sha256, out);
}

static void t_oneshot(sasl_hash_alg a, const void *p, size_t n, unsigned char *out)
{
    if (a == SASL_HASH_MD5)
        sasl_md5(p, n, out);
    else if (a == SASL_HASH_SHA1)
        sasl_sha1(p, n, out);
    else
        sasl_sha256(p, n, out);
}

/* ---- digests ------------------------------------------------------------ */

typedef struct {
    sasl_hash_alg alg;
    const char *in;
    size_t n;
    const char *hex;
} dvec;

static const dvec dvecs[] = {
    /* RFC 1321 A.5 */
    {SASL_HASH_MD5, STR(""), "d41d8cd98f00b204e9800998ecf8427e"},
    {SASL_HASH_MD5, STR("a"), "0cc175b9c0f1b6a831c399e269772661"},
    {SASL_HASH_MD5, STR("abc"), "900150983cd24fb0d6963f7d28e17f72"},
    {SASL_HASH_MD5, STR("message digest"), "f96b697d7cb7938d525a2f31aaf161d0"},
    {SASL_HASH_MD5, STR("abcdefghijklmnopqrstuvwxyz"),
     "c3fcd3d76192e4007dfb496cca67e13b"},
    {SASL_HASH_MD5,
     STR("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {SASL_HASH_MD5,
     STR("1234567890123456789012345678901234567890"
         "1234567890123456789012345678901234567890"),
     "57edf4a22be3c955ac49da2e2107b67a"},
    /* FIPS 180 examples */
    {SASL_HASH_SHA1, STR(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {SASL_HASH_SHA1, STR("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {SASL_HASH_SHA1, STR("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {SASL_HASH_SHA256, STR(""),
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {SASL_HASH_SHA256, STR("abc"),
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {SASL_HASH_SHA256,
     STR("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_digest_vectors(void)
{
    size_t v;
    for (v = 0; v < sizeof dvecs / sizeof dvecs[0]; v++) {
        const dvec *d = &dvecs[v];
        size_t hl = sasl_hash_len(d->alg), cut, k, bad = 0;
        unsigned char exp[SASL_HASH_MAX_LEN], got[SASL_HASH_MAX_LEN];
        const char *in = guard_put(&g, d->in, d->n);
        sasl_hash_ctx hc;
        typed t;
        unhex(d->hex, exp);

        t_oneshot(d->alg, in, d->n, got);
        is_mem(got, hl, exp, hl, "%s(\"%.20s\") one-shot", alg_name(d->alg), d->in);
        sasl_hash(d->alg, in, d->n, got);
        is_mem(got, hl, exp, hl, "%s(\"%.20s\") sasl_hash", alg_name(d->alg), d->in);

        /* two updates, split at every point; and the generic API */
        for (cut = 0; cut <= d->n; cut++) {
            t_init(&t, d->alg);
            t_update(&t, in, cut);
            t_update(&t, in + cut, d->n - cut);
            t_final(&t, got);
            if (memcmp(got, exp, hl) != 0)
                bad++;
            sasl_hash_init(&hc, d->alg);
            sasl_hash_update(&hc, in, cut);
            sasl_hash_update(&hc, in + cut, d->n - cut);
            sasl_hash_final(&hc, got);
            if (memcmp(got, exp, hl) != 0)
                bad++;
        }
        is_int(bad, 0, "%s(\"%.20s\") split at each of %lu points",
               alg_name(d->alg), d->in, (unsigned long)d->n + 1);

        /* byte by byte, each byte against the guard */
        t_init(&t, d->alg);
        t_update(&t, "", 0);
        for (k = 0; k < d->n; k++)
            t_update(&t, guard_put(&g, d->in + k, 1), 1);
        t_final(&t, got);
        is_mem(got, hl, exp, hl, "%s(\"%.20s\") byte by byte", alg_name(d->alg), d->in);
    }
}

/* A million 'a' in random pieces (FIPS 180 third example). */
static void test_million(void)
{
    static const struct {
        sasl_hash_alg alg;
        const char *hex;
    } m[] = {
        {SASL_HASH_SHA1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
        {SASL_HASH_SHA256,
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
        {SASL_HASH_MD5, "7707d6ae4e027c70eea2a935c2296f21"}, /* hashlib */
    };
    size_t i;
    char *buf = malloc(1000000);
    memset(buf, 'a', 1000000);
    for (i = 0; i < sizeof m / sizeof m[0]; i++) {
        unsigned char exp[SASL_HASH_MAX_LEN], got[SASL_HASH_MAX_LEN];
        size_t hl = sasl_hash_len(m[i].alg), done = 0;
        typed t;
        unhex(m[i].hex, exp);
        t_oneshot(m[i].alg, buf, 1000000, got);
        is_mem(got, hl, exp, hl, "%s(a x 1e6) one-shot", alg_name(m[i].alg));
        t_init(&t, m[i].alg);
        while (done < 1000000) {
            size_t n = tap_below(300);
            if (n > 1000000 - done)
                n = 1000000 - done;
            t_update(&t, buf + done, n);
            done += n;
        }
        t_final(&t, got);
        is_mem(got, hl, exp, hl, "%s(a x 1e6) in random pieces of 0-299 bytes",
               alg_name(m[i].alg));
    }
    free(buf);
}

/* Lengths 0..300: every split against one-shot; random pieces. */
static void test_streaming_sweep(void)
{
    unsigned char pat[300];
    sasl_hash_alg a;
    size_t i;
    for (i = 0; i < sizeof pat; i++)
        pat[i] = (unsigned char)(i * 131 + 7);
    for (a = SASL_HASH_MD5; a <= SASL_HASH_SHA256; a++) {
        size_t hl = sasl_hash_len(a), n, bad = 0;
        for (n = 0; n <= sizeof pat; n += (n < 140 ? 1 : 7)) {
            unsigned char one[SASL_HASH_MAX_LEN], got[SASL_HASH_MAX_LEN];
            const char *in = guard_put(&g, pat, n);
            size_t cut;
            t_oneshot(a, in, n, one);
            for (cut = 0; cut <= n; cut++) {
                typed t;
                t_init(&t, a);
                t_update(&t, in, cut);
                t_update(&t, in + cut, n - cut);
                t_final(&t, got);
                bad += memcmp(got, one, hl) != 0;
            }
            {
                typed t;
                size_t done = 0;
                t_init(&t, a);
                while (done < n) {
                    size_t k = 1 + tap_below(n - done);
                    t_update(&t, in + done, k);
                    done += k;
                }
                t_final(&t, got);
                bad += memcmp(got, one, hl) != 0;
            }
        }
        is_int(bad, 0, "%s: lengths 0-300, split at every point and at random == one-shot",
               alg_name(a));
    }
}

/* ---- the sweeps against Python (spec/c/ref_sasl.py) ---------------- */

typedef struct {
    sasl_hash_alg alg;
    const char *digest, *hmac, *pbkdf2;
} sweep_ref;

/* Generated by spec/c/ref_sasl.py (hashlib, hmac). */
static const sweep_ref sweep_refs[] = {
    {SASL_HASH_MD5, "7da9a6efd97813ac220494bd0b5f51c7fa07959f52a1495996db5cfc8be472f3", "783b67b1089866e9f6392b7e9b30151df1b1b460852de99efaf8477df366353e", "2dc010b694389df1a2c366b3c84b745eed3ffc4b588d000df02b7677fe2f908b"},
    {SASL_HASH_SHA1, "1a3828d1d5b9d58dbef7b9cda32e27c58d7ab383b55e1ad473c5debcd815ae58", "ec3293ad69d83eb9b86ff5b340c42e9a233051cb8f0568af7753c980f079d88f", "9060d50c353b850ef9dd102959a95d522dcdf6ec6f9b2289ccf341a5d2f65b80"},
    {SASL_HASH_SHA256, "7722024365d27836079cbf29de35d060b9383d7c713083199661392f983216d4", "d36ad757998d949195da2d32de2b64d7aba6056e49fc2fd87e5f5d007a870f84", "0fcd80cd5b78d7ecab495f061e433a360424f5d009f900c79cfd97805f7314fb"},
};

static void test_sweeps(void)
{
    unsigned char pat[1024];
    size_t i, r;
    for (i = 0; i < sizeof pat; i++)
        pat[i] = (unsigned char)(i * 131 + 7);
    for (r = 0; r < sizeof sweep_refs / sizeof sweep_refs[0]; r++) {
        sasl_hash_alg a = sweep_refs[r].alg;
        size_t hl = sasl_hash_len(a), n, k, d;
        unsigned char exp[32], got[32], h[SASL_HASH_MAX_LEN], dk[70];
        sasl_sha256_ctx acc;

        sasl_sha256_init(&acc);
        for (n = 0; n <= 300; n++) {
            sasl_hash(a, guard_put(&g, pat, n), n, h);
            sasl_sha256_update(&acc, h, hl);
        }
        sasl_sha256_final(&acc, got);
        unhex(sweep_refs[r].digest, exp);
        is_mem(got, 32, exp, 32, "%s of lengths 0-300 == hashlib", alg_name(a));

        sasl_sha256_init(&acc);
        for (k = 0; k <= 150; k++) {
            size_t mlen = (7 * k) % 200;
            sasl_hmac(a, pat, k, pat + k, mlen, h);
            sasl_sha256_update(&acc, h, hl);
        }
        sasl_sha256_final(&acc, got);
        unhex(sweep_refs[r].hmac, exp);
        is_mem(got, 32, exp, 32, "HMAC-%s, keys of 0-150 bytes == Python hmac",
               alg_name(a));

        sasl_sha256_init(&acc);
        for (d = 1; d <= 70; d++) {
            int rc = sasl_pbkdf2(a, pat, d % 20, pat + d, d % 17, d % 3 + 1, dk, d);
            if (rc != 0)
                break;
            sasl_sha256_update(&acc, dk, d);
        }
        sasl_sha256_final(&acc, got);
        unhex(sweep_refs[r].pbkdf2, exp);
        is_mem(got, 32, exp, 32, "PBKDF2-HMAC-%s, lengths 1-70 == hashlib.pbkdf2_hmac",
               alg_name(a));
    }
}

/* ---- HMAC --------------------------------------------------------------- */

typedef struct {
    sasl_hash_alg alg;
    const char *name;
    int keybyte;   /* key: klen copies of keybyte, or keyhex/keystr */
    size_t klen;
    const char *keystr;
    int databyte;  /* data: dlen copies of databyte, or datastr */
    size_t dlen;
    const char *datastr;
    const char *hex; /* may be truncated (RFC 4231 case 5, RFC 2202 case 5) */
} hvec;

#define K01_25 -1 /* key 0x01 0x02 ... 0x19 */

static const hvec hvecs[] = {
    /* RFC 2202 2: HMAC-MD5 */
    {SASL_HASH_MD5, "RFC 2202 MD5 1", 0x0b, 16, NULL, 0, 0, "Hi There",
     "9294727a3638bb1c13f48ef8158bfc9d"},
    {SASL_HASH_MD5, "RFC 2202 MD5 2", 0, 0, "Jefe", 0, 0,
     "what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"},
    {SASL_HASH_MD5, "RFC 2202 MD5 3", 0xaa, 16, NULL, 0xdd, 50, NULL,
     "56be34521d144c88dbb8c733f0e8b3f6"},
    {SASL_HASH_MD5, "RFC 2202 MD5 4", K01_25, 25, NULL, 0xcd, 50, NULL,
     "697eaf0aca3a3aea3a75164746ffaa79"},
    {SASL_HASH_MD5, "RFC 2202 MD5 5", 0x0c, 16, NULL, 0, 0, "Test With Truncation",
     "56461ef2342edc00f9bab995690efd4c"},
    {SASL_HASH_MD5, "RFC 2202 MD5 6", 0xaa, 80, NULL, 0, 0,
     "Test Using Larger Than Block-Size Key - Hash Key First",
     "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
    {SASL_HASH_MD5, "RFC 2202 MD5 7", 0xaa, 80, NULL, 0, 0,
     "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
     "6f630fad67cda0ee1fb1f562db3aa53e"},
    /* RFC 2202 3: HMAC-SHA1 */
    {SASL_HASH_SHA1, "RFC 2202 SHA1 1", 0x0b, 20, NULL, 0, 0, "Hi There",
     "b617318655057264e28bc0b6fb378c8ef146be00"},
    {SASL_HASH_SHA1, "RFC 2202 SHA1 2", 0, 0, "Jefe", 0, 0,
     "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
    {SASL_HASH_SHA1, "RFC 2202 SHA1 3", 0xaa, 20, NULL, 0xdd, 50, NULL,
     "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
    {SASL_HASH_SHA1, "RFC 2202 SHA1 4", K01_25, 25, NULL, 0xcd, 50, NULL,
     "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
    {SASL_HASH_SHA1, "RFC 2202 SHA1 5", 0x0c, 20, NULL, 0, 0, "Test With Truncation",
     "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
    {SASL_HASH_SHA1, "RFC 2202 SHA1 6", 0xaa, 80, NULL, 0, 0,
     "Test Using Larger Than Block-Size Key - Hash Key First",
     "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
    {SASL_HASH_SHA1, "RFC 2202 SHA1 7", 0xaa, 80, NULL, 0, 0,
     "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
     "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
    /* RFC 4231 4.2-4.8: HMAC-SHA256 */
    {SASL_HASH_SHA256, "RFC 4231 case 1", 0x0b, 20, NULL, 0, 0, "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {SASL_HASH_SHA256, "RFC 4231 case 2", 0, 0, "Jefe", 0, 0,
     "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {SASL_HASH_SHA256, "RFC 4231 case 3", 0xaa, 20, NULL, 0xdd, 50, NULL,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {SASL_HASH_SHA256, "RFC 4231 case 4", K01_25, 25, NULL, 0xcd, 50, NULL,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {SASL_HASH_SHA256, "RFC 4231 case 5 (128 bits)", 0x0c, 20, NULL, 0, 0,
     "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
    {SASL_HASH_SHA256, "RFC 4231 case 6", 0xaa, 131, NULL, 0, 0,
     "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {SASL_HASH_SHA256, "RFC 4231 case 7", 0xaa, 131, NULL, 0, 0,
     "This is a test using a larger than block-size key and a larger than "
     "block-size data. The key needs to be hashed before being used by the "
     "HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static void test_hmac_vectors(void)
{
    size_t v;
    for (v = 0; v < sizeof hvecs / sizeof hvecs[0]; v++) {
        const hvec *h = &hvecs[v];
        unsigned char key[200], data[200], exp[SASL_HASH_MAX_LEN],
            got[SASL_HASH_MAX_LEN];
        size_t klen, dlen, elen = unhex(h->hex, exp), cut, bad = 0;
        const char *dp;
        sasl_hmac_ctx c;
        if (h->keystr != NULL) {
            klen = strlen(h->keystr);
            memcpy(key, h->keystr, klen);
        } else {
            klen = h->klen;
            for (cut = 0; cut < klen; cut++)
                key[cut] = (unsigned char)(h->keybyte == K01_25 ? cut + 1 : (size_t)h->keybyte);
        }
        if (h->datastr != NULL) {
            dlen = strlen(h->datastr);
            memcpy(data, h->datastr, dlen);
        } else {
            dlen = h->dlen;
            memset(data, h->databyte, dlen);
        }
        dp = guard_put(&g, data, dlen);
        sasl_hmac(h->alg, key, klen, dp, dlen, got);
        is_mem(got, elen, exp, elen, "HMAC %s", h->name);
        for (cut = 0; cut <= dlen; cut++) {
            sasl_hmac_init(&c, h->alg, key, klen);
            sasl_hmac_update(&c, dp, cut);
            sasl_hmac_update(&c, dp + cut, dlen - cut);
            sasl_hmac_final(&c, got);
            bad += memcmp(got, exp, elen) != 0;
        }
        is_int(bad, 0, "HMAC %s streamed, split at each of %lu points", h->name,
               (unsigned long)dlen + 1);
    }
}

/* ---- PBKDF2 ------------------------------------------------------------- */

typedef struct {
    sasl_hash_alg alg;
    const char *name;
    const char *pw;
    size_t pwlen;
    const char *salt;
    size_t saltlen;
    unsigned long iter;
    size_t dklen;
    const char *hex;
    int slow;
} pvec;

static const pvec pvecs[] = {
    /* RFC 6070 2 */
    {SASL_HASH_SHA1, "RFC 6070 1", STR("password"), STR("salt"), 1, 20,
     "0c60c80f961f0e71f3a9b524af6012062fe037a6", 0},
    {SASL_HASH_SHA1, "RFC 6070 2", STR("password"), STR("salt"), 2, 20,
     "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957", 0},
    {SASL_HASH_SHA1, "RFC 6070 3", STR("password"), STR("salt"), 4096, 20,
     "4b007901b765489abead49d926f721d065a429c1", 0},
    {SASL_HASH_SHA1, "RFC 6070 4", STR("password"), STR("salt"), 16777216, 20,
     "eefe3d61cd4da4e4e9945b3d6ba2158c2634e984", 1},
    {SASL_HASH_SHA1, "RFC 6070 5", STR("passwordPASSWORDpassword"),
     STR("saltSALTsaltSALTsaltSALTsaltSALTsalt"), 4096, 25,
     "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038", 0},
    {SASL_HASH_SHA1, "RFC 6070 6", STR("pass\0word"), STR("sa\0lt"), 4096, 16,
     "56fa6aa75548099dcc37d7f03425e0c3", 0},
    /* RFC 7914 11 */
    {SASL_HASH_SHA256, "RFC 7914 1", STR("passwd"), STR("salt"), 1, 64,
     "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
     "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783", 0},
    {SASL_HASH_SHA256, "RFC 7914 2", STR("Password"), STR("NaCl"), 80000, 64,
     "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
     "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d", 0},
};

static void test_pbkdf2(void)
{
    const char *slow = getenv("SASL_SLOW_TESTS");
    size_t v;
    unsigned char out[64], exp[64];
    for (v = 0; v < sizeof pvecs / sizeof pvecs[0]; v++) {
        const pvec *p = &pvecs[v];
        size_t elen = unhex(p->hex, exp);
        int rc;
        if (p->slow && (slow == NULL || strcmp(slow, "1") != 0)) {
            /* not a test that passed: a note, and no "ok" line */
            diag("PBKDF2 %s (%lu iterations) not run: set SASL_SLOW_TESTS=1 to run it",
                 p->name, p->iter);
            continue;
        }
        memset(out, 0x55, sizeof out);
        rc = sasl_pbkdf2(p->alg, p->pw, p->pwlen, p->salt, p->saltlen, p->iter,
                         out, p->dklen);
        is_int(rc, 0, "PBKDF2 %s returns 0", p->name);
        is_mem(out, p->dklen, exp, elen, "PBKDF2 %s", p->name);
        ok(p->dklen == sizeof out || out[p->dklen] == 0x55,
           "PBKDF2 %s writes exactly dkLen bytes", p->name);
    }
    memset(out, 0x55, sizeof out);
    is_int(sasl_pbkdf2(SASL_HASH_SHA256, "p", 1, "s", 1, 0, out, 32), -1,
           "PBKDF2 refuses 0 iterations");
    is_int(sasl_pbkdf2(SASL_HASH_SHA256, "p", 1, "s", 1, 1, out, 0), -1,
           "PBKDF2 refuses dkLen 0");
    is_int(sasl_pbkdf2((sasl_hash_alg)7, "p", 1, "s", 1, 1, out, 1), -1,
           "PBKDF2 refuses an unknown hash");
    ok(out[0] == 0x55, "a refused PBKDF2 leaves the output untouched");
    /* empty password and empty salt are allowed (hashlib agrees) */
    is_int(sasl_pbkdf2(SASL_HASH_SHA1, "", 0, "", 0, 2, out, 20), 0,
           "PBKDF2 with an empty password and salt");
    unhex("620c000a06fed9c10bca11516b3ac0228d671700", exp);
    is_mem(out, 20, exp, 20, "PBKDF2-HMAC-SHA1('', '', 2) == hashlib");
}

/* ---- helpers, generic API ----------------------------------------------- */

static void test_helpers(void)
{
    unsigned char a[40], b[40];
    sasl_hmac_ctx h;
    size_t i, allzero = 1;
    memset(a, 0xa5, sizeof a);
    sasl_wipe(a, sizeof a);
    for (i = 0; i < sizeof a; i++)
        allzero &= a[i] == 0;
    ok(allzero, "sasl_wipe zeroes every byte");
    sasl_wipe(a, 0);
    memset(a, 1, sizeof a);
    memcpy(b, a, sizeof b);
    ok(sasl_memeq(a, b, sizeof a), "sasl_memeq: equal");
    ok(sasl_memeq(a, b, 0), "sasl_memeq: empty");
    b[39] ^= 0x80;
    ok(!sasl_memeq(a, b, sizeof a), "sasl_memeq: last byte differs");
    b[39] ^= 0x80;
    b[0] ^= 1;
    ok(!sasl_memeq(a, b, sizeof a), "sasl_memeq: first byte differs");
    is_int(sasl_hash_len(SASL_HASH_MD5), 16, "MD5 length");
    is_int(sasl_hash_len(SASL_HASH_SHA1), 20, "SHA-1 length");
    is_int(sasl_hash_len(SASL_HASH_SHA256), 32, "SHA-256 length");
    is_int(sasl_hash_len((sasl_hash_alg)9), 0, "unknown hash: length 0");

    /* final wipes the context (it holds the keyed pads) */
    sasl_hmac_init(&h, SASL_HASH_SHA256, "key", 3);
    sasl_hmac_update(&h, "msg", 3);
    sasl_hmac_final(&h, a);
    {
        const unsigned char *p = (const unsigned char *)&h;
        size_t nz = 0;
        for (i = 0; i < sizeof h; i++)
            nz += p[i] != 0;
        is_int(nz, 0, "sasl_hmac_final wipes its context");
    }
    /* a keyed HMAC context can be copied to fork a computation */
    {
        sasl_hmac_ctx base, c1;
        unsigned char x[32], y[32];
        sasl_hmac_init(&base, SASL_HASH_SHA1, "k", 1);
        c1 = base;
        sasl_hmac_update(&c1, "one", 3);
        sasl_hmac_final(&c1, x);
        sasl_hmac(SASL_HASH_SHA1, "k", 1, "one", 3, y);
        is_mem(x, 20, y, 20, "a copied HMAC context gives the same MAC");
        c1 = base;
        sasl_hmac_update(&c1, "two", 3);
        sasl_hmac_final(&c1, x);
        sasl_hmac(SASL_HASH_SHA1, "k", 1, "two", 3, y);
        is_mem(x, 20, y, 20, "and so does a second copy");
        sasl_wipe(&base, sizeof base);
    }
}

int main(void)
{
    tap_seed();
    guard_init(&g, 4096);
    test_digest_vectors();
    test_million();
    test_streaming_sweep();
    test_sweeps();
    test_hmac_vectors();
    test_pbkdf2();
    test_helpers();
    guard_free(&g);
    return done_testing();
}
