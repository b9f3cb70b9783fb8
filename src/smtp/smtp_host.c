/* smtp_host.c -- certificate names against the server's host; see smtp_host.h. */
#include <string.h>
#include "smtp_host.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The shape of mime_enc.c's b64_value, for another alphabet. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "a.b.c.d" exactly: 4 bytes, or 0. */
static size_t ipv4(const char *s, size_t n, unsigned char out[4])
{
    size_t i = 0;
    int part;
    for (part = 0; part < 4; part++) {
        unsigned v = 0;
        size_t start = i;
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return 0;
            start = ++i;
        }
        while (i < n && is_digit(s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
            return 0;
        out[part] = (unsigned char)v;
    }
    return i == n ? 4 : 0;
}

/* RFC 4291 2.2 text forms: 16 bytes, or 0. */
static size_t ipv6(const char *s, size_t n, unsigned char out[16])
{
    unsigned char b[16];
    size_t i = 0, k = 0;
    int gap = -1; /* where "::" was, in bytes */
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
        if (i == n) {
            memset(out, 0, 16);
            return 16;
        }
    } else if (n > 0 && s[0] == ':') {
        return 0;
    }
    for (;;) {
        size_t start = i, j;
        unsigned v = 0;
        /* a dotted quad may end the address */
        for (j = i; j < n && s[j] != ':'; j++)
            ;
        if (j == n && memchr(s + i, '.', n - i) != NULL) {
            if (k > 12 || ipv4(s + i, n - i, b + k) != 4)
                return 0;
            k += 4;
            break;
        }
        while (i < n && hex_value(s[i]) >= 0 && i - start < 4)
            v = v * 16 + (unsigned)hex_value(s[i++]);
        if (i == start || k > 14)
            return 0;
        b[k++] = (unsigned char)(v >> 8);
        b[k++] = (unsigned char)v;
        if (i == n)
            break;
        if (s[i] != ':')
            return 0;
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0)
                return 0; /* "::" twice */
            gap = (int)k;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return 0; /* a trailing single ':' */
        }
    }
    if (gap < 0) {
        if (k != 16)
            return 0;
        memcpy(out, b, 16);
        return 16;
    }
    if (k >= 16)
        return 0; /* "::" must stand for at least one group */
    memset(out, 0, 16);
    memcpy(out, b, (size_t)gap);
    memcpy(out + 16 - (k - (size_t)gap), b + gap, k - (size_t)gap);
    return 16;
}

size_t smtp_host_ip(const char *s, size_t n, unsigned char out[16])
{
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        return ipv6(s + 1, n - 2, out);
    if (memchr(s, ':', n) != NULL)
        return ipv6(s, n, out);
    return ipv4(s, n, out);
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static int same_ci(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

/* A usable name: non-empty labels of at most 63 characters, none of
 * them with a NUL, at most 253 characters in all. */
static int labels_ok(const char *s, size_t n)
{
    size_t i, len = 0;
    if (n == 0 || n > 253)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '\0')
            return 0;
        if (s[i] == '.') {
            if (len == 0)
                return 0;
            len = 0;
        } else if (++len > 63) {
            return 0;
        }
    }
    return len > 0;
}

int smtp_host_match(const char *p, size_t pn, const char *h, size_t hn)
{
    const char *dot;
    size_t rest;
    if (pn > 0 && p[pn - 1] == '.')
        pn--;
    if (hn > 0 && h[hn - 1] == '.')
        hn--;
    if (!labels_ok(p, pn) || !labels_ok(h, hn) || memchr(h, '*', hn) != NULL)
        return 0;
    if (p[0] != '*')
        return memchr(p, '*', pn) == NULL && pn == hn && same_ci(p, h, pn);
    /* "*.rest": the wildcard is the whole left-most label; rest has at
     * least two labels and no other wildcard */
    if (pn < 2 || p[1] != '.')
        return 0;
    rest = pn - 2;
    if (memchr(p + 2, '*', rest) == NULL && memchr(p + 2, '.', rest) != NULL) {
        dot = memchr(h, '.', hn);
        if (dot == NULL || dot == h)
            return 0;
        if ((size_t)(dot - h) >= 4 && same_ci(h, "xn--", 4))
            return 0; /* an A-label is never matched by a wildcard */
        return hn - (size_t)(dot + 1 - h) == rest && same_ci(dot + 1, p + 2, rest);
    }
    return 0;
}

smtp_host_field smtp_host_field_for(const char *h, size_t hn, size_t nsan)
{
    unsigned char addr[16];
    if (smtp_host_ip(h, hn, addr) > 0)
        return SMTP_HOST_SAN_IP;
    return nsan > 0 ? SMTP_HOST_SAN_DNS : SMTP_HOST_CN;
}

int smtp_host_name_matches(smtp_host_field f, const char *s, size_t n, const char *h,
                           size_t hn)
{
    unsigned char a[16], b[16];
    size_t an, bn;
    if (f != SMTP_HOST_SAN_IP)
        return smtp_host_match(s, n, h, hn);
    an = smtp_host_ip(s, n, a);
    bn = smtp_host_ip(h, hn, b);
    return an > 0 && an == bn && memcmp(a, b, an) == 0;
}
