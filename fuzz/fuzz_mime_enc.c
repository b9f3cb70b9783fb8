/*
 * fuzz_mime_enc.c -- libFuzzer target for mime_enc (base64,
 * quoted-printable, line-end normalisation, mime_cte_choose).
 *
 * Input: byte 0 picks the encoder and its settings (bits 0-2: base64/76,
 * base64/0, base64/4, base64/64, QP text, QP binary, eol, eol again; bit
 * 3: QP safe mode), byte 1 seeds the split/room pattern; the rest is the
 * content.
 *
 * Invariant: for any content, the encoder produces the same bytes fed
 * whole (room = mime_X_bound), byte by byte with MIME_ENC_MIN_CAP of room,
 * and at random splits with random room >= MIME_ENC_MIN_CAP; every call
 * keeps the contract (used <= n, written <= room and <= the bound of what
 * it used, progress with MIME_ENC_MIN_CAP of room, finish within
 * MIME_ENC_FINISH_MAX and resetting the state); and the output is right:
 *   base64: lines of exactly linelen characters + CRLF but the last (1 to
 *     linelen, + CRLF), only the alphabet and final padding, and a strict
 *     decoder here gives the content back;
 *   QP: lines of at most 76 characters, soft breaks included; only
 *     printable ASCII, space, tab and CRLF; no space or tab before a line
 *     end or at the end; every '=' starts =XX (upper-case hex) or a soft
 *     break, never the last line; in safe mode no line starts with '.' or
 *     "From "; and a decoder here gives back the content (binary) or the
 *     content with every line end as CRLF (text);
 *   eol: the content with every line end as CRLF.
 * mime_cte_choose returns one of its four values, never 8bit, and 7bit only
 * for content without NUL, 8-bit or control bytes. Never a crash, UB, or a
 * write past the room given.
 */
#include "fuzz_common.h"
#include "mime/mime_enc.h"
#include "../spec/c/oracle.h"

typedef struct {
    int kind; /* 'b', 'q', 'e' */
    unsigned arg;
    union {
        mime_b64 b64;
        mime_qp qp;
        mime_eol eol;
    } u;
} enc;

static uint32_t rng;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void e_init(enc *e)
{
    if (e->kind == 'b')
        mime_b64_init(&e->u.b64, e->arg);
    else if (e->kind == 'q')
        mime_qp_init(&e->u.qp, e->arg);
    else
        mime_eol_init(&e->u.eol);
}

static size_t e_bound(const enc *e, size_t n)
{
    if (e->kind == 'b')
        return mime_b64_bound(&e->u.b64, n);
    if (e->kind == 'q')
        return mime_qp_bound(&e->u.qp, n);
    return mime_eol_bound(&e->u.eol, n);
}

static size_t e_update(enc *e, const unsigned char *in, size_t n, size_t *used,
                       char *out, size_t cap)
{
    if (e->kind == 'b')
        return mime_b64_update(&e->u.b64, in, n, used, out, cap);
    if (e->kind == 'q')
        return mime_qp_update(&e->u.qp, in, n, used, out, cap);
    return mime_eol_update(&e->u.eol, in, n, used, out, cap);
}

static size_t e_finish(enc *e, char *out, size_t cap)
{
    if (e->kind == 'b')
        return mime_b64_finish(&e->u.b64, out, cap);
    if (e->kind == 'q')
        return mime_qp_finish(&e->u.qp, out, cap);
    return mime_eol_finish(&e->u.eol, out, cap);
}

static int e_fresh(const enc *e)
{
    if (e->kind == 'b')
        return e->u.b64.npend == 0 && e->u.b64.col == 0;
    if (e->kind == 'q')
        return e->u.qp.col == 0 && e->u.qp.held == -1 && e->u.qp.nlook == 0;
    return e->u.eol.cr == 0;
}

/* One call into room of exactly cap bytes (heap, so ASan sees overruns). */
static size_t call(enc *e, const unsigned char *in, size_t n, size_t *used,
                   char *out, size_t cap)
{
    unsigned char *src = malloc(n ? n : 1);
    char *room = malloc(cap ? cap : 1);
    size_t bound = e_bound(e, n), w, u = (size_t)-1;
    enc before = *e;
    memcpy(src, in, n);
    w = e_update(e, src, n, &u, room, cap);
    CHECK(u <= n && w <= cap);
    CHECK(w <= e_bound(&before, u));
    if (cap >= bound)
        CHECK(u == n);
    if (cap >= MIME_ENC_MIN_CAP && n > 0)
        CHECK(u > 0);
    memcpy(out, room, w);
    free(src);
    free(room);
    *used = u;
    return w;
}

/* mode 0: whole; 1: byte by byte, MIN_CAP of room; 2: random */
static size_t encode(enc *e, const unsigned char *in, size_t n, int mode, char *out)
{
    size_t off = 0, o = 0, used, fl;
    char *room;
    int stuck = 0;
    e_init(e);
    if (mode == 0) {
        o = call(e, in, n, &used, out, e_bound(e, n));
    } else {
        while (off < n) {
            size_t chunk = 1, cap = MIME_ENC_MIN_CAP;
            if (mode == 2) {
                chunk = 1 + next_rand() % (n - off < 300 ? n - off : 300);
                cap = MIME_ENC_MIN_CAP + next_rand() % 100;
            }
            o += call(e, in + off, chunk, &used, out + o, cap);
            off += used;
            if (used == 0)
                CHECK(++stuck < 100000);
        }
    }
    /* finish: too little room changes nothing, then it fits */
    {
        enc probe = *e;
        char tmp[64];
        fl = e_finish(&probe, tmp, sizeof tmp);
        CHECK(fl <= MIME_ENC_FINISH_MAX);
        if (fl > 0) {
            enc small = *e;
            room = malloc(fl - 1 ? fl - 1 : 1);
            CHECK(e_finish(&small, room, fl - 1) == 0);
            free(room);
        }
    }
    room = malloc(MIME_ENC_FINISH_MAX);
    CHECK(e_finish(e, room, MIME_ENC_FINISH_MAX) == fl);
    memcpy(out + o, room, fl);
    free(room);
    CHECK(e_fresh(e));
    return o + fl;
}

/* ---- independent checkers ------------------------------------------------ */

static void check_b64(const char *s, size_t n, unsigned linelen,
                      const unsigned char *in, size_t len)
{
    char *flat = malloc(n + 1);
    unsigned char *back = malloc(n + 1);
    size_t i = 0, t = 0;
    long d;
    if (linelen == 0) {
        memcpy(flat, s, n);
        t = n;
    } else {
        while (i < n) {
            const char *e = memchr(s + i, '\r', n - i);
            size_t l;
            CHECK(e != NULL && (size_t)(e - s) + 1 < n && e[1] == '\n');
            l = (size_t)(e - s) - i;
            CHECK(l > 0 && l <= linelen);
            if (l < linelen)
                CHECK((size_t)(e - s) + 2 == n); /* only the last is short */
            memcpy(flat + t, s + i, l);
            t += l;
            i += l + 2;
        }
    }
    d = oracle_b64_decode(flat, t, back);
    CHECK(d == (long)len && memcmp(back, in, len) == 0);
    free(flat);
    free(back);
}

static void check_qp(const char *s, size_t n, unsigned flags, const unsigned char *in,
                     size_t len)
{
    unsigned char *back = malloc(n + 1), *norm = malloc(2 * len + 1);
    size_t i = 0, o = 0, ln;
    while (i < n) {
        const char *cr = memchr(s + i, '\r', n - i);
        size_t end = cr ? (size_t)(cr - s) : n, j;
        int soft = 0;
        if (cr)
            CHECK(end + 1 < n && s[end + 1] == '\n');
        CHECK(end - i <= 76);
        if (end > i)
            CHECK(s[end - 1] != ' ' && s[end - 1] != '\t');
        if (flags & MIME_QP_SAFE) {
            CHECK(end == i || s[i] != '.');
            CHECK(end - i < 5 || memcmp(s + i, "From ", 5) != 0);
        }
        for (j = i; j < end; j++) {
            unsigned char c = (unsigned char)s[j];
            if (c == '=') {
                if (j + 1 == end) {
                    CHECK(cr != NULL && end + 2 < n); /* a soft break, not last */
                    soft = 1;
                    break;
                }
                CHECK(j + 2 < end);
                CHECK(oracle_unhex(s[j + 1]) >= 0 && oracle_unhex(s[j + 2]) >= 0);
                back[o++] = (unsigned char)(oracle_unhex(s[j + 1]) * 16 + oracle_unhex(s[j + 2]));
                j += 2;
            } else {
                CHECK((c >= 33 && c <= 126) || c == ' ' || c == '\t');
                back[o++] = c;
            }
        }
        if (!cr)
            break;
        if (!soft) {
            CHECK(!(flags & MIME_QP_BINARY)); /* binary: no hard breaks */
            back[o++] = '\r';
            back[o++] = '\n';
        }
        i = end + 2;
    }
    if (flags & MIME_QP_BINARY) {
        memcpy(norm, in, len);
        ln = len;
    } else {
        ln = oracle_crlf(in, len, norm);
    }
    CHECK(o == ln && memcmp(back, norm, ln) == 0);
    free(back);
    free(norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned linelens[] = {76, 0, 4, 64};
    const unsigned char *in = data + (size > 2 ? 2 : size);
    size_t n = size > 2 ? size - 2 : 0, la, lb, lc, cap;
    unsigned sel = size > 0 ? data[0] : 0;
    char *a, *b, *c;
    enc e;
    int cte;

    rng = 0x9E3779B9u ^ (size > 1 ? (uint32_t)data[1] * 0x01000193u : 0);
    if (rng == 0)
        rng = 1;
    switch (sel & 7) {
    case 0: case 1: case 2: case 3:
        e.kind = 'b';
        e.arg = linelens[sel & 3];
        break;
    case 4:
    case 5:
        e.kind = 'q';
        e.arg = ((sel & 7) == 5 ? MIME_QP_BINARY : 0) | (sel & 8 ? MIME_QP_SAFE : 0);
        break;
    default:
        e.kind = 'e';
        e.arg = 0;
        break;
    }
    e_init(&e);
    cap = e_bound(&e, n) + MIME_ENC_FINISH_MAX + 64;
    a = malloc(cap);
    b = malloc(cap);
    c = malloc(cap);
    la = encode(&e, in, n, 0, a);
    lb = encode(&e, in, n, 1, b);
    lc = encode(&e, in, n, 2, c);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    CHECK(la == lc && memcmp(a, c, la) == 0);

    if (e.kind == 'b') {
        check_b64(a, la, e.arg, in, n);
    } else if (e.kind == 'q') {
        check_qp(a, la, e.arg, in, n);
    } else {
        unsigned char *norm = malloc(2 * n + 1);
        size_t ln = oracle_crlf(in, n, norm);
        CHECK(la == ln && memcmp(a, norm, ln) == 0);
        free(norm);
    }

    cte = mime_cte_choose(in, n);
    CHECK(cte == MIME_CTE_7BIT || cte == MIME_CTE_QP || cte == MIME_CTE_BASE64);
    if (cte == MIME_CTE_7BIT) {
        size_t i;
        for (i = 0; i < n; i++)
            CHECK(in[i] == '\t' || in[i] == '\r' || in[i] == '\n' ||
                  (in[i] >= 32 && in[i] < 127));
    }
    if (memchr(in, 0, n) != NULL)
        CHECK(cte == MIME_CTE_BASE64);
    free(a);
    free(b);
    free(c);
    return 0;
}
