/*
 * fuzz_caps.c -- libFuzzer target for smtp_caps (the EHLO capability parser).
 *
 * Input: an EHLO reply (or any bytes).
 *
 * Invariant: for any text, smtp_caps_parse records only defined extension
 * and mechanism bits, SIZE 0 unless SIZE was offered, and a raw list that
 * stays under SMTP_CAPS_MAX and is made of "KEYWORD params\n" entries (the
 * keyword upper-case, non-empty, without ' ', '=' or '\n'); every entry is
 * found again by smtp_caps_find in any letter case, and a known keyword in
 * raw has its bit set -- never a crash, UB or growth past the bounds.
 * The input is used twice: as text for smtp_caps_parse directly, and as
 * wire bytes read by smtp_reply whole and byte by byte, whose two texts
 * must give identical caps.
 */
#include "fuzz_common.h"
#include "smtp/smtp_caps.h"
#include "smtp/smtp_reply.h"
#include "base/smtp_errors.h"

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static void check_caps(const smtp_caps *caps)
{
    const char *p = caps->raw, *end = caps->raw + caps->len;
    CHECK(caps->len < SMTP_CAPS_MAX);
    CHECK(caps->raw[caps->len] == '\0');
    CHECK((caps->ext & ~((1u << SMTP_EXT__COUNT) - 1)) == 0);
    CHECK((caps->mechs & ~((1u << SMTP_MECH__COUNT) - 1)) == 0);
    if (!(caps->ext & SMTP_EXT(SIZE)))
        CHECK(caps->size == 0);
    if (!(caps->ext & SMTP_EXT(AUTH)))
        CHECK(caps->mechs == 0);
    CHECK(caps->len == 0 || caps->raw[caps->len - 1] == '\n');
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *sp, *found;
        char kw[SMTP_CAPS_MAX];
        size_t klen, i, plen;
        int e;
        CHECK(nl != NULL);
        sp = memchr(p, ' ', (size_t)(nl - p));
        CHECK(sp != NULL && sp > p);
        klen = (size_t)(sp - p);
        for (i = 0; i < klen; i++) {
            CHECK(p[i] != '=' && !(p[i] >= 'a' && p[i] <= 'z'));
            kw[i] = lower(p[i]);
        }
        /* found again, whatever the case (the first entry of that name) */
        found = smtp_caps_find(caps, kw, klen, &plen);
        CHECK(found != NULL && found > caps->raw && found <= end);
        CHECK(plen <= (size_t)(end - found));
        for (e = 0; e < SMTP_EXT__COUNT; e++) {
            const char *name = smtp_caps_ext_name(e);
            if (strlen(name) == klen && memcmp(name, p, klen) == 0)
                CHECK(caps->ext & (1u << e));
        }
        p = nl + 1;
    }
}

/* Read data as one reply; returns its text length or -1. */
static long read_reply(const uint8_t *data, size_t size, int bytewise, char *text)
{
    smtp_reply *r = malloc(sizeof *r);
    size_t off = 0;
    long n = -1;
    smtp_reply_init(r);
    while (off < size) {
        size_t k = bytewise ? 1 : size - off, used = 0;
        char *chunk = malloc(k);
        int rc;
        memcpy(chunk, data + off, k);
        rc = smtp_reply_parse(r, chunk, k, &used);
        free(chunk);
        if (rc < 0)
            break;
        off += used;
        if (rc == SMTP_REPLY_DONE) {
            memcpy(text, r->text, r->len);
            n = (long)r->len;
            break;
        }
    }
    free(r);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smtp_caps *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    char *text = malloc(size + 1), *ta = malloc(SMTP_REPLY_MAX), *tb = malloc(SMTP_REPLY_MAX);
    long na, nb;
    size_t plen;

    /* 1. the bytes as reply text */
    memcpy(text, data, size);
    memset(a, 0x5A, sizeof *a);
    smtp_caps_parse(a, text, size);
    check_caps(a);
    /* look-up with an arbitrary keyword: the first bytes of the input */
    (void)smtp_caps_find(a, text, size < 24 ? size : 24, &plen);

    /* 2. the bytes as wire: whole and byte by byte give the same caps */
    na = read_reply(data, size, 0, ta);
    nb = read_reply(data, size, 1, tb);
    CHECK(na == nb);
    if (na >= 0) {
        char *xa = malloc((size_t)na + 1), *xb = malloc((size_t)nb + 1);
        CHECK(memcmp(ta, tb, (size_t)na) == 0);
        memcpy(xa, ta, (size_t)na);
        memcpy(xb, tb, (size_t)nb);
        smtp_caps_parse(a, xa, (size_t)na);
        smtp_caps_parse(b, xb, (size_t)nb);
        check_caps(a);
        CHECK(a->ext == b->ext && a->mechs == b->mechs && a->size == b->size);
        CHECK(a->len == b->len && memcmp(a->raw, b->raw, a->len) == 0);
        free(xa);
        free(xb);
    }
    free(a);
    free(b);
    free(text);
    free(ta);
    free(tb);
    return 0;
}
