/*
 * test_caps.c -- smtp_caps: the EHLO capability parser.
 *
 * Each case is an EHLO reply as it comes off the wire. It is read with
 * smtp_reply (whole, byte by byte, random splits: TAP_SEED), its kept text
 * is copied against a guard page and handed to smtp_caps_parse, and the
 * result (extension bits, mechanism bits, SIZE, raw list) is compared with
 * the expected one as a description string.
 *
 * Engines: smtp_caps.c (and smtp_reply.c smtp_errors.c to read the wire)
 */
#include "guard.h"
#include "tap.h"
#include "smtp/smtp_caps.h"
#include "smtp/smtp_reply.h"
#include "base/smtp_errors.h"

#define STR(s) s, sizeof(s) - 1
#define NSPLITS 3

#define E(x) SMTP_EXT(x)
#define M(x) SMTP_MECH(x)

typedef struct {
    const char *name;
    const char *wire;
    size_t n;
    unsigned ext, mechs;
    unsigned long long size;
    const char *raw;
} ccase;

static guard g_in, g_text;

static size_t pick(int mode, size_t left)
{
    if (mode == 0)
        return left;
    if (mode == 1)
        return 1;
    return 1 + tap_below(left < 24 ? left : 24);
}

/* Read one reply from wire (split by mode) and parse its text as caps.
 * Returns 0, or -1 when the wire is not one complete reply. */
static int read_caps(const char *wire, size_t n, int mode, smtp_caps *caps)
{
    smtp_reply *r = malloc(sizeof *r);
    size_t off = 0;
    int rc = SMTP_REPLY_MORE;
    smtp_reply_init(r);
    while (off < n && rc == SMTP_REPLY_MORE) {
        size_t chunk = pick(mode, n - off), used = 0;
        const char *p = guard_put(&g_in, wire + off, chunk);
        rc = smtp_reply_parse(r, p, chunk, &used);
        off += used;
    }
    if (rc != SMTP_REPLY_DONE || off != n) {
        free(r);
        return -1;
    }
    /* fill caps with junk first: parse must reset everything */
    memset(caps, 0xA5, sizeof *caps);
    smtp_caps_parse(caps, guard_put(&g_text, r->text, r->len), r->len);
    free(r);
    return 0;
}

static void describe(char *out, size_t cap, unsigned ext, unsigned mechs,
                     unsigned long long size, const char *raw, size_t rawlen)
{
    size_t o = 0, i;
    int b;
    o += (size_t)snprintf(out + o, cap - o, "ext=");
    for (b = 0; b < 32; b++)
        if (ext & (1u << b))
            o += (size_t)snprintf(out + o, cap - o, "%s,",
                                  smtp_caps_ext_name(b) ? smtp_caps_ext_name(b) : "?");
    o += (size_t)snprintf(out + o, cap - o, " mechs=");
    for (b = 0; b < 32; b++)
        if (mechs & (1u << b))
            o += (size_t)snprintf(out + o, cap - o, "%s,",
                                  smtp_caps_mech_name(b) ? smtp_caps_mech_name(b) : "?");
    o += (size_t)snprintf(out + o, cap - o, " size=%llu raw=", size);
    for (i = 0; i < rawlen && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

static const ccase cases[] = {
    {"Postfix",
     STR("250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
         "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n"
         "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
         "250 CHUNKING\r\n"),
     E(PIPELINING) | E(SIZE) | E(STARTTLS) | E(AUTH) | E(ENHANCEDSTATUSCODES) |
         E(8BITMIME) | E(DSN) | E(SMTPUTF8) | E(CHUNKING),
     M(PLAIN) | M(LOGIN), 10240000ULL,
     "PIPELINING \nSIZE 10240000\nVRFY \nETRN \nSTARTTLS \nAUTH PLAIN LOGIN\n"
     "AUTH PLAIN LOGIN\nENHANCEDSTATUSCODES \n8BITMIME \nDSN \nSMTPUTF8 \nCHUNKING \n"},
    {"aiosmtpd 1.4.3 (captured)",
     STR("250-localhost\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
         "250-AUTH LOGIN PLAIN\r\n250 HELP\r\n"),
     E(SIZE) | E(8BITMIME) | E(SMTPUTF8) | E(AUTH), M(LOGIN) | M(PLAIN), 33554432ULL,
     "SIZE 33554432\n8BITMIME \nSMTPUTF8 \nAUTH LOGIN PLAIN\nHELP \n"},
    {"Gmail",
     STR("250-smtp.gmail.com at your service, [192.0.2.1]\r\n250-SIZE 35882577\r\n"
         "250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
         "250-CHUNKING\r\n250 SMTPUTF8\r\n"),
     E(SIZE) | E(8BITMIME) | E(STARTTLS) | E(ENHANCEDSTATUSCODES) | E(PIPELINING) |
         E(CHUNKING) | E(SMTPUTF8),
     0, 35882577ULL,
     "SIZE 35882577\n8BITMIME \nSTARTTLS \nENHANCEDSTATUSCODES \nPIPELINING \n"
     "CHUNKING \nSMTPUTF8 \n"},
    {"Exchange Online",
     STR("250-outlook.office365.com Hello [192.0.2.1]\r\n250-SIZE 157286400\r\n"
         "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
         "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-REQUIRETLS\r\n"
         "250 SMTPUTF8\r\n"),
     E(SIZE) | E(PIPELINING) | E(DSN) | E(ENHANCEDSTATUSCODES) | E(STARTTLS) |
         E(8BITMIME) | E(BINARYMIME) | E(CHUNKING) | E(REQUIRETLS) | E(SMTPUTF8),
     0, 157286400ULL,
     "SIZE 157286400\nPIPELINING \nDSN \nENHANCEDSTATUSCODES \nSTARTTLS \n8BITMIME \n"
     "BINARYMIME \nCHUNKING \nREQUIRETLS \nSMTPUTF8 \n"},
    {"legacy AUTH=LOGIN PLAIN only",
     STR("250-mx\r\n250-AUTH=LOGIN PLAIN\r\n250 8BITMIME\r\n"),
     E(AUTH) | E(8BITMIME), M(LOGIN) | M(PLAIN), 0,
     "AUTH LOGIN PLAIN\n8BITMIME \n"},
    {"lower-case keywords and mechanisms",
     STR("250-mx\r\n250-pipelining\r\n250-size 1000\r\n250-auth plain cram-md5 xoauth2\r\n"
         "250 StartTLS\r\n"),
     E(PIPELINING) | E(SIZE) | E(AUTH) | E(STARTTLS), M(PLAIN) | M(CRAM_MD5) | M(XOAUTH2),
     1000ULL, "PIPELINING \nSIZE 1000\nAUTH plain cram-md5 xoauth2\nSTARTTLS \n"},
    {"every mechanism, and unknown ones",
     STR("250-mx\r\n250 AUTH PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 "
         "XOAUTH2 OAUTHBEARER GSSAPI NTLM\r\n"),
     E(AUTH),
     M(PLAIN) | M(LOGIN) | M(CRAM_MD5) | M(DIGEST_MD5) | M(SCRAM_SHA_1) |
         M(SCRAM_SHA_256) | M(XOAUTH2) | M(OAUTHBEARER),
     0,
     "AUTH PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 "
     "OAUTHBEARER GSSAPI NTLM\n"},
    {"mechanism names must match whole",
     STR("250-mx\r\n250 AUTH PLAINX LOGI SCRAM-SHA-256-PLUS  CRAM\r\n"), E(AUTH), 0, 0,
     "AUTH PLAINX LOGI SCRAM-SHA-256-PLUS  CRAM\n"},
    {"AUTH with no mechanism", STR("250-mx\r\n250 AUTH\r\n"), E(AUTH), 0, 0, "AUTH \n"},
    {"keyword names must match whole",
     STR("250-mx\r\n250-PIPELININGX\r\n250-SIZEX 5\r\n250 X-SIZE 7\r\n"), 0, 0, 0,
     "PIPELININGX \nSIZEX 5\nX-SIZE 7\n"},
    {"SIZE without a number", STR("250-mx\r\n250 SIZE\r\n"), E(SIZE), 0, 0, "SIZE \n"},
    {"SIZE 0 (no limit)", STR("250-mx\r\n250 SIZE 0\r\n"), E(SIZE), 0, 0, "SIZE 0\n"},
    {"SIZE with trailing junk", STR("250-mx\r\n250 SIZE 12abc\r\n"), E(SIZE), 0, 12,
     "SIZE 12abc\n"},
    {"SIZE at 2^64-1", STR("250-mx\r\n250 SIZE 18446744073709551615\r\n"), E(SIZE), 0,
     18446744073709551615ULL, "SIZE 18446744073709551615\n"},
    {"SIZE 2^64 saturates", STR("250-mx\r\n250 SIZE 18446744073709551616\r\n"), E(SIZE), 0,
     18446744073709551615ULL, "SIZE 18446744073709551616\n"},
    {"huge SIZE saturates", STR("250-mx\r\n250 SIZE 99999999999999999999999999999\r\n"),
     E(SIZE), 0, 18446744073709551615ULL, "SIZE 99999999999999999999999999999\n"},
    {"one-line reply (HELO-like)", STR("250 mx.example.com\r\n"), 0, 0, 0, ""},
    {"bare code lines", STR("250-mx\r\n250-\r\n250\r\n"), 0, 0, 0, ""},
    {"extra spaces before the keyword", STR("250-mx\r\n250-  8BITMIME\r\n250 DSN\r\n"),
     E(8BITMIME) | E(DSN), 0, 0, "8BITMIME \nDSN \n"},
    {"bare LF line ends", STR("250-mx\n250-PIPELINING\n250 SIZE 5\n"),
     E(PIPELINING) | E(SIZE), 0, 5, "PIPELINING \nSIZE 5\n"},
    {"first line is the name, never an extension", STR("250-PIPELINING\r\n250 DSN\r\n"),
     E(DSN), 0, 0, "DSN \n"},
};

/* What the binding reads: the accessors and the iterator give what the
 * struct holds (the iterator joined back is raw, in order). */
static void check_views(const smtp_caps *caps, const ccase *tc)
{
    char joined[SMTP_CAPS_MAX + 1];
    size_t pos = 0, n = 0, klen, plen;
    const char *kw, *params;
    int count = 0;
    while (smtp_caps_next(caps, &pos, &kw, &klen, &params, &plen)) {
        if (n + klen + plen + 2 > sizeof joined)
            break;
        memcpy(joined + n, kw, klen);
        n += klen;
        joined[n++] = ' ';
        memcpy(joined + n, params, plen);
        n += plen;
        joined[n++] = '\n';
        count++;
    }
    is_mem(joined, n, tc->raw, strlen(tc->raw), "%s: smtp_caps_next gives raw (%d)", tc->name,
           count);
    ok(!smtp_caps_next(caps, &pos, &kw, &klen, &params, &plen), "%s: the iterator ends",
       tc->name);
    is_int(smtp_caps_mechs(caps), tc->mechs, "%s: smtp_caps_mechs", tc->name);
    ok(smtp_caps_size(caps) == tc->size, "%s: smtp_caps_size", tc->name);
}

static void check_case(const ccase *tc)
{
    char want[4096], got[4096];
    int mode;
    smtp_caps *caps = malloc(sizeof *caps);
    describe(want, sizeof want, tc->ext, tc->mechs, tc->size, tc->raw, strlen(tc->raw));
    for (mode = 0; mode < 2 + NSPLITS; mode++) {
        const char *how = mode == 0 ? "whole" : mode == 1 ? "byte by byte" : "random split";
        if (read_caps(tc->wire, tc->n, mode, caps) != 0) {
            ok(0, "%s (%s): the wire is one complete reply", tc->name, how);
            continue;
        }
        describe(got, sizeof got, caps->ext, caps->mechs, caps->size, caps->raw, caps->len);
        is_mem(got, strlen(got), want, strlen(want), "%s (%s)", tc->name, how);
    }
    if (read_caps(tc->wire, tc->n, 0, caps) == 0)
        check_views(caps, tc);
    free(caps);
}

/* ---- look-up ------------------------------------------------------------ */

static void check_find(const smtp_caps *caps, const char *kw, const char *want)
{
    size_t plen = 12345;
    const char *k = guard_put(&g_in, kw, strlen(kw));
    const char *p = smtp_caps_find(caps, k, strlen(kw), &plen);
    if (want == NULL) {
        ok(p == NULL && plen == 0, "find \"%s\": not offered", kw);
        return;
    }
    if (p == NULL) {
        ok(0, "find \"%s\": offered", kw);
        return;
    }
    is_mem(p, plen, want, strlen(want), "find \"%s\": parameters", kw);
}

static void find_checks(void)
{
    smtp_caps *caps = malloc(sizeof *caps);
    int i;
    if (read_caps(cases[0].wire, cases[0].n, 0, caps) != 0)
        ok(0, "Postfix reply reads");
    check_find(caps, "PIPELINING", "");
    check_find(caps, "pipelining", "");
    check_find(caps, "PiPeLiNiNg", "");
    check_find(caps, "SIZE", "10240000");
    check_find(caps, "size", "10240000");
    check_find(caps, "Auth", "PLAIN LOGIN");
    check_find(caps, "vrfy", "");
    check_find(caps, "chunking", "");
    check_find(caps, "PIPE", NULL);
    check_find(caps, "PIPELININGS", NULL);
    check_find(caps, "AUTH=PLAIN", NULL);
    check_find(caps, "", NULL);
    check_find(caps, "XFOO", NULL);
    smtp_caps_init(caps);
    check_find(caps, "PIPELINING", NULL);
    is_int(caps->ext | caps->mechs | caps->len, 0, "init: nothing offered");
    is_int(caps->size, 0, "init: no SIZE");

    for (i = 0; i < SMTP_EXT__COUNT; i++)
        ok(smtp_caps_ext_name(i) != NULL, "extension %d has a name (%s)", i,
           smtp_caps_ext_name(i));
    for (i = 0; i < SMTP_MECH__COUNT; i++)
        ok(smtp_caps_mech_name(i) != NULL, "mechanism %d has a name (%s)", i,
           smtp_caps_mech_name(i));
    ok(smtp_caps_ext_name(-1) == NULL && smtp_caps_ext_name(SMTP_EXT__COUNT) == NULL,
       "extension names end");
    ok(smtp_caps_mech_name(-1) == NULL && smtp_caps_mech_name(SMTP_MECH__COUNT) == NULL,
       "mechanism names end");
    free(caps);
}

/* ---- raw overflow: bits are still recorded ------------------------------ */

static void overflow_checks(void)
{
    static char wire[16384];
    size_t n = 0;
    int i, mode;
    smtp_caps *caps = malloc(sizeof *caps);
    n += (size_t)sprintf(wire + n, "250-mx.example.com\r\n");
    for (i = 0; i < 20; i++) {
        n += (size_t)sprintf(wire + n, "250-XJUNK%02d ", i);
        memset(wire + n, 'a', 150);
        n += 150;
        n += (size_t)sprintf(wire + n, "\r\n");
    }
    n += (size_t)sprintf(wire + n, "250-AUTH PLAIN ");
    memset(wire + n, 'b', 300);
    n += 300;
    n += (size_t)sprintf(wire + n, "\r\n250-SIZE 12345\r\n250 PIPELINING\r\n");
    for (mode = 0; mode < 2 + NSPLITS; mode++) {
        size_t plen;
        const char *p;
        const char *how = mode == 0 ? "whole" : mode == 1 ? "byte by byte" : "random split";
        if (read_caps(wire, n, mode, caps) != 0) {
            ok(0, "raw overflow (%s): reply reads", how);
            continue;
        }
        ok(caps->len < SMTP_CAPS_MAX && caps->raw[caps->len] == '\0',
           "raw overflow (%s): raw stays within SMTP_CAPS_MAX (%lu)", how,
           (unsigned long)caps->len);
        is_int(caps->ext, E(AUTH) | E(SIZE) | E(PIPELINING),
               "raw overflow (%s): extension bits still set", how);
        is_int(caps->mechs, M(PLAIN), "raw overflow (%s): mechanism bits still set", how);
        is_int(caps->size, 12345, "raw overflow (%s): SIZE still read", how);
        ok(smtp_caps_find(caps, "XJUNK00", 7, &plen) != NULL,
           "raw overflow (%s): the first extensions are kept", how);
        ok(smtp_caps_find(caps, "XJUNK19", 7, &plen) == NULL,
           "raw overflow (%s): the ones that do not fit are dropped", how);
        ok(smtp_caps_find(caps, "AUTH", 4, &plen) == NULL,
           "raw overflow (%s): the over-long AUTH line is dropped from raw", how);
        p = smtp_caps_find(caps, "SIZE", 4, &plen);
        ok(p != NULL && plen == 5 && memcmp(p, "12345", 5) == 0,
           "raw overflow (%s): a later short line still fits", how);
    }
    free(caps);
}

/* ---- AUTH mechanisms: every AUTH line counts; names are separated as in
 * the SASL engine's lists (space, tab, comma) ------------------------------ */

static void mech_checks(void)
{
    static const struct {
        const char *name, *text;
        unsigned mechs;
    } m[] = {
        {"two AUTH lines", "250-mx\n250-AUTH LOGIN\n250 AUTH=PLAIN CRAM-MD5", M(LOGIN) | M(PLAIN) | M(CRAM_MD5)},
        {"commas", "250-mx\n250 AUTH PLAIN,LOGIN", M(PLAIN) | M(LOGIN)},
        {"a tab", "250-mx\n250 AUTH PLAIN\tXOAUTH2", M(PLAIN) | M(XOAUTH2)},
        {"unknown names skipped", "250-mx\n250 AUTH GSSAPI NTLM ,SCRAM-SHA-256,", M(SCRAM_SHA_256)},
        {"lower case", "250-mx\n250 auth plain", M(PLAIN)},
        {"a name is whole", "250-mx\n250 AUTH PLAINX XPLAIN PLAI", 0},
    };
    smtp_caps *caps = malloc(sizeof *caps);
    size_t i;
    for (i = 0; i < sizeof m / sizeof m[0]; i++) {
        size_t n = strlen(m[i].text);
        smtp_caps_parse(caps, guard_put(&g_text, m[i].text, n), n);
        is_int(smtp_caps_mechs(caps), m[i].mechs, "mechanisms: %s", m[i].name);
    }
    free(caps);
}

int main(void)
{
    size_t i;
    tap_seed();
    guard_init(&g_in, 1 << 15);
    guard_init(&g_text, SMTP_REPLY_MAX);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    find_checks();
    overflow_checks();
    mech_checks();
    guard_free(&g_in);
    guard_free(&g_text);
    return done_testing();
}
