/*
 * fuzz_mime_hdr.c -- libFuzzer target for mime_hdr_format (header fields:
 * RFC 2047 encoded-words, address lists, RFC 2231 parameters, folding).
 *
 * Input: byte 0 picks the header name (low 4 bits, from names[] below:
 * every kind, a 76-character name) and the flags (0x80: MIME_HDR_UTF8;
 * 0x40: also try a random smaller room); the rest is the value.
 *
 * Invariant: for any value, mime_hdr_format either returns a defined error
 * -- HDR_CRLF exactly when the value holds CR, LF or NUL, else HDR_8BIT,
 * HDR_SYNTAX or HDR_TOO_LONG (never for an unstructured header), never
 * HDR_NAME for these names, never BUSY with cap = mime_hdr_bound() -- or an
 * output of at most mime_hdr_bound() bytes that starts with the canonical
 * name and ": ", ends in CRLF, has no other CR or LF, no line over 998
 * octets, continuation lines that begin with SP or HTAB and are not white
 * space only, and only ASCII without MIME_HDR_UTF8. An unstructured value
 * decodes back to itself (RFC 2047 decoder below: B and Q, white space
 * between adjacent encoded-words dropped). The same call gives the same
 * bytes with exactly that much room, SMTP_E_BUSY with one byte less, and
 * never writes past the room it was given (each buffer is malloc'd to its
 * exact size, so ASan sees a byte too far) -- never a crash, UB or growth
 * past the bound.
 */
#include "fuzz_common.h"
#include "mime/mime_hdr.h"
#include "base/smtp_errors.h"
#include "../spec/c/oracle.h"

static const char *const names[16] = {
    "Subject", "From", "To", "Cc", "Content-Type", "Content-Disposition", "Message-ID",
    "References", "X-Custom", "List-Id", "Reply-To", "Date", "comments", "bcc",
    "X-A-Header-Name-Of-Seventy-Six-Characters-Which-Is-The-Longest-One-Allowed-X",
    "List-Unsubscribe",
};

static int wsp(char c) { return c == ' ' || c == '\t'; }

static void check_form(const char *name, size_t nlen, const char *o, size_t n, unsigned flags)
{
    char canon[MIME_HDR_NAME_MAX];
    size_t i, ls = 0, k = 0;
    CHECK(n >= nlen + 4);
    mime_hdr_canonic(name, nlen, canon);
    CHECK(memcmp(o, canon, nlen) == 0);
    CHECK(o[nlen] == ':' && o[nlen + 1] == ' ');
    CHECK(o[n - 2] == '\r' && o[n - 1] == '\n');
    if (!(flags & MIME_HDR_UTF8))
        for (i = 0; i < n; i++)
            CHECK((unsigned char)o[i] < 0x80);
    while (ls < n) {
        size_t le = ls, s;
        while (o[le] != '\r' && o[le] != '\n')
            le++;
        CHECK(o[le] == '\r' && o[le + 1] == '\n'); /* no bare CR or LF */
        CHECK(le - ls <= 998);
        if (k > 0) {
            CHECK(wsp(o[ls]));
            for (s = ls; s < le && wsp(o[s]); s++)
                ;
            CHECK(s < le); /* not white space only */
        }
        ls = le + 2;
        k++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *name;
    size_t nlen, vlen, bound, i, u;
    unsigned flags;
    char *val, *out, *out2, *tmp, *dec, *word;
    long r, r2;
    int has_crlf = 0, kind;
    uint32_t rng;

    if (size < 1)
        return 0;
    name = names[data[0] & 15];
    nlen = strlen(name);
    flags = (data[0] & 0x80) ? MIME_HDR_UTF8 : 0;
    vlen = size - 1;
    kind = mime_hdr_kind(name, nlen);
    val = malloc(vlen ? vlen : 1);
    memcpy(val, data + 1, vlen);
    for (i = 0; i < vlen; i++)
        if (val[i] == '\r' || val[i] == '\n' || val[i] == '\0')
            has_crlf = 1;

    bound = mime_hdr_bound(nlen, vlen);
    CHECK(bound < ((size_t)1 << 40));
    out = malloc(bound);
    r = mime_hdr_format(name, nlen, val, vlen, flags, out, bound);
    if (r < 0) {
        int e = (int)-r;
        if (has_crlf)
            CHECK(e == SMTP_E_HDR_CRLF);
        else
            CHECK(e == SMTP_E_HDR_8BIT || e == SMTP_E_HDR_SYNTAX || e == SMTP_E_HDR_TOO_LONG);
        if (kind == MIME_HDR_UNSTRUCTURED)
            CHECK(e == SMTP_E_HDR_CRLF);
        /* the error does not depend on the room */
        CHECK(mime_hdr_format(name, nlen, val, vlen, flags, NULL, 0) == r);
        free(out);
        free(val);
        return 0;
    }
    CHECK(!has_crlf);
    CHECK((size_t)r <= bound);
    check_form(name, nlen, out, (size_t)r, flags);

    /* exactly the room needed: the same bytes; one byte less: BUSY */
    out2 = malloc((size_t)r);
    r2 = mime_hdr_format(name, nlen, val, vlen, flags, out2, (size_t)r);
    CHECK(r2 == r && memcmp(out, out2, (size_t)r) == 0);
    free(out2);
    out2 = malloc((size_t)r - 1);
    r2 = mime_hdr_format(name, nlen, val, vlen, flags, out2, (size_t)r - 1);
    CHECK(r2 == -SMTP_E_BUSY);
    free(out2);
    if (data[0] & 0x40) {
        size_t cap;
        rng = 2166136261u;
        for (i = 0; i < size; i++)
            rng = (rng ^ data[i]) * 16777619u;
        cap = rng % (size_t)r;
        out2 = malloc(cap ? cap : 1);
        CHECK(mime_hdr_format(name, nlen, val, vlen, flags, out2, cap) == -SMTP_E_BUSY);
        free(out2);
    }

    if (kind == MIME_HDR_UNSTRUCTURED) {
        /* unfold, cut "Name: " and CRLF, decode: the value again */
        tmp = malloc((size_t)r);
        dec = malloc((size_t)r + 1);
        word = malloc((size_t)r);
        u = 0;
        for (i = nlen + 2; i < (size_t)r - 2; i++) {
            if (out[i] == '\r') {
                i++;
                continue;
            }
            tmp[u++] = out[i];
        }
        u = oracle_rfc2047(tmp, u, dec, word);
        CHECK(u == vlen && (vlen == 0 || memcmp(dec, val, vlen) == 0));
        free(tmp);
        free(dec);
        free(word);
    }
    free(out);
    free(val);
    return 0;
}
