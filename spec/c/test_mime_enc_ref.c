/*
 * test_mime_enc_ref.c -- mime_enc byte for byte against reference encoders.
 *
 * Run without arguments (as spec/c/run.sh does) it hands over to
 * spec/c/ref_enc.py, which prints the TAP: that script makes random inputs,
 * encodes them with this same binary in its tool mode, and compares the
 * results with Python's base64/quopri and LuaSocket's mime (see there).
 *
 * Tool mode:
 *
 *   test_mime_enc_ref encode KIND SEED SUFFIX FILE...
 *
 * encodes each FILE into FILE.SUFFIX. KIND is b64:LINELEN, qp (text),
 * qp:binary, qp:safe, qp:binary,safe or eol. SEED 0 feeds each file whole
 * into an output with room for mime_X_bound; any other SEED splits the
 * input at random points and gives random output room (at least
 * MIME_ENC_MIN_CAP), as the fuzzer and the unit tests do.
 *
 * Engines: mime_enc.c
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime/mime_enc.h"

#ifndef REF_PYTHON
#define REF_PYTHON "/usr/bin/python3"
#endif
#ifndef REF_SCRIPT
#define REF_SCRIPT "spec/c/ref_enc.py"
#endif

typedef struct {
    int kind; /* 'b', 'q', 'e' */
    union {
        mime_b64 b64;
        mime_qp qp;
        mime_eol eol;
    } u;
} enc;

static unsigned long long rng;

static unsigned long long next_rand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static int enc_init(enc *e, const char *kind)
{
    if (strncmp(kind, "b64:", 4) == 0) {
        e->kind = 'b';
        mime_b64_init(&e->u.b64, (unsigned)strtoul(kind + 4, NULL, 10));
    } else if (strncmp(kind, "qp", 2) == 0) {
        unsigned flags = 0;
        e->kind = 'q';
        if (strstr(kind, "binary"))
            flags |= MIME_QP_BINARY;
        if (strstr(kind, "safe"))
            flags |= MIME_QP_SAFE;
        mime_qp_init(&e->u.qp, flags);
    } else if (strcmp(kind, "eol") == 0) {
        e->kind = 'e';
        mime_eol_init(&e->u.eol);
    } else {
        return -1;
    }
    return 0;
}

static size_t enc_bound(const enc *e, size_t n)
{
    switch (e->kind) {
    case 'b': return mime_b64_bound(&e->u.b64, n);
    case 'q': return mime_qp_bound(&e->u.qp, n);
    default: return mime_eol_bound(&e->u.eol, n);
    }
}

static size_t enc_update(enc *e, const unsigned char *in, size_t n,
                         size_t *used, char *out, size_t cap)
{
    switch (e->kind) {
    case 'b': return mime_b64_update(&e->u.b64, in, n, used, out, cap);
    case 'q': return mime_qp_update(&e->u.qp, in, n, used, out, cap);
    default: return mime_eol_update(&e->u.eol, in, n, used, out, cap);
    }
}

static size_t enc_finish(enc *e, char *out, size_t cap)
{
    switch (e->kind) {
    case 'b': return mime_b64_finish(&e->u.b64, out, cap);
    case 'q': return mime_qp_finish(&e->u.qp, out, cap);
    default: return mime_eol_finish(&e->u.eol, out, cap);
    }
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (f == NULL)
        return NULL;
    do {
        if (cap - n < 65536) {
            unsigned char *nb = realloc(buf, cap + 65536 + 1);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* Encodes in[0..n) into a fresh buffer (*outlen bytes); NULL on failure. */
static char *encode(const char *kind, unsigned long long seed,
                    const unsigned char *in, size_t n, size_t *outlen)
{
    enc e;
    size_t total, off = 0, o = 0;
    char *out;
    if (enc_init(&e, kind) != 0)
        return NULL;
    total = enc_bound(&e, n) + MIME_ENC_FINISH_MAX + 64;
    out = malloc(total);
    if (out == NULL)
        return NULL;
    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    if (seed == 0) {
        size_t used = 0;
        o = enc_update(&e, in, n, &used, out, enc_bound(&e, n));
        if (used != n) {
            free(out);
            return NULL;
        }
    } else {
        int stuck = 0;
        while (off < n) {
            size_t chunk = 1 + (size_t)(next_rand() % (next_rand() % 4 == 0 ? 4096 : 300));
            size_t cap = MIME_ENC_MIN_CAP + (size_t)(next_rand() % 200), used = 0;
            if (chunk > n - off)
                chunk = n - off;
            if (cap > total - o)
                cap = total - o;
            o += enc_update(&e, in + off, chunk, &used, out + o, cap);
            off += used;
            if (used == 0 && ++stuck > 1000) {
                free(out);
                return NULL;
            }
        }
    }
    o += enc_finish(&e, out + o, total - o);
    *outlen = o;
    return out;
}

static int tool(int argc, char **argv)
{
    unsigned long long seed;
    int k;
    if (argc < 6 || strcmp(argv[1], "encode") != 0) {
        fprintf(stderr, "usage: %s encode KIND SEED SUFFIX FILE...\n", argv[0]);
        return 2;
    }
    seed = strtoull(argv[3], NULL, 0);
    for (k = 5; k < argc; k++) {
        size_t n = 0, w = 0;
        unsigned char *in = slurp(argv[k], &n);
        char *out, path[4096];
        FILE *f;
        if (in == NULL) {
            perror(argv[k]);
            return 1;
        }
        out = encode(argv[2], seed + (unsigned long long)k, in, n, &w);
        free(in);
        if (out == NULL) {
            fprintf(stderr, "%s: encoding %s failed\n", argv[k], argv[2]);
            return 1;
        }
        snprintf(path, sizeof path, "%s.%s", argv[k], argv[4]);
        f = fopen(path, "wb");
        if (f == NULL || fwrite(out, 1, w, f) != w || fclose(f) != 0) {
            perror(path);
            free(out);
            return 1;
        }
        free(out);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return tool(argc, argv);
    if (access(REF_PYTHON, X_OK) != 0) {
        printf("1..0 # SKIP %s not found\n", REF_PYTHON);
        return 0;
    }
    fflush(stdout);
    execl(REF_PYTHON, REF_PYTHON, REF_SCRIPT, argv[0], (char *)NULL);
    perror("exec " REF_PYTHON);
    printf("not ok 1 - cannot run %s %s\n1..1\n", REF_PYTHON, REF_SCRIPT);
    return 1;
}
