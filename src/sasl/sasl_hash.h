/*
 * sasl_hash.h -- the digests SASL needs: MD5 (RFC 1321), SHA-1 and SHA-256
 * (FIPS 180-4), HMAC over each (RFC 2104) and PBKDF2-HMAC (RFC 8018 5.2).
 *
 * Written from the specifications for the SASL mechanisms of sasl.h; no
 * external crypto library. MD5 and SHA-1 are here only because CRAM-MD5,
 * DIGEST-MD5 and SCRAM-SHA-1 are defined over them.
 *
 * Every context is a plain fixed-size value: no allocation, no global
 * state, copy a context to fork a computation (an HMAC keyed once and
 * copied per message is how PBKDF2 avoids re-keying). The input of update
 * may be split anywhere; the digest does not depend on the split.
 * final() writes the digest and wipes the context (it may hold key
 * material); init it again to reuse it.
 *
 * sasl_wipe() clears memory in a way the compiler may not drop (stores
 * through a volatile pointer); sasl_memeq() compares in constant time.
 */
#ifndef SASL_HASH_H
#define SASL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SASL_MD5_LEN 16
#define SASL_SHA1_LEN 20
#define SASL_SHA256_LEN 32
#define SASL_HASH_MAX_LEN 32   /* the longest digest here */
#define SASL_HASH_BLOCK 64     /* block size of all three */

typedef enum {
    SASL_HASH_MD5 = 0,
    SASL_HASH_SHA1,
    SASL_HASH_SHA256
} sasl_hash_alg;

/* Shared shape of the three Merkle-Damgard contexts. */
typedef struct {
    uint32_t h[4];
    uint64_t bytes;                 /* message length so far */
    unsigned char buf[SASL_HASH_BLOCK];
    size_t nbuf;                    /* bytes waiting in buf */
} sasl_md5_ctx;

typedef struct {
    uint32_t h[5];
    uint64_t bytes;
    unsigned char buf[SASL_HASH_BLOCK];
    size_t nbuf;
} sasl_sha1_ctx;

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char buf[SASL_HASH_BLOCK];
    size_t nbuf;
} sasl_sha256_ctx;

void sasl_md5_init(sasl_md5_ctx *c);
void sasl_md5_update(sasl_md5_ctx *c, const void *p, size_t n);
void sasl_md5_final(sasl_md5_ctx *c, unsigned char out[SASL_MD5_LEN]);
void sasl_md5(const void *p, size_t n, unsigned char out[SASL_MD5_LEN]);

void sasl_sha1_init(sasl_sha1_ctx *c);
void sasl_sha1_update(sasl_sha1_ctx *c, const void *p, size_t n);
void sasl_sha1_final(sasl_sha1_ctx *c, unsigned char out[SASL_SHA1_LEN]);
void sasl_sha1(const void *p, size_t n, unsigned char out[SASL_SHA1_LEN]);

void sasl_sha256_init(sasl_sha256_ctx *c);
void sasl_sha256_update(sasl_sha256_ctx *c, const void *p, size_t n);
void sasl_sha256_final(sasl_sha256_ctx *c, unsigned char out[SASL_SHA256_LEN]);
void sasl_sha256(const void *p, size_t n, unsigned char out[SASL_SHA256_LEN]);

/* ---- any of the three, chosen at run time ------------------------------- */

typedef struct {
    sasl_hash_alg alg;
    union {
        sasl_md5_ctx md5;
        sasl_sha1_ctx sha1;
        sasl_sha256_ctx sha256;
    } u;
} sasl_hash_ctx;

/* Digest length of alg (16, 20 or 32); 0 for an unknown alg. */
size_t sasl_hash_len(sasl_hash_alg alg);
void sasl_hash_init(sasl_hash_ctx *c, sasl_hash_alg alg);
void sasl_hash_update(sasl_hash_ctx *c, const void *p, size_t n);
/* Writes sasl_hash_len(alg) bytes and wipes c. */
void sasl_hash_final(sasl_hash_ctx *c, unsigned char *out);
void sasl_hash(sasl_hash_alg alg, const void *p, size_t n, unsigned char *out);

/* ---- HMAC (RFC 2104) ---------------------------------------------------- */

typedef struct {
    sasl_hash_ctx inner; /* keyed with K ^ ipad, then the message */
    sasl_hash_ctx outer; /* keyed with K ^ opad */
} sasl_hmac_ctx;

/* A key longer than the block (64) is hashed first, as RFC 2104 says. */
void sasl_hmac_init(sasl_hmac_ctx *c, sasl_hash_alg alg, const void *key,
                    size_t klen);
void sasl_hmac_update(sasl_hmac_ctx *c, const void *p, size_t n);
/* Writes sasl_hash_len(alg) bytes and wipes c. */
void sasl_hmac_final(sasl_hmac_ctx *c, unsigned char *out);
void sasl_hmac(sasl_hash_alg alg, const void *key, size_t klen, const void *p,
               size_t n, unsigned char *out);

/* ---- PBKDF2 (RFC 8018 5.2) with HMAC-alg as the PRF --------------------- */

/* Derive dklen bytes into out. iter >= 1 and dklen >= 1, else -1 and out
 * untouched; 0 on success. (dklen is also bounded by (2^32 - 1) blocks,
 * far beyond any size_t a caller can pass for SCRAM.) The cost is 2 * iter
 * compressions per output block; the caller bounds iter. */
int sasl_pbkdf2(sasl_hash_alg alg, const void *pw, size_t pwlen,
                const void *salt, size_t saltlen, unsigned long iter,
                unsigned char *out, size_t dklen);

/* ---- helpers ------------------------------------------------------------ */

/* memset(p, 0, n) that the optimiser keeps (volatile stores). */
void sasl_wipe(void *p, size_t n);

/* 1 when a[0..n) == b[0..n), else 0; time depends on n only. */
int sasl_memeq(const void *a, const void *b, size_t n);

#endif
