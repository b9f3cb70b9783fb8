/*
 * fuzz_mime_body.c -- libFuzzer target for mime_body (CRLF normalisation,
 * dot-stuffing, end-of-data marker).
 *
 * Input: byte 0 seeds the split/capacity pattern; the rest is message
 * content.
 *
 * Invariant: for any content and any way of splitting it or of limiting
 * the output room, the filter produces the same bytes as when fed whole
 * (and byte by byte); the output holds no bare CR and no bare LF, no line
 * "." before the end, ends with exactly one end-of-data marker, and a
 * server reading it gets the content back: unstuff(out) == normalise(in)
 * (line breaks as CRLF, a final CRLF added when missing). With room for 2
 * bytes the filter always makes progress; it never writes past the room it
 * was given -- never a crash, UB or growth past the bounds.
 */
#include "fuzz_common.h"
#include "mime_body.h"

static uint32_t rng;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* mode 0: whole; 1: byte by byte (room 2); 2: pattern of splits and rooms */
static size_t filter(const uint8_t *in, size_t n, int mode, char *out)
{
    mime_body st;
    size_t off = 0, o = 0, fl, w;
    int stuck = 0;
    char *room;
    mime_body_init(&st);
    while (off < n) {
        size_t chunk, cap, used = (size_t)-1;
        char *src;
        if (mode == 0) {
            chunk = n - off;
            cap = 2 * chunk;
        } else if (mode == 1) {
            chunk = 1;
            cap = 2;
        } else {
            chunk = 1 + next_rand() % (n - off < 64 ? n - off : 64);
            cap = next_rand() % 12;
        }
        src = malloc(chunk);
        room = malloc(cap ? cap : 1);
        memcpy(src, in + off, chunk);
        w = mime_body_update(&st, src, chunk, &used, cap ? room : room + 1, cap);
        CHECK(used <= chunk && w <= cap);
        if (cap >= 2 * chunk)
            CHECK(used == chunk);
        if (cap >= 2)
            CHECK(used > 0);
        if (used == 0)
            CHECK(++stuck < 1000);
        memcpy(out + o, cap ? room : room + 1, w);
        o += w;
        off += used;
        free(src);
        free(room);
    }
    fl = mime_body_finish_len(&st);
    CHECK(fl == 3 || fl == 5);
    room = malloc(fl);
    CHECK(mime_body_finish(&st, room, fl - 1) == 0);
    w = mime_body_finish(&st, room, fl);
    CHECK(w == fl);
    memcpy(out + o, room, w);
    free(room);
    CHECK(mime_body_finish_len(&st) == 3);
    return o + w;
}

static size_t normalise(const uint8_t *in, size_t n, char *out)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            i++;
        } else if (in[i] == '\r' || in[i] == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
        } else {
            out[o++] = (char)in[i];
        }
    }
    if (o > 0 && !(o >= 2 && out[o - 2] == '\r' && out[o - 1] == '\n')) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    return o;
}

/* What a server keeps: lines up to ".", one leading dot removed. */
static long unstuff(const char *w, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t e = i;
        while (e + 1 < n && !(w[e] == '\r' && w[e + 1] == '\n'))
            e++;
        if (e + 1 >= n)
            return -1;
        if (e - i == 1 && w[i] == '.')
            return e + 2 == n ? (long)o : -1; /* the marker ends the stream */
        if (w[i] == '.')
            i++;
        memcpy(out + o, w + i, e - i);
        o += e - i;
        out[o++] = '\r';
        out[o++] = '\n';
        i = e + 2;
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *in = data + (size > 0);
    size_t n = size > 0 ? size - 1 : 0, la, lb, lc, ln, i;
    char *a = malloc(2 * n + 8), *b = malloc(2 * n + 8), *c = malloc(2 * n + 8);
    char *norm = malloc(2 * n + 8), *back = malloc(2 * n + 8);
    long lu;
    rng = 0x9E3779B9u ^ (size > 0 ? data[0] : 0);
    if (rng == 0)
        rng = 1;
    la = filter(in, n, 0, a);
    lb = filter(in, n, 1, b);
    lc = filter(in, n, 2, c);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    CHECK(la == lc && memcmp(a, c, la) == 0);
    CHECK(la <= 2 * n + 5);
    for (i = 0; i < la; i++) {
        if (a[i] == '\r')
            CHECK(i + 1 < la && a[i + 1] == '\n');
        if (a[i] == '\n')
            CHECK(i > 0 && a[i - 1] == '\r');
    }
    ln = normalise(in, n, norm);
    lu = unstuff(a, la, back);
    CHECK(lu >= 0);
    CHECK((size_t)lu == ln && memcmp(back, norm, ln) == 0);
    free(a);
    free(b);
    free(c);
    free(norm);
    free(back);
    return 0;
}
