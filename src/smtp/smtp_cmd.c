/* smtp_cmd.c -- command formatter and argument checks; see smtp_cmd.h. */
#include <string.h>
#include "smtp_cmd.h"
#include "base/smtp_errors.h"

int smtp_cmd_check(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= '\r' && (c == '\r' || c == '\n' || c == '\0')) /* one test for most */
            return c == '\0' ? -SMTP_E_ARG_NUL : -SMTP_E_ARG_CRLF;
    }
    return 0;
}

/* The line's length with CRLF in *total, after checking every piece. */
static int line_length(const smtp_piece *pieces, int npieces, size_t max, size_t *total)
{
    int i, rc;
    *total = 2;
    for (i = 0; i < npieces; i++) {
        if ((rc = smtp_cmd_check(pieces[i].p, pieces[i].n)) != 0)
            return rc;
        if (pieces[i].n > max || *total > max - pieces[i].n)
            return -SMTP_E_ARG_TOO_LONG;
        *total += pieces[i].n;
    }
    return 0;
}

int smtp_cmd_fits(const smtp_piece *pieces, int npieces, size_t max)
{
    size_t total;
    return line_length(pieces, npieces, max, &total);
}

int smtp_cmd_format(char *out, size_t cap, size_t *len,
                    const smtp_piece *pieces, int npieces, size_t max)
{
    size_t total, at = *len;
    int i, rc;
    if ((rc = line_length(pieces, npieces, max, &total)) != 0)
        return rc;
    if (at > cap || total > cap - at)
        return -SMTP_E_BUSY;
    for (i = 0; i < npieces; i++) {
        if (pieces[i].n > 0)
            memcpy(out + at, pieces[i].p, pieces[i].n);
        at += pieces[i].n;
    }
    out[at++] = '\r';
    out[at++] = '\n';
    *len = at;
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* s[at] == '"': the index of the closing quote of the quoted string
 * (quoted pairs, \", skipped), or e when it is not closed before e. */
static size_t quoted_end(const char *s, size_t at, size_t e)
{
    size_t i;
    for (i = at + 1; i < e; i++) {
        if (s[i] == '\\' && i + 1 < e)
            i++;
        else if (s[i] == '"')
            return i;
    }
    return e;
}

/* The path that starts at s[at] == '<' and must end s[..e): its closing
 * '>' is the first one outside a quoted string (<"a>b"@c>). Inside, white
 * space and '<' only in a quoted string; after it, nothing: ESMTP
 * parameters are an argument of their own, never part of the address
 * (SMTP_E_ARG_ADDRESS). */
static int bracketed(const char *s, size_t at, size_t e, int null_ok,
                     size_t *start, size_t *n)
{
    size_t i;
    for (i = at + 1; i < e; i++) {
        if (s[i] == '"')
            i = quoted_end(s, i, e);
        else if (s[i] == '>')
            break;
        else if (s[i] == '<' || is_space(s[i]))
            return -SMTP_E_ARG_SYNTAX;
    }
    if (i >= e || (i == at + 1 && !null_ok))
        return -SMTP_E_ARG_SYNTAX; /* unclosed; "<>" only for MAIL FROM */
    if (i + 1 != e)
        return -SMTP_E_ARG_ADDRESS;
    *start = at;
    *n = e - at;
    return 0;
}

int smtp_cmd_path(const char *s, size_t len, int null_ok,
                  size_t *start, size_t *n, int *wrap)
{
    size_t b = 0, e = len, i;
    int rc;
    if ((rc = smtp_cmd_check(s, len)) != 0)
        return rc;
    while (b < e && is_space(s[b]))
        b++;
    while (e > b && is_space(s[e - 1]))
        e--; /* white space around the address is not sent */
    *wrap = 0;
    if (b == e) {
        if (!null_ok)
            return -SMTP_E_ARG_EMPTY;
        *start = b;
        *n = 0;
        *wrap = 1; /* "<>": the null reverse-path */
        return 0;
    }
    /* "<a@b>", or "Name <a@b>": the path starts at the first '<' outside
     * a quoted string ("a<b" <c@d>) */
    for (i = b; i < e; i++) {
        if (s[i] == '"')
            i = quoted_end(s, i, e);
        else if (s[i] == '<')
            return bracketed(s, i, e, null_ok, start, n);
    }
    /* a bare address: no spaces or brackets, brackets added */
    for (i = b; i < e; i++)
        if (is_space(s[i]) || s[i] == '>')
            return -SMTP_E_ARG_SYNTAX;
    *start = b;
    *n = e - b;
    *wrap = 1;
    return 0;
}

int smtp_cmd_domain(const char *d, size_t len)
{
    size_t i;
    int rc;
    if (len == 0)
        return -SMTP_E_ARG_EMPTY;
    if ((rc = smtp_cmd_check(d, len)) != 0)
        return rc;
    if (len > 255)
        return -SMTP_E_ARG_TOO_LONG;
    for (i = 0; i < len; i++)
        if (is_space(d[i]))
            return -SMTP_E_ARG_SYNTAX;
    return 0;
}

int smtp_cmd_envelope(smtp_piece p[SMTP_ENVELOPE_PIECES], int *npieces, int mail,
                      const char *addr, size_t len, const char *params, size_t plen)
{
    size_t start, n;
    int wrap, k = 0;
    int rc = smtp_cmd_path(addr, len, mail, &start, &n, &wrap);
    *npieces = 0;
    if (rc != 0)
        return rc;
    p[k].p = mail ? "MAIL FROM:" : "RCPT TO:";
    p[k].n = mail ? 10 : 8;
    k++;
    if (wrap) {
        p[k].p = "<";
        p[k++].n = 1;
    }
    p[k].p = addr + start;
    p[k++].n = n;
    if (wrap) {
        p[k].p = ">";
        p[k++].n = 1;
    }
    if (plen > 0) {
        p[k].p = " ";
        p[k++].n = 1;
        p[k].p = params;
        p[k++].n = plen;
    }
    *npieces = k;
    return 0;
}
