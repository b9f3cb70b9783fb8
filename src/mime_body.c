/* mime_body.c -- CRLF normalisation, dot-stuffing, end-of-data. */
#include <string.h>
#include "mime_body.h"

enum {
    B_BOL = 0, /* at the start of a line (or of the body) */
    B_MID,     /* inside a line */
    B_CR       /* just wrote CRLF for a CR: an LF now is its partner */
};

void mime_body_init(mime_body *st) { st->state = B_BOL; }

size_t mime_body_update(mime_body *st, const char *in, size_t n, size_t *used,
                        char *out, size_t cap)
{
    size_t i = 0, o = 0;
    int state = st->state;
    while (i < n) {
        char c = in[i];
        size_t need;
        if (state == B_MID && c != '\r' && c != '\n') {
            /* fast path: copy a run of ordinary bytes */
            size_t j = i + 1, room = cap - o;
            while (j < n && in[j] != '\r' && in[j] != '\n')
                j++;
            if (j - i > room)
                j = i + room;
            if (j == i)
                break;
            memcpy(out + o, in + i, j - i);
            o += j - i;
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
        } else if (c == '\n') {
            if (state != B_CR) {
                out[o++] = '\r';
                out[o++] = '\n';
            }
            state = B_BOL;
        } else if (c == '.') {
            /* a dot opening a line is doubled (state is B_BOL or B_CR) */
            out[o++] = '.';
            out[o++] = '.';
            state = B_MID;
        } else {
            out[o++] = c;
            state = B_MID;
        }
        i++;
    }
    st->state = state;
    *used = i;
    return o;
}

size_t mime_body_finish_len(const mime_body *st)
{
    return st->state == B_MID ? 5 : 3;
}

size_t mime_body_finish(mime_body *st, char *out, size_t cap)
{
    static const char eod[] = "\r\n.\r\n";
    size_t n = mime_body_finish_len(st);
    if (cap < n)
        return 0;
    memcpy(out, eod + 5 - n, n);
    st->state = B_BOL;
    return n;
}
