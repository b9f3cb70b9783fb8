/* sasl_hash.c -- MD5, SHA-1, SHA-256, HMAC, PBKDF2; see sasl_hash.h. */
#include <string.h>
#include "sasl_hash.h"

/* ---- helpers ------------------------------------------------------------ */

/* memset called through a volatile pointer: the compiler cannot know it is
 * memset, so it cannot drop the call as a dead store (the idiom of
 * OpenSSL's OPENSSL_cleanse). The pointer itself is constant. */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

void sasl_wipe(void *p, size_t n)
{
    if (n > 0)
        wipe_memset(p, 0, n);
}

int sasl_memeq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;
    unsigned d = 0;
    size_t i;
    for (i = 0; i < n; i++)
        d |= (unsigned)(x[i] ^ y[i]);
    return d == 0;
}

static uint32_t rol(uint32_t x, unsigned s) { return (x << s) | (x >> (32 - s)); }
static uint32_t ror(uint32_t x, unsigned s) { return (x >> s) | (x << (32 - s)); }

static uint32_t get_le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint32_t get_be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static void put_le(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)x;
    p[1] = (unsigned char)(x >> 8);
    p[2] = (unsigned char)(x >> 16);
    p[3] = (unsigned char)(x >> 24);
}

static void put_be(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)(x >> 24);
    p[1] = (unsigned char)(x >> 16);
    p[2] = (unsigned char)(x >> 8);
    p[3] = (unsigned char)x;
}

/* ---- the shared Merkle-Damgard frame ------------------------------------
 * All three hashes take 64-byte blocks and end with the padding of RFC 1321
 * 3.1-3.2 / FIPS 180-4 5.1.1: a 1 bit, zeros up to 56 mod 64, then the
 * length in bits as 64 bits (little-endian for MD5, big-endian for SHA). */

typedef void (*block_fn)(uint32_t *h, const unsigned char *blk);

static void md_update(uint32_t *h, uint64_t *bytes, unsigned char *buf,
                      size_t *nbuf, const void *in, size_t n, block_fn block)
{
    const unsigned char *p = (const unsigned char *)in;
    *bytes += (uint64_t)n;
    if (*nbuf > 0) {
        size_t take = SASL_HASH_BLOCK - *nbuf;
        if (take > n)
            take = n;
        memcpy(buf + *nbuf, p, take);
        *nbuf += take;
        p += take;
        n -= take;
        if (*nbuf < SASL_HASH_BLOCK)
            return;
        block(h, buf);
        *nbuf = 0;
    }
    while (n >= SASL_HASH_BLOCK) {
        block(h, p);
        p += SASL_HASH_BLOCK;
        n -= SASL_HASH_BLOCK;
    }
    if (n > 0)
        memcpy(buf, p, n);
    *nbuf = n;
}

static void md_pad(uint32_t *h, uint64_t bytes, unsigned char *buf,
                   size_t nbuf, int bigendian, block_fn block)
{
    uint64_t bits = bytes << 3;
    int i;
    buf[nbuf++] = 0x80;
    if (nbuf > SASL_HASH_BLOCK - 8) {
        memset(buf + nbuf, 0, SASL_HASH_BLOCK - nbuf);
        block(h, buf);
        nbuf = 0;
    }
    memset(buf + nbuf, 0, SASL_HASH_BLOCK - 8 - nbuf);
    for (i = 0; i < 8; i++) {
        unsigned shift = bigendian ? (unsigned)(56 - 8 * i) : (unsigned)(8 * i);
        buf[SASL_HASH_BLOCK - 8 + i] = (unsigned char)(bits >> shift);
    }
    block(h, buf);
}

/* The digest: the words of h, little-endian (MD5) or big-endian (SHA). */
static void md_digest(const uint32_t *h, int words, int bigendian, unsigned char *out)
{
    int i;
    for (i = 0; i < words; i++) {
        if (bigendian)
            put_be(out + 4 * i, h[i]);
        else
            put_le(out + 4 * i, h[i]);
    }
}

/* ---- MD5 (RFC 1321 3.4) ------------------------------------------------- */

/* Each hash below has the same four public functions (init, update, final,
 * one-shot), alike in shape: one set a context type, as sasl_hash.h
 * declares them. The work they share is in md_update, md_pad, md_digest. */

/* T[i] = floor(2^32 * abs(sin(i + 1))) */
static const uint32_t md5_t[64] = {
    0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu,
    0xf57c0fafu, 0x4787c62au, 0xa8304613u, 0xfd469501u,
    0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu,
    0x6b901122u, 0xfd987193u, 0xa679438eu, 0x49b40821u,
    0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau,
    0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u,
    0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu,
    0xa9e3e905u, 0xfcefa3f8u, 0x676f02d9u, 0x8d2a4c8au,
    0xfffa3942u, 0x8771f681u, 0x6d9d6122u, 0xfde5380cu,
    0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u,
    0x289b7ec6u, 0xeaa127fau, 0xd4ef3085u, 0x04881d05u,
    0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u,
    0xf4292244u, 0x432aff97u, 0xab9423a7u, 0xfc93a039u,
    0x655b59c3u, 0x8f0ccc92u, 0xffeff47du, 0x85845dd1u,
    0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u,
    0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
};

/* Rotation amounts: four per round, repeated four times in each round. */
static const unsigned char md5_s[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

static void md5_block(uint32_t *h, const unsigned char *blk)
{
    uint32_t x[16], a = h[0], b = h[1], c = h[2], d = h[3];
    int i;
    for (i = 0; i < 16; i++)
        x[i] = get_le(blk + 4 * i);
    for (i = 0; i < 64; i++) {
        uint32_t f, t;
        int k, round = i / 16;
        switch (round) {
        case 0: f = (b & c) | (~b & d); k = i; break;
        case 1: f = (b & d) | (c & ~d); k = (5 * i + 1) % 16; break;
        case 2: f = b ^ c ^ d; k = (3 * i + 5) % 16; break;
        default: f = c ^ (b | ~d); k = (7 * i) % 16; break;
        }
        t = d;
        d = c;
        c = b;
        b = b + rol(a + f + x[k] + md5_t[i], md5_s[round][i % 4]);
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    sasl_wipe(x, sizeof x);
}

void sasl_md5_init(sasl_md5_ctx *c)
{
    c->h[0] = 0x67452301u;
    c->h[1] = 0xefcdab89u;
    c->h[2] = 0x98badcfeu;
    c->h[3] = 0x10325476u;
    c->bytes = 0;
    c->nbuf = 0;
}

void sasl_md5_update(sasl_md5_ctx *c, const void *p, size_t n)
{
    md_update(c->h, &c->bytes, c->buf, &c->nbuf, p, n, md5_block);
}

void sasl_md5_final(sasl_md5_ctx *c, unsigned char out[SASL_MD5_LEN])
{
    md_pad(c->h, c->bytes, c->buf, c->nbuf, 0, md5_block);
    md_digest(c->h, 4, 0, out);
    sasl_wipe(c, sizeof *c);
}

void sasl_md5(const void *p, size_t n, unsigned char out[SASL_MD5_LEN])
{
    sasl_md5_ctx c;
    sasl_md5_init(&c);
    sasl_md5_update(&c, p, n);
    sasl_md5_final(&c, out);
}

/* ---- SHA-1 (FIPS 180-4 6.1) --------------------------------------------- */

static void sha1_block(uint32_t *h, const unsigned char *blk)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    int t;
    for (t = 0; t < 16; t++)
        w[t] = get_be(blk + 4 * t);
    for (; t < 80; t++)
        w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
#define SHA1_ROUND(f, k)                                  \
    do {                                                  \
        uint32_t tmp = rol(a, 5) + (f) + e + (k) + w[t];  \
        e = d;                                            \
        d = c;                                            \
        c = rol(b, 30);                                   \
        b = a;                                            \
        a = tmp;                                          \
    } while (0)
    for (t = 0; t < 20; t++)
        SHA1_ROUND((b & c) ^ (~b & d), 0x5a827999u);         /* Ch */
    for (; t < 40; t++)
        SHA1_ROUND(b ^ c ^ d, 0x6ed9eba1u);                  /* Parity */
    for (; t < 60; t++)
        SHA1_ROUND((b & c) ^ (b & d) ^ (c & d), 0x8f1bbcdcu); /* Maj */
    for (; t < 80; t++)
        SHA1_ROUND(b ^ c ^ d, 0xca62c1d6u);                  /* Parity */
#undef SHA1_ROUND
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    sasl_wipe(w, sizeof w);
}

void sasl_sha1_init(sasl_sha1_ctx *c)
{
    c->h[0] = 0x67452301u;
    c->h[1] = 0xefcdab89u;
    c->h[2] = 0x98badcfeu;
    c->h[3] = 0x10325476u;
    c->h[4] = 0xc3d2e1f0u;
    c->bytes = 0;
    c->nbuf = 0;
}

void sasl_sha1_update(sasl_sha1_ctx *c, const void *p, size_t n)
{
    md_update(c->h, &c->bytes, c->buf, &c->nbuf, p, n, sha1_block);
}

void sasl_sha1_final(sasl_sha1_ctx *c, unsigned char out[SASL_SHA1_LEN])
{
    md_pad(c->h, c->bytes, c->buf, c->nbuf, 1, sha1_block);
    md_digest(c->h, 5, 1, out);
    sasl_wipe(c, sizeof *c);
}

void sasl_sha1(const void *p, size_t n, unsigned char out[SASL_SHA1_LEN])
{
    sasl_sha1_ctx c;
    sasl_sha1_init(&c);
    sasl_sha1_update(&c, p, n);
    sasl_sha1_final(&c, out);
}

/* ---- SHA-256 (FIPS 180-4 6.2) ------------------------------------------- */

/* The first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes (FIPS 180-4 4.2.2). */
static const uint32_t sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u,
    0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u,
    0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u,
    0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static void sha256_block(uint32_t *h, const unsigned char *blk)
{
    uint32_t w[64], v[8];
    int t;
    for (t = 0; t < 16; t++)
        w[t] = get_be(blk + 4 * t);
    for (; t < 64; t++) {
        uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = s1 + w[t - 7] + s0 + w[t - 16];
    }
    memcpy(v, h, sizeof v);
    for (t = 0; t < 64; t++) {
        /* v = a b c d e f g h */
        uint32_t S1 = ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25);
        uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
        uint32_t t1 = v[7] + S1 + ch + sha256_k[t] + w[t];
        uint32_t S0 = ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22);
        uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
        uint32_t t2 = S0 + maj;
        v[7] = v[6];
        v[6] = v[5];
        v[5] = v[4];
        v[4] = v[3] + t1;
        v[3] = v[2];
        v[2] = v[1];
        v[1] = v[0];
        v[0] = t1 + t2;
    }
    for (t = 0; t < 8; t++)
        h[t] += v[t];
    sasl_wipe(w, sizeof w);
    sasl_wipe(v, sizeof v);
}

void sasl_sha256_init(sasl_sha256_ctx *c)
{
    /* the fractional parts of the square roots of the first 8 primes */
    static const uint32_t iv[8] = {
        0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
        0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
    };
    memcpy(c->h, iv, sizeof iv);
    c->bytes = 0;
    c->nbuf = 0;
}

void sasl_sha256_update(sasl_sha256_ctx *c, const void *p, size_t n)
{
    md_update(c->h, &c->bytes, c->buf, &c->nbuf, p, n, sha256_block);
}

void sasl_sha256_final(sasl_sha256_ctx *c, unsigned char out[SASL_SHA256_LEN])
{
    md_pad(c->h, c->bytes, c->buf, c->nbuf, 1, sha256_block);
    md_digest(c->h, 8, 1, out);
    sasl_wipe(c, sizeof *c);
}

void sasl_sha256(const void *p, size_t n, unsigned char out[SASL_SHA256_LEN])
{
    sasl_sha256_ctx c;
    sasl_sha256_init(&c);
    sasl_sha256_update(&c, p, n);
    sasl_sha256_final(&c, out);
}

/* ---- run-time choice ---------------------------------------------------- */

size_t sasl_hash_len(sasl_hash_alg alg)
{
    switch (alg) {
    case SASL_HASH_MD5: return SASL_MD5_LEN;
    case SASL_HASH_SHA1: return SASL_SHA1_LEN;
    case SASL_HASH_SHA256: return SASL_SHA256_LEN;
    }
    return 0;
}

void sasl_hash_init(sasl_hash_ctx *c, sasl_hash_alg alg)
{
    c->alg = alg;
    switch (alg) {
    case SASL_HASH_MD5: sasl_md5_init(&c->u.md5); break;
    case SASL_HASH_SHA1: sasl_sha1_init(&c->u.sha1); break;
    case SASL_HASH_SHA256: sasl_sha256_init(&c->u.sha256); break;
    }
}

void sasl_hash_update(sasl_hash_ctx *c, const void *p, size_t n)
{
    switch (c->alg) {
    case SASL_HASH_MD5: sasl_md5_update(&c->u.md5, p, n); break;
    case SASL_HASH_SHA1: sasl_sha1_update(&c->u.sha1, p, n); break;
    case SASL_HASH_SHA256: sasl_sha256_update(&c->u.sha256, p, n); break;
    }
}

/* The digest of c into out, leaving c spent but not wiped (PBKDF2's inner
 * loop wipes its working contexts once, at the end). */
static void hash_final_keep(sasl_hash_ctx *c, unsigned char *out)
{
    switch (c->alg) {
    case SASL_HASH_MD5:
        md_pad(c->u.md5.h, c->u.md5.bytes, c->u.md5.buf, c->u.md5.nbuf, 0, md5_block);
        md_digest(c->u.md5.h, 4, 0, out);
        break;
    case SASL_HASH_SHA1:
        md_pad(c->u.sha1.h, c->u.sha1.bytes, c->u.sha1.buf, c->u.sha1.nbuf, 1, sha1_block);
        md_digest(c->u.sha1.h, 5, 1, out);
        break;
    case SASL_HASH_SHA256:
        md_pad(c->u.sha256.h, c->u.sha256.bytes, c->u.sha256.buf, c->u.sha256.nbuf, 1,
               sha256_block);
        md_digest(c->u.sha256.h, 8, 1, out);
        break;
    }
}

void sasl_hash_final(sasl_hash_ctx *c, unsigned char *out)
{
    hash_final_keep(c, out);
    sasl_wipe(c, sizeof *c);
}

void sasl_hash(sasl_hash_alg alg, const void *p, size_t n, unsigned char *out)
{
    sasl_hash_ctx c;
    sasl_hash_init(&c, alg);
    sasl_hash_update(&c, p, n);
    sasl_hash_final(&c, out);
}

/* ---- HMAC (RFC 2104 2) -------------------------------------------------- */

void sasl_hmac_init(sasl_hmac_ctx *c, sasl_hash_alg alg, const void *key,
                    size_t klen)
{
    unsigned char k[SASL_HASH_BLOCK], pad[SASL_HASH_BLOCK];
    size_t i;
    memset(k, 0, sizeof k);
    if (klen > SASL_HASH_BLOCK)
        sasl_hash(alg, key, klen, k); /* K = H(key), then zero-filled */
    else if (klen > 0)
        memcpy(k, key, klen);
    for (i = 0; i < SASL_HASH_BLOCK; i++)
        pad[i] = (unsigned char)(k[i] ^ 0x36);
    sasl_hash_init(&c->inner, alg);
    sasl_hash_update(&c->inner, pad, sizeof pad);
    for (i = 0; i < SASL_HASH_BLOCK; i++)
        pad[i] = (unsigned char)(k[i] ^ 0x5c);
    sasl_hash_init(&c->outer, alg);
    sasl_hash_update(&c->outer, pad, sizeof pad);
    sasl_wipe(k, sizeof k);
    sasl_wipe(pad, sizeof pad);
}

void sasl_hmac_update(sasl_hmac_ctx *c, const void *p, size_t n)
{
    sasl_hash_update(&c->inner, p, n);
}

void sasl_hmac_final(sasl_hmac_ctx *c, unsigned char *out)
{
    unsigned char ih[SASL_HASH_MAX_LEN];
    size_t n = sasl_hash_len(c->inner.alg);
    sasl_hash_final(&c->inner, ih);
    sasl_hash_update(&c->outer, ih, n);
    sasl_hash_final(&c->outer, out);
    sasl_wipe(ih, sizeof ih);
    sasl_wipe(c, sizeof *c);
}

void sasl_hmac(sasl_hash_alg alg, const void *key, size_t klen, const void *p,
               size_t n, unsigned char *out)
{
    sasl_hmac_ctx c;
    sasl_hmac_init(&c, alg, key, klen);
    sasl_hmac_update(&c, p, n);
    sasl_hmac_final(&c, out);
}

/* ---- PBKDF2 (RFC 8018 5.2) ---------------------------------------------- */

int sasl_pbkdf2(sasl_hash_alg alg, const void *pw, size_t pwlen,
                const void *salt, size_t saltlen, unsigned long iter,
                unsigned char *out, size_t dklen)
{
    sasl_hmac_ctx keyed, c;
    sasl_hash_ctx w;
    unsigned char u[SASL_HASH_MAX_LEN], t[SASL_HASH_MAX_LEN], ih[SASL_HASH_MAX_LEN],
        ctr[4];
    size_t hlen = sasl_hash_len(alg), done = 0;
    uint32_t block = 0;
    if (iter < 1 || dklen < 1 || hlen == 0 ||
        (dklen - 1) / hlen >= (size_t)0xffffffffu)
        return -1;
    /* key the PRF with P once; every U_j starts from a copy */
    sasl_hmac_init(&keyed, alg, pw, pwlen);
    while (done < dklen) {
        unsigned long j;
        size_t i, take = dklen - done < hlen ? dklen - done : hlen;
        block++;
        put_be(ctr, block);
        c = keyed; /* U_1 = PRF(P, S || INT(i)) */
        sasl_hmac_update(&c, salt, saltlen);
        sasl_hmac_update(&c, ctr, 4);
        sasl_hmac_final(&c, u);
        memcpy(t, u, hlen);
        for (j = 1; j < iter; j++) { /* U_j = PRF(P, U_{j-1}) */
            w = keyed.inner;
            sasl_hash_update(&w, u, hlen);
            hash_final_keep(&w, ih);
            w = keyed.outer;
            sasl_hash_update(&w, ih, hlen);
            hash_final_keep(&w, u);
            for (i = 0; i < hlen; i++)
                t[i] ^= u[i];
        }
        memcpy(out + done, t, take);
        done += take;
    }
    sasl_wipe(&keyed, sizeof keyed);
    sasl_wipe(&w, sizeof w);
    sasl_wipe(ih, sizeof ih);
    sasl_wipe(u, sizeof u);
    sasl_wipe(t, sizeof t);
    return 0;
}
