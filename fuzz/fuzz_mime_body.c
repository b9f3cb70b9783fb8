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
 * Line length (RFC 5321 4.5.3.1.6): no output line holds more than 998
 * octets of content (999 when its first dot was doubled). Content with a
 * longer line makes the filter stop, however it is split, exactly at the
 * line's 999th octet, with the same output so far, a length of at least
 * 999 (the line's exact length when fed whole and the line ends in the
 * input), and for good: nothing more taken, no end-of-data marker.
 * NUL (RFC 5322 3.5): no NUL is ever in the output. Content with a NUL
 * makes the filter stop, however it is split, right before the first one
 * (unless a line went over the limit before it), with the same output so
 * far, its position (from 1), and for good, as for a long line.
 */
#include "fuzz_common.h"
#include "mime/mime_body.h"
#include "../spec/c/oracle.h"

static uint32_t rng;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Where the filter must stop: the first NUL, or the 999th octet of the
 * first line over 998 octets (a CR or LF ends a line) when that comes
 * first, or n; *len: that line's length (0 for a NUL). */
static size_t ref_stop(const uint8_t *in, size_t n, size_t *len, int *ends)
{
    size_t i, start = 0, z = n;
    const uint8_t *p = n > 0 ? memchr(in, 0, n) : NULL;
    if (p != NULL)
        z = (size_t)(p - in);
    for (i = 0; i <= n; i++)
        if (i == n || in[i] == '\r' || in[i] == '\n') {
            if (i - start > MIME_BODY_LINE_MAX && start + MIME_BODY_LINE_MAX < z) {
                *len = i - start;
                *ends = i < n;
                return start + MIME_BODY_LINE_MAX;
            }
            if (i >= z)
                break;
            start = i + 1;
        }
    *len = 0;
    *ends = 0;
    return z;
}

static size_t g_over, g_nul;
static int g_open;

/* mode 0: whole; 1: byte by byte (room 2); 2: pattern of splits and rooms.
 * Content with a line over the limit (stop < n): the output up to the
 * failure, no marker. */
static size_t filter(const uint8_t *in, size_t n, size_t stop, int mode, char *out)
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
        memcpy(out + o, cap ? room : room + 1, w);
        o += w;
        off += used;
        free(src);
        free(room);
        if (mime_body_over(&st) != 0 || mime_body_nul(&st) != 0) {
            /* the limit or a NUL: exactly where the model says, for good */
            char tiny[8];
            size_t u2 = 1;
            CHECK(off == stop && stop < n);
            if (in[stop] == 0)
                CHECK(mime_body_nul(&st) == stop + 1 && mime_body_over(&st) == 0);
            else
                CHECK(mime_body_over(&st) > MIME_BODY_LINE_MAX && mime_body_nul(&st) == 0);
            CHECK(mime_body_update(&st, "a", 1, &u2, tiny, sizeof tiny) == 0 && u2 == 0);
            CHECK(mime_body_finish_len(&st) == 0);
            CHECK(mime_body_finish(&st, tiny, sizeof tiny) == 0);
            g_over = mime_body_over(&st);
            g_open = mime_body_over_open(&st);
            g_nul = mime_body_nul(&st);
            CHECK(g_nul == mime_body_nul(&st) && (g_nul != 0) == (in[stop] == 0));
            return o;
        }
        if (cap >= 2 * chunk)
            CHECK(used == chunk);
        if (cap >= 2)
            CHECK(used > 0);
        if (used == 0)
            CHECK(++stuck < 1000);
    }
    CHECK(stop == n);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *in = data + (size > 0);
    size_t n = size > 0 ? size - 1 : 0, la, lb, lc, ln, i;
    char *a = malloc(2 * n + 8), *b = malloc(2 * n + 8), *c = malloc(2 * n + 8);
    char *norm = malloc(2 * n + 8), *back = malloc(2 * n + 8);
    long lu;
    size_t stop, linelen, col = 0;
    int ends;
    rng = 0x9E3779B9u ^ (size > 0 ? data[0] : 0);
    if (rng == 0)
        rng = 1;
    stop = ref_stop(in, n, &linelen, &ends);
    if (stop < n && in[stop] == 0) {
        /* a NUL: every way stops right before it, with the same output,
         * and none of it is a NUL */
        la = filter(in, n, stop, 0, a);
        CHECK(g_nul == stop + 1);
        lb = filter(in, n, stop, 1, b);
        CHECK(g_nul == stop + 1);
        lc = filter(in, n, stop, 2, c);
        CHECK(g_nul == stop + 1);
        CHECK(la == lb && memcmp(a, b, la) == 0);
        CHECK(la == lc && memcmp(a, c, la) == 0);
        CHECK(la == 0 || memchr(a, 0, la) == NULL);
        n = stop;
    } else if (stop < n) {
        /* a line over the limit: every way stops at the same place, with
         * the same output; fed whole, the line's length is exact */
        la = filter(in, n, stop, 0, a);
        CHECK(g_over == linelen && g_open == !ends);
        lb = filter(in, n, stop, 1, b);
        CHECK(g_over > MIME_BODY_LINE_MAX && g_over <= linelen);
        lc = filter(in, n, stop, 2, c);
        CHECK(g_over > MIME_BODY_LINE_MAX && g_over <= linelen);
        CHECK(la == lb && memcmp(a, b, la) == 0);
        CHECK(la == lc && memcmp(a, c, la) == 0);
        /* what was taken is fine content: check it as such below */
        n = stop;
    }
    la = filter(in, n, n, 0, a);
    lb = filter(in, n, n, 1, b);
    lc = filter(in, n, n, 2, c);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    CHECK(la == lc && memcmp(a, c, la) == 0);
    CHECK(la <= 2 * n + 5);
    for (i = 0; i < la; i++) {
        CHECK(a[i] != 0); /* no NUL in the output (RFC 5322 3.5) */
        if (a[i] == '\r')
            CHECK(i + 1 < la && a[i + 1] == '\n');
        if (a[i] == '\n')
            CHECK(i > 0 && a[i - 1] == '\r');
        /* no output line over 998 octets of content (999 with a doubled
         * dot in front) */
        if (a[i] == '\r' || a[i] == '\n') {
            col = 0;
        } else {
            col++;
            CHECK(col <= MIME_BODY_LINE_MAX ||
                  (col == MIME_BODY_LINE_MAX + 1 && a[i - col + 1] == '.' && a[i - col + 2] == '.'));
        }
    }
    ln = oracle_body(in, n, (unsigned char *)norm);
    lu = oracle_unstuff((const unsigned char *)a, la, (unsigned char *)back);
    CHECK(lu >= 0);
    CHECK((size_t)lu == ln && memcmp(back, norm, ln) == 0);
    free(a);
    free(b);
    free(c);
    free(norm);
    free(back);
    return 0;
}
