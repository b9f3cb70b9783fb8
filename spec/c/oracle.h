/*
 * oracle.h -- independent decoders the C tests and the fuzz targets check
 * the encoders', the header writer's and the DATA filter's output with (one
 * copy each: spec/c includes it from here, fuzz/ as "../spec/c/oracle.h"). Written apart from
 * the engines (nothing here is shared with src/), and strict: they accept
 * exactly the forms our writers promise (upper-case hex, "utf-8" encoded-
 * words, canonical base64 padding), so a looser output fails.
 */
#ifndef SMTP_TEST_ORACLE_H
#define SMTP_TEST_ORACLE_H

#include <stddef.h>
#include <string.h>

static inline int oracle_wsp(char c) { return c == ' ' || c == '\t'; }

/* An upper-case hex digit's value, or -1. */
static inline int oracle_unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A base64 character's value, or -1. */
static inline int oracle_b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 without line breaks: the decoded length, or -1 (bad
 * length, character, padding, or non-canonical padding bits). */
static inline long oracle_b64_decode(const char *s, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    if (n % 4 != 0)
        return -1;
    for (i = 0; i < n; i += 4) {
        int a = oracle_b64val(s[i]), b = oracle_b64val(s[i + 1]),
            c = oracle_b64val(s[i + 2]), d = oracle_b64val(s[i + 3]);
        int last = (i + 4 == n);
        if (a < 0 || b < 0)
            return -1;
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        if (c < 0) {
            if (!last || s[i + 2] != '=' || s[i + 3] != '=' || (b & 15) != 0)
                return -1; /* non-canonical padding bits */
            break;
        }
        out[o++] = (unsigned char)(((b & 15) << 4) | (c >> 2));
        if (d < 0) {
            if (!last || s[i + 3] != '=' || (c & 3) != 0)
                return -1;
            break;
        }
        out[o++] = (unsigned char)(((c & 3) << 6) | d);
    }
    return (long)o;
}

/* One RFC 2047 encoded-word w[0..n) ("=?utf-8?Q?...?=" or B) into dst;
 * -1 when it is not one. */
static inline long oracle_ew_decode(const char *w, size_t n, char *dst)
{
    size_t i, d = 0;
    if (n < 12 || memcmp(w, "=?utf-8?", 8) != 0 || w[9] != '?' || w[n - 2] != '?' ||
        w[n - 1] != '=')
        return -1;
    if (w[8] == 'Q') {
        for (i = 10; i < n - 2; i++) {
            if (w[i] == '_') {
                dst[d++] = ' ';
            } else if (w[i] == '=') {
                int h, l;
                if (i + 2 >= n - 2 || (h = oracle_unhex(w[i + 1])) < 0 ||
                    (l = oracle_unhex(w[i + 2])) < 0)
                    return -1;
                dst[d++] = (char)(h * 16 + l);
                i += 2;
            } else if (w[i] == '?' || oracle_wsp(w[i])) {
                return -1;
            } else {
                dst[d++] = w[i];
            }
        }
        return (long)d;
    }
    if (w[8] == 'B') {
        long r = oracle_b64_decode(w + 10, n - 12, (unsigned char *)dst);
        return r;
    }
    return -1;
}

/* RFC 2047 decoding of an unfolded unstructured value s[0..n) into dst:
 * white space between two encoded-words is dropped (6.2). word: scratch
 * as large as s. */
static inline size_t oracle_rfc2047(const char *s, size_t n, char *dst, char *word)
{
    size_t i = 0, d = 0, ws = 0, wsn = 0;
    int last_ew = 0;
    while (i < n) {
        size_t b = i;
        long r;
        if (oracle_wsp(s[i])) {
            while (i < n && oracle_wsp(s[i]))
                i++;
            ws = b;
            wsn = i - b;
            if (i == n) {
                memcpy(dst + d, s + ws, wsn);
                d += wsn;
            }
            continue;
        }
        while (i < n && !oracle_wsp(s[i]))
            i++;
        r = oracle_ew_decode(s + b, i - b, word);
        if (!(r >= 0 && last_ew)) {
            memcpy(dst + d, s + ws, wsn);
            d += wsn;
        }
        if (r >= 0) {
            memcpy(dst + d, word, (size_t)r);
            d += (size_t)r;
        } else {
            memcpy(dst + d, s + b, i - b);
            d += i - b;
        }
        last_ew = r >= 0;
        wsn = 0;
    }
    return d;
}

/* What a receiver should get for a text: every CRLF, bare CR and bare LF
 * as CRLF. out needs room for 2 * n bytes. Returns its length. */
static inline size_t oracle_crlf(const unsigned char *in, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        if (in[i] == '\r' || in[i] == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
                i++;
        } else {
            out[o++] = in[i];
        }
    }
    return o;
}

/* The content a receiver should get from DATA: oracle_crlf, plus a final
 * CRLF when the content does not end with a line break. out needs room for
 * 2 * n + 2 bytes. */
static inline size_t oracle_body(const unsigned char *in, size_t n, unsigned char *out)
{
    size_t o = oracle_crlf(in, n, out);
    if (o > 0 && !(o >= 2 && out[o - 2] == '\r' && out[o - 1] == '\n')) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    return o;
}

/* What a server does with the DATA stream: lines up to the line ".",
 * one leading dot removed. Returns the content length, or -1 when the
 * stream does not end with the terminator line right at its end. */
static inline long oracle_unstuff(const unsigned char *w, size_t n, unsigned char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t e = i;
        while (e + 1 < n && !(w[e] == '\r' && w[e + 1] == '\n'))
            e++;
        if (e + 1 >= n)
            return -1; /* a line without CRLF */
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
    return -1; /* no terminator */
}

#endif
