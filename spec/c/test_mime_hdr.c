/*
 * test_mime_hdr.c -- mime_hdr: names, kinds, RFC 2047 encoded-words, address
 * lists, RFC 2231 parameters, folding, errors and the output bound.
 *
 * Every name, value and output buffer sits against a guard page; the output
 * buffer is exactly the capacity passed, so a write one byte past cap
 * faults. Each table case is formatted with cap = mime_hdr_bound(), with
 * cap = the exact length (same bytes) and with one byte less (SMTP_E_BUSY);
 * an error case gives the same error with cap = 0. mime_hdr_format is
 * one-shot (no state to split), so "chunking" is the capacity.
 *
 * Every output, from the tables and from the random cases, also passes
 * form(), written here from RFC 5322 and independent of the engine: it ends
 * in CRLF, has no other CR or LF, no line over 998 octets, continuation
 * lines that start with SP or HTAB and are not white space only, only ASCII
 * unless MIME_HDR_UTF8, starts with the canonical name and ": ", and a
 * line is over 78 octets only when it could not be folded (no white space
 * inside it). Unstructured values are decoded back by an RFC 2047 decoder
 * written here (B and Q, white space between adjacent encoded-words
 * dropped), RFC 2231 file names by a collector of name*N* segments.
 * Python's email package checks the same in hdr_oracle.py (run.sh).
 *
 * Engines: mime_hdr.c smtp_errors.c
 */
#include "guard.h"
#include "tap.h"
#include "mime/mime_hdr.h"
#include "base/smtp_errors.h"

#include <stdint.h>
#include "oracle.h"

#define STR(s) s, sizeof(s) - 1
#define U MIME_HDR_UTF8
#define BIG 200000

static guard g_name, g_val, g_out;
static char res[16 * BIG];
static size_t reslen;

/* Format with both inputs against guards and exactly cap bytes of output. */
static long fmt(const char *name, size_t nlen, const char *val, size_t vlen,
                unsigned flags, size_t cap)
{
    const char *n = guard_put(&g_name, name, nlen);
    const char *v = guard_put(&g_val, val, vlen);
    char *out = guard_space(&g_out, cap);
    long r = mime_hdr_format(n, nlen, v, vlen, flags, out, cap);
    reslen = 0;
    if (r > 0 && (size_t)r <= cap) {
        memcpy(res, out, (size_t)r);
        reslen = (size_t)r;
    }
    return r;
}

static long fmt_bound(const char *name, size_t nlen, const char *val,
                      size_t vlen, unsigned flags)
{
    return fmt(name, nlen, val, vlen, flags, mime_hdr_bound(nlen, vlen));
}

/* ---- independent checks -------------------------------------------------- */

static int wsp(char c) { return c == ' ' || c == '\t'; }

static char why[256];

/* NULL when out[0..n) is a well-formed header field for name; else why. */
static const char *form(const char *name, size_t nlen, const char *o, size_t n,
                        unsigned flags)
{
    size_t i, ls = 0, k = 0;
    if (n < nlen + 4 || o[n - 2] != '\r' || o[n - 1] != '\n')
        return "does not end in CRLF";
    for (i = 0; i < nlen; i++) {
        char a = o[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return "does not start with the name";
    }
    if (o[nlen] != ':' || o[nlen + 1] != ' ')
        return "no \": \" after the name";
    for (i = 0; i < n; i++)
        if ((unsigned char)o[i] >= 0x80 && !(flags & U))
            return "non-ASCII octet";
    while (ls < n) {
        size_t le = ls, s, e, j;
        while (!(o[le] == '\r'))
            le++;
        if (o[le + 1] != '\n')
            return "bare CR";
        for (j = ls; j < le; j++)
            if (o[j] == '\n')
                return "bare LF";
        if (le - ls > 998) {
            snprintf(why, sizeof why, "line %lu has %lu octets", (unsigned long)k,
                     (unsigned long)(le - ls));
            return why;
        }
        if (k > 0 && !wsp(o[ls]))
            return "continuation line without leading white space";
        s = k == 0 ? ls + nlen + 2 : ls;
        e = le;
        while (s < e && wsp(o[s]))
            s++;
        if (k > 0 && s == e)
            return "a line of white space only";
        while (e > s && wsp(o[e - 1]))
            e--;
        if (le - ls > 78)
            for (j = s; j < e; j++)
                if (wsp(o[j]) && o[j - 1] != '\\') {
                    snprintf(why, sizeof why,
                             "line %lu has %lu octets and could have been folded",
                             (unsigned long)k, (unsigned long)(le - ls));
                    return why;
                }
        ls = le + 2;
        k++;
    }
    return NULL;
}

/* Unfold (drop CRLF before WSP) and cut "Name: " and the final CRLF: dst
 * gets the value. */
static size_t unfold(const char *o, size_t n, size_t nlen, char *dst)
{
    size_t i, d = 0;
    for (i = nlen + 2; i < n - 2; i++) {
        if (o[i] == '\r' && o[i + 1] == '\n') {
            i++;
            continue;
        }
        dst[d++] = o[i];
    }
    return d;
}

/* The text an unstructured field stands for. */
static size_t decode_unstructured(const char *o, size_t n, size_t nlen, char *dst)
{
    static char tmp[BIG], word[BIG];
    size_t u = unfold(o, n, nlen, tmp);
    return oracle_rfc2047(tmp, u, dst, word);
}

/* The file name of a Content-Disposition field in RFC 2231 form, or of a
 * plain filename="..." / filename=token. */
static long filename_of(const char *o, size_t n, char *dst)
{
    static char tmp[BIG];
    size_t u = unfold(o, n, 19, tmp), i = 0, d = 0;
    long seg = 0;
    tmp[u] = '\0';
    while (i < u) {
        char *p = strstr(tmp + i, "filename");
        size_t j;
        if (p == NULL)
            break;
        j = (size_t)(p - tmp) + 8;
        if (tmp[j] == '=') {
            j++;
            if (tmp[j] == '"') {
                for (j++; tmp[j] != '"'; j++) {
                    if (tmp[j] == '\\')
                        j++;
                    dst[d++] = tmp[j];
                }
            } else {
                while (j < u && tmp[j] != ';')
                    dst[d++] = tmp[j++];
            }
            return (long)d;
        }
        if (tmp[j] != '*')
            return -1;
        j++;
        if (tmp[j] == '=') {
            j++;
        } else {
            long num = 0;
            while (tmp[j] >= '0' && tmp[j] <= '9')
                num = num * 10 + (tmp[j++] - '0');
            if (num != seg || tmp[j] != '*' || tmp[j + 1] != '=')
                return -1;
            j += 2;
        }
        if (seg == 0) {
            if (strncmp(tmp + j, "utf-8''", 7) != 0)
                return -1;
            j += 7;
        }
        while (j < u && tmp[j] != ';') {
            if (tmp[j] == '%') {
                dst[d++] = (char)(oracle_unhex(tmp[j + 1]) * 16 + oracle_unhex(tmp[j + 2]));
                j += 3;
            } else {
                dst[d++] = tmp[j++];
            }
        }
        seg++;
        i = j;
    }
    return (long)d;
}

/* ---- table ----------------------------------------------------------------- */

typedef struct {
    unsigned flags;
    const char *name;
    const char *val;
    size_t vlen;
    int rc;          /* 0 or the SMTP_E_* code */
    const char *out; /* expected output when rc == 0 */
    const char *what;
} hcase;

#define V(s) s, sizeof(s) - 1

static const hcase cases[] = {
    /* unstructured */
    {0, "Subject", V("Hello world"), 0, "Subject: Hello world\r\n", "plain ASCII Subject"},
    {0, "subject", V("  two  spaces\tand tab  "), 0,
     "Subject:   two  spaces\tand tab  \r\n", "white space kept as it is"},
    {0, "Subject", V(""), 0, "Subject: \r\n", "empty value"},
    {0, "Subject",
     V("This is a fairly long subject line that will certainly need to be folded somewhere, twice even, because it goes on and on"),
     0,
     "Subject: This is a fairly long subject line that will certainly need to be\r\n"
     " folded somewhere, twice even, because it goes on and on\r\n",
     "long Subject folded at 78 before a space"},
    {0, "Subject", V("Caf\xc3\xa9 cr\xc3\xa8me"), 0,
     "Subject: =?utf-8?B?Q2Fmw6kgY3LDqG1l?=\r\n",
     "accented words: one run, B shorter than Q"},
    {0, "Subject", V("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d"), 0,
     "Subject: =?utf-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?=\r\n", "Japanese Subject"},
    {0, "Subject", V("Z\xc3\xbcrich"), 0, "Subject: =?utf-8?Q?Z=C3=BCrich?=\r\n",
     "Q when Q is not longer than B"},
    {0, "Subject", V("Re: \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e and Gr\xc3\xbc\xc3\x9f" "e from Z\xc3\xbcrich"), 0,
     "Subject: Re: =?utf-8?B?5pel5pys6Kqe?= and =?utf-8?B?R3LDvMOfZQ==?= from\r\n"
     " =?utf-8?Q?Z=C3=BCrich?=\r\n",
     "mixed ASCII and non-ASCII words: only the latter encoded"},
    {0, "Subject", V("a =?x?= b"), 0, "Subject: a =?utf-8?B?PT94Pz0=?= b\r\n",
     "an ASCII word that looks like an encoded-word is encoded"},
    {0, "Subject", V("50%=?off"), 0, "Subject: =?utf-8?B?NTAlPT9vZmY=?=\r\n",
     "\"=?\" inside a word is encoded too"},
    {0, "Subject", V("\xc3\xa9 \xc3\xa9"), 0, "Subject: =?utf-8?B?w6kgw6k=?=\r\n",
     "the space between two encoded words is inside the encoded-word"},
    {0, "Subject", V("bell\x07 x"), 0, "Subject: =?utf-8?Q?bell=07?= x\r\n",
     "a control character is encoded"},
    {0, "Subject", V("\xff\xfe ok"), 0, "Subject: =?utf-8?B?//4=?= ok\r\n",
     "bytes that are not UTF-8 are encoded as they are"},
    {U, "Subject", V("Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln"), 0,
     "Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\r\n", "MIME_HDR_UTF8: raw UTF-8 kept"},
    {U, "Subject", V("ok \xff =?a?="), 0, "Subject: ok =?utf-8?B?/yA9P2E/PQ==?=\r\n",
     "MIME_HDR_UTF8: invalid UTF-8 and \"=?\" still encoded"},
    {0, "X-Custom-Header", V("x"), 0, "X-Custom-Header: x\r\n", "unknown name: unstructured"},

    /* addresses */
    {0, "from", V("J\xc3\xb6rg M\xc3\xbcller <jm@example.com>"), 0,
     "From: =?utf-8?B?SsO2cmcgTcO8bGxlcg==?= <jm@example.com>\r\n",
     "From with a non-ASCII display name"},
    {0, "From", V("\"Doe, J\xc3\xb6hn\" <john@example.com>"), 0,
     "From: =?utf-8?Q?Doe=2C_J=C3=B6hn?= <john@example.com>\r\n",
     "quoted non-ASCII display name: encoded-words without the quotes"},
    {0, "To", V("\"Carol, C.\" <carol@example.com>"), 0,
     "To: \"Carol, C.\" <carol@example.com>\r\n", "quoted ASCII display name with a comma kept"},
    {0, "To",
     V("Alice <alice@example.com>, Bob Builder <bob@example.com>, \"Carol, C.\" <carol@example.com>, dave@example.com, Eve <eve@example.org>"),
     0,
     "To: Alice <alice@example.com>, Bob Builder <bob@example.com>,\r\n"
     " \"Carol, C.\" <carol@example.com>, dave@example.com, Eve <eve@example.org>\r\n",
     "To with 5 addresses folded after a comma"},
    {0, "To", V("a@example.com,b@example.com"), 0, "To: a@example.com, b@example.com\r\n",
     "a space is added after a comma"},
    {0, "To", V("Friends: a@example.com, B\xc3\xb3" "b <b@example.com>;, c@example.com"), 0,
     "To: Friends: a@example.com, =?utf-8?Q?B=C3=B3b?= <b@example.com>;,\r\n"
     " c@example.com\r\n",
     "group syntax with an encoded member name"},
    {0, "Cc", V("Gr\xc3\xbcppe:a@b;"), 0, "Cc: =?utf-8?Q?Gr=C3=BCppe?= : a@b;\r\n",
     "an encoded group name is followed by a space"},
    {0, "To", V("undisclosed-recipients:;"), 0, "To: undisclosed-recipients:;\r\n",
     "empty group"},
    {0, "To", V("a@b (J\xc3\xb6rg)"), 0, "To: a@b (=?utf-8?B?SsO2cmc=?=)\r\n",
     "non-ASCII comment encoded inside the parentheses"},
    {0, "To", V("a@b (plain comment)"), 0, "To: a@b (plain comment)\r\n", "ASCII comment kept"},
    {0, "Reply-To", V("\"=?x?=\" <a@b>"), 0, "Reply-To: =?utf-8?B?PT94Pz0=?= <a@b>\r\n",
     "a display name that looks encoded is encoded"},
    {0, "From", V("J\xc3\xb6rg <j\xc3\xb6rg@example.com>"), SMTP_E_HDR_8BIT, NULL,
     "non-ASCII addr-spec refused without MIME_HDR_UTF8"},
    {U, "From", V("J\xc3\xb6rg <j\xc3\xb6rg@example.com>"), 0,
     "From: J\xc3\xb6rg <j\xc3\xb6rg@example.com>\r\n", "MIME_HDR_UTF8: address kept"},
    {U, "From", V("J\xc3\xb6rg <j\xff@example.com>"), SMTP_E_HDR_8BIT, NULL,
     "MIME_HDR_UTF8: invalid UTF-8 in an addr-spec refused"},
    {0, "To", V("\"abc <a@b>"), SMTP_E_HDR_SYNTAX, NULL, "unterminated quoted-string"},
    {0, "To", V("a (b <a@b>"), SMTP_E_HDR_SYNTAX, NULL, "unterminated comment"},
    {0, "To", V("<a@b"), SMTP_E_HDR_SYNTAX, NULL, "unterminated angle-addr"},
    {0, "List-Id", V("Liste f\xc3\xbcr alle <all.example.com>"), 0,
     "List-ID: =?utf-8?Q?Liste_f=C3=BCr_alle?= <all.example.com>\r\n",
     "List-ID: the phrase is encoded"},

    /* parameters */
    {0, "Content-Disposition", V("attachment; filename=\"r\xc3\xa9sum\xc3\xa9.pdf\""), 0,
     "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n",
     "non-ASCII filename in RFC 2231 form"},
    {0, "content-type", V("text/plain;charset=utf-8;  format=flowed"), 0,
     "Content-Type: text/plain; charset=utf-8; format=flowed\r\n",
     "parameters: \"; \" between them"},
    {0, "Content-Type", V("multipart/mixed; boundary=\"=_a b\"; ;"), 0,
     "Content-Type: multipart/mixed; boundary=\"=_a b\"\r\n",
     "quoted value kept, empty parameters dropped"},
    {0, "Content-Disposition", V("attachment; filename=\"it's 100%.txt\""), 0,
     "Content-Disposition: attachment; filename=\"it's 100%.txt\"\r\n",
     "ASCII quoted filename kept"},
    {0, "Content-Disposition", V("attachment; filename*=utf-8''%C3%A9"), 0,
     "Content-Disposition: attachment; filename*=utf-8''%C3%A9\r\n",
     "a parameter already in RFC 2231 form is kept"},
    {U, "Content-Disposition", V("attachment; filename=r\xc3\xa9sum\xc3\xa9.pdf"), 0,
     "Content-Disposition: attachment; filename=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\n",
     "MIME_HDR_UTF8: a non-ASCII token becomes a quoted-string"},
    {0, "Content-Type", V("text/plain; name=\"abc"), SMTP_E_HDR_SYNTAX, NULL,
     "unterminated quote in a parameter"},
    {0, "Content-Type", V("t\xc3\xa9xt/plain"), SMTP_E_HDR_8BIT, NULL,
     "non-ASCII media type"},

    /* structured */
    {0, "message-id", V("<abc@example.com>"), 0, "Message-ID: <abc@example.com>\r\n",
     "Message-ID"},
    {0, "Message-ID", V("<\xc3\xa9@example.com>"), SMTP_E_HDR_8BIT, NULL,
     "Message-ID with non-ASCII"},
    {U, "Message-ID", V("<\xc3\xa9@example.com>"), 0, "Message-ID: <\xc3\xa9@example.com>\r\n",
     "MIME_HDR_UTF8: Message-ID with UTF-8"},
    {0, "mime-version", V("  1.0  "), 0, "MIME-Version: 1.0\r\n",
     "structured: white space around trimmed"},
    {0, "References",
     V("<aaaaaaaaaaaaaaaa@example.com> <bbbbbbbbbbbbbbbb@example.com> <cccccccccccccccc@example.com>"),
     0,
     "References: <aaaaaaaaaaaaaaaa@example.com> <bbbbbbbbbbbbbbbb@example.com>\r\n"
     " <cccccccccccccccc@example.com>\r\n",
     "References folded at white space"},
    {0, "Date", V("Mon, 1 Jan 2024 00:00:00 +0000"), 0,
     "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n", "Date"},
    {0, "List-Unsubscribe", V("<mailto:u@example.com>, <https://example.com/u>"), 0,
     "List-Unsubscribe: <mailto:u@example.com>, <https://example.com/u>\r\n",
     "other List-* fields are structured"},

    /* CR, LF, NUL */
    {0, "Subject", V("a\rb"), SMTP_E_HDR_CRLF, NULL, "CR in a value"},
    {0, "Subject", V("a\nb"), SMTP_E_HDR_CRLF, NULL, "LF in a value"},
    {0, "Subject", V("a\0b"), SMTP_E_HDR_CRLF, NULL, "NUL in a value"},
    {0, "Subject", V("a\r\n b"), SMTP_E_HDR_CRLF, NULL, "a folded value is refused too"},
    {0, "To", V("a@b\r\nBcc: x@y"), SMTP_E_HDR_CRLF, NULL, "header injection refused"},

    /* names */
    {0, "", V("x"), SMTP_E_HDR_NAME, NULL, "empty name"},
    {0, "Sub ject", V("x"), SMTP_E_HDR_NAME, NULL, "space in a name"},
    {0, "Subject:", V("x"), SMTP_E_HDR_NAME, NULL, "colon in a name"},
    {0, "Sub\x7fject", V("x"), SMTP_E_HDR_NAME, NULL, "DEL in a name"},
    {0, "Gr\xc3\xbc\xc3\x9f" "e", V("x"), SMTP_E_HDR_NAME, NULL, "non-ASCII name"},
    {0, "Sub\tject", V("x"), SMTP_E_HDR_NAME, NULL, "TAB in a name"},
    {0, "Bad Name", V("a\r\nb"), SMTP_E_HDR_NAME, NULL, "the name is checked first"},
};

static void table(void)
{
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hcase *c = &cases[i];
        size_t nlen = strlen(c->name);
        long r = fmt_bound(c->name, nlen, c->val, c->vlen, c->flags);
        if (c->rc != 0) {
            int again;
            is_int(r, -c->rc, "%s: %s", c->what, smtp_errname(c->rc));
            again = (int)fmt(c->name, nlen, c->val, c->vlen, c->flags, 0);
            is_int(again, -c->rc, "%s: same error with no room", c->what);
            continue;
        }
        if (!is_mem(res, reslen, c->out, strlen(c->out), "%s", c->what)) {
            diag("rc %ld (%s)", r, r < 0 ? smtp_errname((int)-r) : "ok");
            continue;
        }
        {
            const char *bad = form(c->name, nlen, res, reslen, c->flags);
            size_t len = reslen;
            ok(bad == NULL, "%s: well formed%s%s", c->what, bad ? ": " : "", bad ? bad : "");
            r = fmt(c->name, nlen, c->val, c->vlen, c->flags, len);
            ok(r == (long)len && memcmp(res, c->out, len) == 0,
               "%s: exact room gives the same bytes", c->what);
            r = fmt(c->name, nlen, c->val, c->vlen, c->flags, len - 1);
            is_int(r, -SMTP_E_BUSY, "%s: one byte short is BUSY", c->what);
        }
    }
}

/* ---- long values built here ------------------------------------------------ */

static char exp_buf[BIG];
static size_t exp_len;

static void e_reset(void) { exp_len = 0; }
static void e_cat(const char *s)
{
    size_t n = strlen(s);
    memcpy(exp_buf + exp_len, s, n);
    exp_len += n;
}
static void e_rep(char c, size_t n)
{
    memset(exp_buf + exp_len, c, n);
    exp_len += n;
}

static void long_values(void)
{
    static char v[BIG], d[BIG];
    size_t i, dn;
    long r;
    const char *bad;

    /* a 1200-character word: split into encoded-words (Q: all 'x') */
    memset(v, 'x', 1200);
    r = fmt_bound(STR("Subject"), v, 1200, 0);
    e_reset();
    e_cat("Subject: =?utf-8?Q?");
    e_rep('x', 57);
    e_cat("?=\r\n");
    for (i = 0; i < 18; i++) {
        e_cat(" =?utf-8?Q?");
        e_rep('x', 63);
        e_cat("?=\r\n");
    }
    e_cat(" =?utf-8?Q?xxxxxxxxx?=\r\n");
    is_mem(res, reslen, exp_buf, exp_len, "1200-char word: split into encoded-words");
    bad = form("Subject", 7, res, reslen, 0);
    ok(bad == NULL, "1200-char word: well formed %s", bad ? bad : "");
    dn = decode_unstructured(res, reslen, 7, d);
    is_mem(d, dn, v, 1200, "1200-char word: decodes back");

    /* a word that fits a 998-octet line is kept whole */
    memcpy(v, "a ", 2);
    memset(v + 2, 'y', 980);
    memcpy(v + 982, " b", 2);
    r = fmt_bound(STR("Subject"), v, 984, 0);
    e_reset();
    e_cat("Subject: a\r\n ");
    e_rep('y', 980);
    e_cat("\r\n b\r\n");
    is_mem(res, reslen, exp_buf, exp_len, "980-char word: on a line of its own");
    ok(form("Subject", 7, res, reslen, 0) == NULL, "980-char word: well formed");

    /* 990 on the first line would make 1000 octets: encoded */
    memset(v, 'y', 990);
    r = fmt_bound(STR("X-Mailer"), v, 990, 0);
    ok(r > 0 && memcmp(res, "X-Mailer: =?utf-8?Q?yyy", 23) == 0,
       "990-char first word after the name: encoded");
    dn = decode_unstructured(res, reslen, 8, d);
    is_mem(d, dn, v, 990, "990-char first word: decodes back");

    /* 2000 spaces between two words: the whole value as encoded-words */
    v[0] = 'a';
    memset(v + 1, ' ', 2000);
    v[2001] = 'b';
    r = fmt_bound(STR("Subject"), v, 2002, 0);
    bad = form("Subject", 7, res, reslen, 0);
    ok(r > 0 && bad == NULL, "2000 spaces: well formed %s", bad ? bad : "");
    ok(memcmp(res, "Subject: =?utf-8?Q?a___", 23) == 0, "2000 spaces: all encoded");
    dn = decode_unstructured(res, reslen, 7, d);
    is_mem(d, dn, v, 2002, "2000 spaces: decodes back");

    /* 300-character ASCII filename: RFC 2231 continuations */
    strcpy(v, "attachment; filename=\"");
    i = strlen(v);
    memset(v + i, 'a', 300);
    strcpy(v + i + 300, ".txt\"");
    r = fmt_bound(STR("Content-Disposition"), v, strlen(v), 0);
    e_reset();
    e_cat("Content-Disposition: attachment;\r\n filename*0*=utf-8''");
    e_rep('a', 57);
    e_cat(";\r\n");
    for (i = 1; i <= 3; i++) {
        char head[32];
        snprintf(head, sizeof head, " filename*%lu*=", (unsigned long)i);
        e_cat(head);
        e_rep('a', 64);
        e_cat(";\r\n");
    }
    e_cat(" filename*4*=");
    e_rep('a', 51);
    e_cat(".txt\r\n");
    is_mem(res, reslen, exp_buf, exp_len, "300-char filename: continuations");
    ok(form("Content-Disposition", 19, res, reslen, 0) == NULL, "300-char filename: well formed");
    memset(d, 'a', 300);
    memcpy(d + 300, ".txt", 4);
    r = filename_of(res, reslen, d + 1000);
    is_mem(d + 1000, r > 0 ? (size_t)r : 0, d, 304, "300-char filename: collects back");

    /* a long non-ASCII filename: continuations never split a character */
    strcpy(v, "attachment; filename=\"");
    i = strlen(v);
    for (dn = 0; dn < 100; dn++) {
        memcpy(v + i, "\xe8\xaa\x9e\xc3\xa9", 5);
        i += 5;
    }
    strcpy(v + i, "\"");
    r = fmt_bound(STR("Content-Disposition"), v, strlen(v), 0);
    bad = form("Content-Disposition", 19, res, reslen, 0);
    ok(r > 0 && bad == NULL, "long UTF-8 filename: well formed %s", bad ? bad : "");
    {
        /* every segment decodes to whole characters */
        size_t k, segs = 0;
        int whole = 1;
        for (k = 0; k + 1 < reslen; k++)
            if (res[k] == ';' && res[k + 1] == '\r' && res[k - 1] != 't') {
                segs++;
                /* the byte before ';' ends a %XX; the %XX before it
                 * must be the last byte of a character */
                if (!(res[k - 3] == '%' && (res[k - 2] == 'A' || res[k - 2] == '9')))
                    whole = 0;
            }
        ok(segs >= 3 && whole, "long UTF-8 filename: %lu segments end on characters",
           (unsigned long)segs);
    }
    r = filename_of(res, reslen, d);
    is_mem(d, r > 0 ? (size_t)r : 0, v + 22, 500, "long UTF-8 filename: collects back");

    /* a structured token longer than a line can be */
    v[0] = '<';
    memset(v + 1, 'z', 995);
    v[996] = '>';
    r = fmt_bound(STR("References"), v, 997, 0);
    is_int(r, -SMTP_E_HDR_TOO_LONG, "References with a 997-char id: HDR_TOO_LONG");
    r = fmt_bound(STR("References"), v + 2, 984, 0);
    ok(r > 0 && form("References", 10, res, reslen, 0) == NULL,
       "a 984-char token fits a line of 996");
    /* an addr-spec that long */
    memcpy(v, "<", 1);
    memset(v + 1, 'u', 1000);
    memcpy(v + 1001, "@x>", 3);
    r = fmt_bound(STR("To"), v, 1004, 0);
    is_int(r, -SMTP_E_HDR_TOO_LONG, "a 1004-char address: HDR_TOO_LONG");
    /* a display name that long: written as encoded-words */
    v[0] = '"';
    memset(v + 1, 'n', 1100);
    memcpy(v + 1101, "\" <a@b>", 7);
    r = fmt_bound(STR("To"), v, 1108, 0);
    ok(r > 0 && form("To", 2, res, reslen, 0) == NULL && memcmp(res, "To: =?utf-8?Q?nnn", 17) == 0,
       "a 1100-char quoted display name: encoded-words");
    /* a long quoted ASCII display name folds at its spaces */
    strcpy(v, "\"aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh\" <x@y>");
    r = fmt_bound(STR("To"), v, strlen(v), 0);
    is_mem(res, reslen, STR("To: \"aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff\r\n"
           " gggggggggg hhhhhhhhhh\" <x@y>\r\n"),
           "a quoted display name folds inside the quotes");
}

/* ---- random values ------------------------------------------------------------ */

/* words[0..ASCII_WORDS) are ASCII without control characters */
#define ASCII_WORDS 18
static const char *const words[] = {
    "hello", "world", "Re:", "a", "(x)", "\"q\"", "a@b.c", "<x@y>", "=?", "?=", "=?x?=",
    "back\\slash", "50%", "_", "semi;colon", "comma,", ":", "x=\"y z\"",
    "Gr\xc3\xbc\xc3\x9f" "e", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "\xf0\x9f\x98\x80", "x\xf0\x9f\x98\x80y", "\xff", "\xc3", "\xe6\x97", "\xed\xa0\x80",
    "\x01", "\x7f",
};

static const char *rand_word(int ascii)
{
    return words[tap_below(ascii ? ASCII_WORDS : sizeof words / sizeof words[0])];
}

static size_t rand_value(char *v, size_t max, int ascii)
{
    size_t n = 0, words_n = 1 + tap_below(40);
    size_t i;
    for (i = 0; i < words_n && n + 1100 < max; i++) {
        size_t r = tap_below(20);
        if (i > 0 || tap_below(8) == 0) {
            size_t k = 1 + (tap_below(6) == 0 ? tap_below(4) : 0);
            while (k--)
                v[n++] = tap_below(5) == 0 ? '\t' : ' ';
        }
        if (r == 0) {
            /* a long word */
            size_t len = 1 + tap_below(1050);
            const char *w = rand_word(ascii);
            size_t wl = strlen(w), j;
            for (j = 0; j + wl <= len; j += wl)
                memcpy(v + n + j, w, wl);
            n += j;
        } else {
            const char *w = rand_word(ascii);
            memcpy(v + n, w, strlen(w));
            n += strlen(w);
        }
    }
    if (tap_below(8) == 0)
        v[n++] = ' ';
    return n;
}

static void random_values(void)
{
    static char v[BIG], d[BIG];
    static const char *const names[] = {"Subject", "To", "From", "Content-Type",
                                        "Content-Disposition", "Message-ID", "References",
                                        "X-Long-Header-Name-That-Is-Long-Enough-To-Matter-Here-For-Folding"};
    int round, bad_form = 0, bad_decode = 0, bad_bound = 0, bad_rc = 0, errors = 0;
    int counted = 0;
    for (round = 0; round < 6000; round++) {
        const char *name = names[tap_below(sizeof names / sizeof names[0])];
        size_t nlen = strlen(name);
        size_t n = rand_value(v, sizeof v, mime_hdr_kind(name, nlen) != MIME_HDR_UNSTRUCTURED &&
                                               tap_below(3) != 0);
        unsigned flags = tap_below(4) == 0 ? U : 0;
        size_t bound = mime_hdr_bound(nlen, n);
        long r = fmt(name, nlen, v, n, flags, bound);
        const char *bad;
        if (r < 0) {
            int e = (int)-r;
            errors++;
            if (e != SMTP_E_HDR_8BIT && e != SMTP_E_HDR_SYNTAX && e != SMTP_E_HDR_TOO_LONG) {
                if (bad_rc++ == 0)
                    diag("%s: unexpected %s", name, smtp_errname(e));
            }
            if (mime_hdr_kind(name, nlen) == MIME_HDR_UNSTRUCTURED && bad_rc++ == 0)
                diag("unstructured failed: %s", smtp_errname(e));
            continue;
        }
        counted++;
        if ((size_t)r > bound)
            bad_bound++;
        bad = form(name, nlen, res, reslen, flags);
        if (bad != NULL) {
            if (bad_form++ < 3) {
                unsigned long at = 0, line = 0;
                diag("%s (flags %u): %s; input:", name, flags, bad);
                tap_escape(stdout, v, n, 3000);
                putchar('\n');
                if (sscanf(bad, "line %lu", &line) == 1)
                    while (line > 0 && at < reslen)
                        if (res[at++] == '\n')
                            line--;
                diag("output from the bad line:");
                tap_escape(stdout, res + at, reslen - at, 1200);
                putchar('\n');
            }
        }
        if (mime_hdr_kind(name, nlen) == MIME_HDR_UNSTRUCTURED) {
            size_t dn = decode_unstructured(res, reslen, nlen, d);
            if (dn != n || memcmp(d, v, n) != 0) {
                if (bad_decode++ < 3) {
                    diag("does not decode back:");
                    tap_escape(stdout, res, reslen, 400);
                    putchar('\n');
                }
            }
        }
    }
    diag("%d random fields formatted, %d refused", counted, errors);
    ok(bad_rc == 0, "random: only HDR_8BIT/SYNTAX/TOO_LONG, never for unstructured");
    ok(bad_form == 0, "random: every output well formed (%d not)", bad_form);
    ok(bad_decode == 0, "random: unstructured values decode back (%d do not)", bad_decode);
    ok(bad_bound == 0, "random: within mime_hdr_bound");
}

/* ---- the bound -------------------------------------------------------------------- */

static void bound_checks(void)
{
    static char v[BIG];
    static const struct {
        const char *name;
        const char *unit;
        const char *what;
    } worst[] = {
        {"Subject", "\x01 a ", "one-byte runs between plain words"},
        {"Subject", "\xff a ", "one invalid byte per run"},
        {"Subject", "=? ", "\"=?\" words"},
        {"To", "(\x01) ", "encoded comments"},
        {"To", ",(=?)", "commas and encoded comments"},
        {"To", "\"\x01\"<a>,", "encoded display names"},
        {"Content-Type", ";a=\x01", "RFC 2231 parameters"},
        {"Content-Type", ",,,,", "commas in a media type"},
        {"X-A", "\xf0\x9f\x98\x80 a ", "emoji runs"},
    };
    size_t i, k;
    double maxr = 0;
    int all = 1;
    is_int(mime_hdr_bound(SIZE_MAX, 1) == SIZE_MAX, 1, "bound: huge name saturates");
    is_int(mime_hdr_bound(10, SIZE_MAX / 2) == SIZE_MAX, 1, "bound: huge value saturates");
    ok(mime_hdr_bound(7, 0) >= 11, "bound: room for \"Subject: \\r\\n\"");
    for (i = 0; i < sizeof worst / sizeof worst[0]; i++) {
        size_t ul = strlen(worst[i].unit), n = 0;
        long r;
        for (k = 0; n + ul < 30000; k++) {
            memcpy(v + n, worst[i].unit, ul);
            n += ul;
        }
        r = fmt_bound(worst[i].name, strlen(worst[i].name), v, n, 0);
        if (r > 0) {
            double ratio = (double)r / (double)n;
            if (ratio > maxr)
                maxr = ratio;
        } else if (r != -SMTP_E_HDR_TOO_LONG) {
            all = 0;
            diag("%s: %s", worst[i].what, smtp_errname((int)-r));
        }
    }
    {
        /* RFC 2231 continuations of a 40-character name, worst characters:
         * j one-byte %XX then a 4-byte character, so that each segment
         * ends with room wasted */
        size_t n, j;
        long r;
        int good = 1;
        for (j = 0; j <= 12; j++) {
            strcpy(v, "x/y; ");
            n = strlen(v);
            memset(v + n, 'p', MIME_HDR_ATTR_MAX);
            n += MIME_HDR_ATTR_MAX;
            v[n++] = '=';
            while (n < 60000) {
                memset(v + n, 1, j);
                n += j;
                memcpy(v + n, "\xf0\x9f\x98\x80", 4);
                n += 4;
            }
            r = fmt_bound(STR("Content-Type"), v, n, 0);
            if (!(r > 0 && form("Content-Type", 12, res, reslen, 0) == NULL))
                good = 0;
            if (r > 0 && (double)r / (double)n > maxr)
                maxr = (double)r / (double)n;
        }
        ok(good, "bound: long RFC 2231 parameters with a %d-char name", MIME_HDR_ATTR_MAX);
    }
    diag("largest output/input ratio seen: %.2f (bound: about 12)", maxr);
    ok(all, "bound: every worst case fits mime_hdr_bound (a guard faults otherwise)");
}

/* ---- names, kinds, canonic --------------------------------------------------------- */

static void names(void)
{
    static const struct {
        const char *in, *out;
    } canon[] = {
        {"x-custom-header", "X-Custom-Header"}, {"SUBJECT", "Subject"},
        {"message-id", "Message-ID"},           {"MESSAGE-ID", "Message-ID"},
        {"mime-version", "MIME-Version"},       {"content-md5", "Content-MD5"},
        {"content-id", "Content-ID"},           {"list-id", "List-ID"},
        {"dkim-signature", "DKIM-Signature"},   {"resent-message-id", "Resent-Message-ID"},
        {"x_foo.bar", "X_Foo.Bar"},             {"x-2fa", "X-2fa"},
        {"In-Reply-To", "In-Reply-To"},         {"x-msmail-priority", "X-Msmail-Priority"},
        {"X-MIME-Version", "X-Mime-Version"},   {"cc", "Cc"},
        {"content-transfer-encoding", "Content-Transfer-Encoding"},
    };
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {
        {"From", MIME_HDR_ADDRESS},          {"to", MIME_HDR_ADDRESS},
        {"CC", MIME_HDR_ADDRESS},            {"bcc", MIME_HDR_ADDRESS},
        {"Reply-To", MIME_HDR_ADDRESS},      {"sender", MIME_HDR_ADDRESS},
        {"Resent-From", MIME_HDR_ADDRESS},   {"resent-to", MIME_HDR_ADDRESS},
        {"Resent-Cc", MIME_HDR_ADDRESS},     {"Resent-Bcc", MIME_HDR_ADDRESS},
        {"Resent-Sender", MIME_HDR_ADDRESS}, {"Disposition-Notification-To", MIME_HDR_ADDRESS},
        {"List-Id", MIME_HDR_ADDRESS},       {"Content-Type", MIME_HDR_PARAMS},
        {"content-disposition", MIME_HDR_PARAMS},
        {"Date", MIME_HDR_STRUCTURED},       {"Message-Id", MIME_HDR_STRUCTURED},
        {"In-Reply-To", MIME_HDR_STRUCTURED}, {"References", MIME_HDR_STRUCTURED},
        {"MIME-Version", MIME_HDR_STRUCTURED}, {"Content-Transfer-Encoding", MIME_HDR_STRUCTURED},
        {"Content-ID", MIME_HDR_STRUCTURED}, {"Resent-Date", MIME_HDR_STRUCTURED},
        {"Resent-Message-ID", MIME_HDR_STRUCTURED}, {"Received", MIME_HDR_STRUCTURED},
        {"Return-Path", MIME_HDR_STRUCTURED}, {"DKIM-Signature", MIME_HDR_STRUCTURED},
        {"List-Unsubscribe", MIME_HDR_STRUCTURED}, {"list-post", MIME_HDR_STRUCTURED},
        {"Subject", MIME_HDR_UNSTRUCTURED},  {"Comments", MIME_HDR_UNSTRUCTURED},
        {"Keywords", MIME_HDR_UNSTRUCTURED}, {"Content-Description", MIME_HDR_UNSTRUCTURED},
        {"X-Mailer", MIME_HDR_UNSTRUCTURED}, {"From-X", MIME_HDR_UNSTRUCTURED},
        {"Fro", MIME_HDR_UNSTRUCTURED},      {"List-", MIME_HDR_UNSTRUCTURED},
    };
    size_t i;
    char out[128], name77[80];
    int all = 1;
    for (i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        size_t n = strlen(canon[i].in);
        const char *p = guard_put(&g_name, canon[i].in, n);
        char *o = guard_space(&g_out, n);
        mime_hdr_canonic(p, n, o);
        memcpy(out, o, n);
        is_mem(out, n, canon[i].out, strlen(canon[i].out), "canonic: %s", canon[i].in);
    }
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (mime_hdr_kind(kinds[i].name, strlen(kinds[i].name)) != kinds[i].kind) {
            diag("kind of %s: %d, expected %d", kinds[i].name,
                 mime_hdr_kind(kinds[i].name, strlen(kinds[i].name)), kinds[i].kind);
            all = 0;
        }
    ok(all, "kind: %lu names", (unsigned long)(sizeof kinds / sizeof kinds[0]));

    /* check_name: every octet, and the length bound */
    all = 1;
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        int want = (i >= 33 && i <= 126 && i != ':') ? 0 : -SMTP_E_HDR_NAME;
        if (mime_hdr_check_name(guard_put(&g_name, &c, 1), 1) != want)
            all = 0;
    }
    ok(all, "check_name: octets 33..126 except ':'");
    memset(name77, 'X', sizeof name77);
    is_int(mime_hdr_check_name(guard_put(&g_name, name77, MIME_HDR_NAME_MAX), MIME_HDR_NAME_MAX), 0,
           "check_name: %d octets", MIME_HDR_NAME_MAX);
    is_int(mime_hdr_check_name(guard_put(&g_name, name77, MIME_HDR_NAME_MAX + 1),
                               MIME_HDR_NAME_MAX + 1),
           -SMTP_E_HDR_NAME, "check_name: %d octets is too long", MIME_HDR_NAME_MAX + 1);
    is_int(mime_hdr_check_name(NULL, 0), -SMTP_E_HDR_NAME, "check_name: empty");
    {
        long r = fmt(name77, MIME_HDR_NAME_MAX, STR("\xc3\xa9t\xc3\xa9 plus long que la ligne"), 0,
                     200);
        const char *bad = r > 0 ? form(name77, MIME_HDR_NAME_MAX, res, reslen, 0) : "error";
        ok(bad == NULL, "a %d-char name with encoded text: well formed %s", MIME_HDR_NAME_MAX,
           bad ? bad : "");
    }

    /* check_value: every octet */
    all = 1;
    for (i = 0; i < 256; i++) {
        char c[3] = {'a', (char)i, 'b'};
        int want = (i == '\r' || i == '\n' || i == 0) ? -SMTP_E_HDR_CRLF : 0;
        if (mime_hdr_check_value(guard_put(&g_val, c, 3), 3) != want)
            all = 0;
    }
    ok(all, "check_value: only CR, LF and NUL refused");

    /* CR, LF, NUL at every position of a value, for every kind */
    {
        static const char *const hn[] = {"Subject", "To", "Content-Type", "Date"};
        static const char base[] = "J\xc3\xb6rg <a@b>; x=\"y\" (c)";
        size_t h, pos;
        int b;
        all = 1;
        for (h = 0; h < 4; h++)
            for (pos = 0; pos < sizeof base - 1; pos++)
                for (b = 0; b < 3; b++) {
                    char tmp[sizeof base];
                    memcpy(tmp, base, sizeof base);
                    tmp[pos] = "\r\n"[b];
                    if (fmt(hn[h], strlen(hn[h]), tmp, sizeof base - 1, 0, 512) !=
                        -SMTP_E_HDR_CRLF)
                        all = 0;
                }
        ok(all, "CR, LF or NUL at any position of any kind: HDR_CRLF");
    }
}

/* The one-line shortcut writes exactly what the full writer writes: 1 if
 * they agree on this field; the first difference is shown. */
static int agree(const char *nm, const char *v, size_t vl, unsigned long *bad)
{
    static char a[4096], b[4096];
    long n1 = mime_hdr_format(nm, strlen(nm), v, vl, 0, a, sizeof a);
    long n2 = mime_hdr_format(nm, strlen(nm), v, vl, MIME_HDR_FULL, b, sizeof b);
    if (n1 == n2 && (n1 <= 0 || memcmp(a, b, (size_t)n1) == 0))
        return 1;
    if ((*bad)++ == 0)
        diag("first difference: %s: %.*s", nm, (int)vl, v);
    return 0;
}

static void shortcut_checks(void)
{
    static const char *const hnames[] = {
        "Subject", "X-Part-Id", "Content-Description", "From", "To", "Content-Type",
        "Content-Disposition", "Message-ID", "Date", "References", "List-Unsubscribe",
        "Received", "MIME-Version", "reply-to", "CONTENT-ID"};
    static const char alphabet[] = "abcXYZ019 .-_@<>\"(),;:=?*/\\!#$%&'+[]{}|~^`\t";
    /* parameter headers built from realistic pieces */
    static const char *const pnames[] = {"Content-Type", "Content-Disposition", "content-type"};
    static const char *const pieces[] = {
        "text/plain", "multipart/mixed", "attachment", "inline", "; ", ";", " ",
        "charset=", "name=", "filename=", "\"", "us-ascii", "utf-8", "a b", "x.pdf",
        "=", "/", "boundary=", "=_ab", "\"\"", "'", "-", "."};
    char v[100];
    unsigned long k, bad = 0, same = 0;
    for (k = 0; k < 300000; k++) {
        size_t vl = 1 + (size_t)(tap_rand() % 70), i;
        for (i = 0; i < vl; i++)
            v[i] = alphabet[tap_rand() % (sizeof alphabet - 1)];
        same += (unsigned long)agree(hnames[tap_rand() % (sizeof hnames / sizeof hnames[0])],
                                     v, vl, &bad);
    }
    ok(bad == 0, "the one-line shortcut and the full writer agree (%lu random fields)", same);
    bad = same = 0;
    for (k = 0; k < 300000; k++) {
        size_t vl = 0;
        int np = 1 + (int)(tap_rand() % 8), i;
        for (i = 0; i < np; i++) {
            const char *pc = pieces[tap_rand() % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(pc);
            if (vl + l >= sizeof v)
                break;
            memcpy(v + vl, pc, l);
            vl += l;
        }
        same += (unsigned long)agree(pnames[tap_rand() % 3], v, vl, &bad);
    }
    ok(bad == 0, "the shortcut agrees on parameter headers too (%lu fields)", same);
}

int main(void)
{
    tap_seed();
    shortcut_checks();
    guard_init(&g_name, 4096);
    guard_init(&g_val, BIG);
    guard_init(&g_out, 16 * BIG);
    names();
    table();
    long_values();
    random_values();
    bound_checks();
    guard_free(&g_name);
    guard_free(&g_val);
    guard_free(&g_out);
    return done_testing();
}
