/* mime_body.c -- CRLF normalisation, dot-stuffing, line length, NUL,
 * end-of-data. */
#include <stdint.h>
#include <string.h>
#include "mime_body.h"

enum {
    B_BOL = 0, /* at the start of a line (or of the body) */
    B_MID,     /* inside a line */
    B_CR,      /* just wrote CRLF for a CR: an LF now is its partner */
    B_LONG,    /* a line went over the limit: nothing more is taken */
    B_NUL      /* a NUL came: nothing more is taken */
};

/* The octets that end a run of ordinary ones: CR, LF and NUL. The run
 * loop looks at 8 octets at a time (stops8), then at the last ones through
 * this table (one load and one test an octet). */
static const unsigned char run_stop[256] = {[0] = 1, ['\r'] = 1, ['\n'] = 1};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
/* Nonzero when an octet of v is zero (exact: no false positive). */
#define ZERO8(v) (((v) - ONES) & ~(v) & HIGHS)

/* Whether one of the 8 octets at p is a NUL, a CR or an LF. */
static int stops8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return (ZERO8(v) | ZERO8(v ^ (ONES * '\r')) | ZERO8(v ^ (ONES * '\n'))) != 0;
}

/* Field by field, like smtp_reply_init for the reply parser's struct: two
 * engines resetting their own state, alike only in shape. */
void mime_body_init(mime_body *st)
{
    st->state = B_BOL;
    st->col = 0;
    st->over = 0;
    st->open = 0;
    st->taken = 0;
    st->nul = 0;
}

/* The line holding col octets cannot take in[0]: fail, measuring the line
 * up to its end within in[0..n). */
static void too_long(mime_body *st, size_t col, const char *in, size_t n)
{
    size_t j = 0;
    while (j < n && in[j] != '\r' && in[j] != '\n')
        j++;
    st->state = B_LONG;
    st->over = col + j;
    st->open = (j == n);
}

size_t mime_body_update(mime_body *st, const char *in, size_t n, size_t *used,
                        char *out, size_t cap)
{
    size_t i = 0, o = 0, col = st->col;
    int state = st->state;
    if (state == B_LONG || state == B_NUL) {
        *used = 0;
        return 0;
    }
    while (i < n) {
        char c = in[i];
        size_t need;
        if (c == '\0') {
            /* never valid in message content (RFC 5322 3.5; RFC 2045 2.7,
             * 2.8 for 7bit and 8bit data): fail before it, for good */
            st->state = B_NUL;
            st->nul = st->taken + i + 1;
            st->taken += i;
            *used = i;
            return o;
        }
        if (state == B_MID && c != '\r' && c != '\n') {
            /* fast path: copy a run of ordinary bytes, up to the limit */
            size_t j = i + 1, room = cap - o, left = MIME_BODY_LINE_MAX - col, lim;
            if (left == 0) {
                too_long(st, col, in + i, n - i);
                st->taken += i;
                *used = i;
                return o;
            }
            if (room == 0)
                break;
            lim = n - i > left ? i + left : n; /* the run stops at the limit */
            if (lim - i > room)
                lim = i + room; /* and where the output is full */
            while (lim - j >= 8 && !stops8(in + j)) /* j <= lim here */
                j += 8;
            while (j < lim && !run_stop[(unsigned char)in[j]])
                j++;
            memcpy(out + o, in + i, j - i);
            o += j - i;
            col += j - i;
            i = j;
            continue;
        }
        /* bytes this input byte becomes: 0 (the LF of a CRLF), 1 or 2 */
        need = (c == '\r' || c == '.' || (c == '\n' && state != B_CR)) ? 2
               : (c == '\n') ? 0 : 1;
        if (cap - o < need)
            break;
        if (c == '\r') {
            out[o++] = '\r';
            out[o++] = '\n';
            state = B_CR;
            col = 0;
        } else if (c == '\n') {
            if (state != B_CR) {
                out[o++] = '\r';
                out[o++] = '\n';
            }
            state = B_BOL;
            col = 0;
        } else if (c == '.') {
            /* a dot opening a line is doubled (state is B_BOL or B_CR);
             * it counts once (RFC 5321 4.5.3.1.6) */
            out[o++] = '.';
            out[o++] = '.';
            state = B_MID;
            col = 1;
        } else {
            out[o++] = c;
            state = B_MID;
            col = 1;
        }
        i++;
    }
    st->state = state;
    st->col = col;
    st->taken += i;
    *used = i;
    return o;
}

size_t mime_body_over(const mime_body *st)
{
    return st->over;
}

int mime_body_over_open(const mime_body *st)
{
    return st->state == B_LONG && st->open;
}

size_t mime_body_nul(const mime_body *st)
{
    return st->nul;
}

size_t mime_body_text_nul(const char *s, size_t n)
{
    const char *z = n > 0 ? memchr(s, 0, n) : NULL;
    return z != NULL ? (size_t)(z - s) + 1 : 0;
}

size_t mime_body_finish_len(const mime_body *st)
{
    if (st->state == B_LONG || st->state == B_NUL)
        return 0;
    return st->state == B_MID ? 5 : 3;
}

size_t mime_body_finish(mime_body *st, char *out, size_t cap)
{
    static const char eod[] = "\r\n.\r\n";
    size_t n = mime_body_finish_len(st);
    if (n == 0 || cap < n)
        return 0;
    memcpy(out, eod + 5 - n, n);
    mime_body_init(st);
    return n;
}
