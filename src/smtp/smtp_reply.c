/* smtp_reply.c -- incremental SMTP reply parser; see smtp_reply.h. */
#include <string.h>
#include "smtp_reply.h"
#include "base/smtp_errors.h"

enum {
    R_CODE0 = 0, /* first digit of a line */
    R_CODE1,
    R_CODE2,
    R_SEP,       /* after the code: ' ', '-' or the line end */
    R_TEXT,      /* text up to the line end */
    R_CR         /* CR seen in the text: LF ends the line */
};

void smtp_reply_init(smtp_reply *r)
{
    r->state = R_CODE0;
    r->code = 0;
    r->linecode = 0;
    r->last = 0;
    r->nlines = 0;
    r->linelen = 0;
    r->len = 0;
    r->enhanced[0] = '\0';
    r->text[0] = '\0';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Enhanced status code (RFC 3463) at the start of the first line's text:
 * class "." subject "." detail, class equal to the reply's first digit. */
static void find_enhanced(smtp_reply *r)
{
    const char *p = r->text + 4, *end = r->text + r->len;
    const char *nl = memchr(r->text, '\n', r->len);
    size_t n, part;
    if (nl != NULL)
        end = nl;
    if (r->len < 4 || p >= end || p[0] != r->text[0])
        return;
    for (n = 0, part = 0; part < 3; part++) {
        size_t digits = 0;
        if (part > 0) {
            if (p + n >= end || p[n] != '.')
                return;
            n++;
        }
        while (p + n < end && is_digit((unsigned char)p[n]) && digits < 3) {
            n++;
            digits++;
        }
        if (digits == 0 || (part == 0 && digits != 1))
            return;
    }
    if (p + n < end && p[n] != ' ')
        return;
    memcpy(r->enhanced, p, n);
    r->enhanced[n] = '\0';
}

static int put(smtp_reply *r, const char *s, size_t n)
{
    if (n > SMTP_REPLY_MAX - 1 - r->len)
        return -SMTP_E_REPLY_TOO_LONG;
    memcpy(r->text + r->len, s, n);
    r->len += n;
    r->text[r->len] = '\0';
    return 0;
}

/* A line ended: check it against the reply so far. */
static int end_line(smtp_reply *r)
{
    r->nlines++;
    if (r->nlines == 1)
        r->code = r->linecode;
    else if (r->linecode != r->code)
        return -SMTP_E_REPLY_MISMATCH;
    r->state = R_CODE0;
    r->linelen = 0;
    if (r->last) {
        find_enhanced(r);
        return SMTP_REPLY_DONE;
    }
    if (r->nlines >= SMTP_REPLY_LINES_MAX)
        return -SMTP_E_REPLY_TOO_MANY_LINES;
    return SMTP_REPLY_MORE;
}

/* Every return of smtp_reply_parse says how much it took: i bytes. */
static int taken(size_t *used, size_t i, int rc)
{
    *used = i;
    return rc;
}

int smtp_reply_parse(smtp_reply *r, const char *buf, size_t len, size_t *used)
{
    size_t i = 0;
    int rc;
    while (i < len) {
        unsigned char c;
        if (r->state == R_TEXT) {
            /* fast path: take the text up to CR or LF in one step */
            size_t j = i, room = SMTP_REPLY_LINE_MAX - r->linelen;
            while (j < len && buf[j] != '\r' && buf[j] != '\n')
                j++;
            /* the same error as byte by byte: whichever bound the
             * first excess byte crosses, the line's checked first */
            if (j - i > room || j - i > SMTP_REPLY_MAX - 1 - r->len)
                return taken(used, i, room <= SMTP_REPLY_MAX - 1 - r->len
                                          ? -SMTP_E_REPLY_LINE_TOO_LONG
                                          : -SMTP_E_REPLY_TOO_LONG);
            if ((rc = put(r, buf + i, j - i)) < 0)
                return taken(used, i, rc);
            r->linelen += j - i;
            i = j;
            if (i == len)
                break;
        }
        c = (unsigned char)buf[i++];
        if (++r->linelen > SMTP_REPLY_LINE_MAX)
            return taken(used, i, -SMTP_E_REPLY_LINE_TOO_LONG);
        switch (r->state) {
        case R_CODE0:
            if (c < '2' || c > '5')
                return taken(used, i, -SMTP_E_REPLY_SYNTAX);
            if (r->nlines > 0 && (rc = put(r, "\n", 1)) < 0)
                return taken(used, i, rc);
            r->linecode = c - '0';
            r->state = R_CODE1;
            break;
        case R_CODE1:
        case R_CODE2:
            if (!is_digit(c))
                return taken(used, i, -SMTP_E_REPLY_SYNTAX);
            r->linecode = r->linecode * 10 + (c - '0');
            r->state++;
            break;
        case R_SEP:
            if (c == ' ' || c == '-') {
                r->last = (c == ' ');
                r->state = R_TEXT;
                break;
            }
            if (c != '\r' && c != '\n')
                return taken(used, i, -SMTP_E_REPLY_SYNTAX);
            r->last = 1; /* "250" alone ends the reply */
            /* fall through */
        case R_TEXT: /* c is CR or LF */
            if (c == '\r') {
                r->state = R_CR;
                continue;
            }
            goto line_end;
        case R_CR:
            if (c == '\n')
                goto line_end;
            return taken(used, i, -SMTP_E_REPLY_SYNTAX); /* bare CR */
        default:
            return taken(used, i, -SMTP_E_REPLY_SYNTAX);
        }
        /* keep the code digit or separator just read */
        if ((rc = put(r, (const char *)&c, 1)) < 0)
            return taken(used, i, rc);
        continue;
    line_end:
        rc = end_line(r);
        if (rc != SMTP_REPLY_MORE) {
            *used = i;
            return taken(used, i, rc);
        }
    }
    *used = i;
    return SMTP_REPLY_MORE;
}

int smtp_reply_code(const smtp_reply *r) { return r->code; }

const char *smtp_reply_text(const smtp_reply *r, size_t *len)
{
    *len = r->len;
    return r->text;
}

const char *smtp_reply_enhanced(const smtp_reply *r)
{
    return r->enhanced[0] != '\0' ? r->enhanced : NULL;
}
