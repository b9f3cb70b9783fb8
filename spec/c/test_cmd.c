/*
 * test_cmd.c -- smtp_cmd: the only command formatter, MAIL/RCPT paths, and
 * the envelope line (its pieces and its length bound).
 *
 * Every piece and every output buffer sits against a guard page: the output
 * buffer's capacity ends exactly at the guard, so writing one byte past cap
 * faults. A refused command must leave the output untouched (bytes and
 * length).
 *
 * Engines: smtp_cmd.c smtp_errors.c
 */
#include "guard.h"
#include "tap.h"
#include "smtp/smtp_cmd.h"
#include "base/smtp_errors.h"
#include "base/smtp_config.h"

#define STR(s) s, sizeof(s) - 1

static guard g_out, g_piece[4];

/* Format pieces (each copied against its own guard) into an output block
 * of cap bytes that already holds prefill bytes. Returns the rc; *res gets
 * the whole block contents, *reslen its length. */
static int format(const smtp_piece *in, int n, size_t cap, size_t prefill,
                  size_t max, char *res, size_t *reslen, int *untouched)
{
    smtp_piece p[4];
    char *out = guard_space(&g_out, cap);
    size_t len = prefill;
    int i, rc;
    for (i = 0; i < n; i++) {
        p[i].p = guard_put(&g_piece[i], in[i].p, in[i].n);
        p[i].n = in[i].n;
    }
    memset(out, '#', cap);
    rc = smtp_cmd_format(out, cap, &len, p, n, max);
    *untouched = 1;
    if (rc != 0) {
        size_t k;
        for (k = 0; k < cap; k++)
            if (out[k] != '#')
                *untouched = 0;
        if (len != prefill)
            *untouched = 0;
    }
    memcpy(res, out, len < cap ? len : cap);
    *reslen = len;
    return rc;
}

static void format_checks(void)
{
    static char res[SMTP_AUTH_CMD_MAX + 64];
    static char big[SMTP_AUTH_CMD_MAX + 64];
    smtp_piece p[4];
    size_t len, pos;
    int rc, untouched, piece;
    static const char bad[] = {'\r', '\n', '\0'};
    static const int bad_rc[] = {-SMTP_E_ARG_CRLF, -SMTP_E_ARG_CRLF, -SMTP_E_ARG_NUL};
    static const char *const bad_name[] = {"CR", "LF", "NUL"};
    int b;

    /* the plain case */
    p[0].p = "MAIL FROM:";
    p[0].n = 10;
    p[1].p = "<a@b>";
    p[1].n = 5;
    rc = format(p, 2, 64, 0, SMTP_CMD_MAX, res, &len, &untouched);
    is_int(rc, 0, "format: MAIL FROM");
    is_mem(res, len, STR("MAIL FROM:<a@b>\r\n"), "format: pieces joined, CRLF appended");

    rc = format(p, 2, 64, 7, SMTP_CMD_MAX, res, &len, &untouched);
    is_int(rc, 0, "format: appends after existing bytes");
    is_mem(res, len, STR("#######MAIL FROM:<a@b>\r\n"), "format: earlier bytes kept");

    rc = format(p, 0, 8, 0, SMTP_CMD_MAX, res, &len, &untouched);
    is_int(rc, 0, "format: no pieces");
    is_mem(res, len, STR("\r\n"), "format: no pieces gives an empty line");

    p[0].p = "";
    p[0].n = 0;
    p[1].p = "DATA";
    p[1].n = 4;
    rc = format(p, 2, 6, 0, SMTP_CMD_MAX, res, &len, &untouched);
    is_int(rc, 0, "format: empty piece, exact fit of cap");
    is_mem(res, len, STR("DATA\r\n"), "format: empty piece adds nothing");

    /* CR, LF, NUL in every position of every piece */
    for (b = 0; b < 3; b++) {
        int all = 1, count = 0;
        for (piece = 0; piece < 3; piece++) {
            static const char *const base[] = {"RCPT TO:", "<user@example.com>", " NOTIFY=NEVER"};
            char buf[3][64];
            smtp_piece q[3];
            int k;
            for (pos = 0; pos < strlen(base[piece]); pos++) {
                for (k = 0; k < 3; k++) {
                    strcpy(buf[k], base[k]);
                    q[k].p = buf[k];
                    q[k].n = strlen(buf[k]);
                }
                buf[piece][pos] = bad[b];
                rc = format(q, 3, 128, 3, SMTP_CMD_MAX, res, &len, &untouched);
                count++;
                if (rc != bad_rc[b] || !untouched) {
                    if (all)
                        diag("%s in piece %d at %lu: rc %s, untouched %d", bad_name[b],
                             piece, (unsigned long)pos, smtp_errname(-rc), untouched);
                    all = 0;
                }
            }
        }
        ok(all, "format: %s refused in each of %d positions, output untouched",
           bad_name[b], count);
    }
    /* a bad byte is refused even when the line would not fit either */
    p[0].p = "NOOP\n";
    p[0].n = 5;
    rc = format(p, 1, 3, 0, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == -SMTP_E_ARG_CRLF && untouched, "format: LF refused before BUSY");

    /* length bound: the line, CRLF included */
    memset(big, 'x', sizeof big);
    p[0].p = big;
    p[0].n = SMTP_CMD_MAX - 2;
    rc = format(p, 1, SMTP_CMD_MAX, 0, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == 0 && len == SMTP_CMD_MAX && memcmp(res + len - 2, "\r\n", 2) == 0,
       "format: line of exactly max (CRLF included)");
    p[0].n = SMTP_CMD_MAX - 1;
    rc = format(p, 1, 4 * SMTP_CMD_MAX, 0, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == -SMTP_E_ARG_TOO_LONG && untouched, "format: max + 1 is too long");
    p[0].n = 200;
    p[1].p = big;
    p[1].n = SMTP_CMD_MAX - 200 - 1;
    rc = format(p, 2, 4 * SMTP_CMD_MAX, 0, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == -SMTP_E_ARG_TOO_LONG && untouched, "format: too long over two pieces");
    {
        /* the length check comes before any byte is read or summed */
        smtp_piece q[2];
        size_t l = 0;
        char o[8];
        q[0].p = big;
        q[0].n = SMTP_CMD_MAX + 1;
        q[1].p = "x";
        q[1].n = 1;
        rc = smtp_cmd_format(o, sizeof o, &l, q, 2, SMTP_CMD_MAX);
        ok(rc == -SMTP_E_ARG_TOO_LONG && l == 0, "format: one huge piece is too long");
    }
    p[0].n = SMTP_AUTH_CMD_MAX - 2;
    rc = format(p, 1, SMTP_AUTH_CMD_MAX, 0, SMTP_AUTH_CMD_MAX, res, &len, &untouched);
    ok(rc == 0 && len == SMTP_AUTH_CMD_MAX, "format: the AUTH bound is separate");

    /* BUSY: valid, but no room left */
    p[0].p = "QUIT";
    p[0].n = 4;
    rc = format(p, 1, 6, 0, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == 0 && len == 6, "format: exact fit");
    rc = format(p, 1, 5, 0, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == -SMTP_E_BUSY && untouched, "format: one byte short is BUSY, untouched");
    rc = format(p, 1, 16, 11, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == -SMTP_E_BUSY && untouched, "format: BUSY counts the bytes already there");
    rc = format(p, 1, 16, 10, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == 0 && len == 16, "format: fits after the bytes already there");
    rc = format(p, 1, 16, 17, SMTP_CMD_MAX, res, &len, &untouched);
    ok(rc == -SMTP_E_BUSY, "format: *len beyond cap is BUSY, not a write");

    /* smtp_cmd_check */
    is_int(smtp_cmd_check(STR("abc")), 0, "check: plain");
    is_int(smtp_cmd_check(STR("")), 0, "check: empty");
    is_int(smtp_cmd_check(STR("a\rb")), -SMTP_E_ARG_CRLF, "check: CR");
    is_int(smtp_cmd_check(STR("a\nb")), -SMTP_E_ARG_CRLF, "check: LF");
    is_int(smtp_cmd_check(STR("a\0b")), -SMTP_E_ARG_NUL, "check: NUL");
    is_int(smtp_cmd_check(STR("\xff\x80\t")), 0, "check: high bytes and TAB pass");
}

/* ---- paths -------------------------------------------------------------- */

typedef struct {
    const char *in;
    size_t n;
    int null_ok;
    int rc;
    const char *sent; /* what goes after "MAIL FROM:" */
} pcase;

static const pcase paths[] = {
    {STR("<a@b>"), 0, 0, "<a@b>"},
    {STR("a@b"), 0, 0, "<a@b>"},
    {STR("  a@b  "), 0, 0, "<a@b>"},
    {STR("\ta@b\t"), 0, 0, "<a@b>"},
    {STR("  <a@b>  "), 0, 0, "<a@b>"},
    {STR("Name <a@b>"), 0, 0, "<a@b>"},
    {STR("\"Q, N\" <a@b>"), 0, 0, "<a@b>"},
    {STR("\"a<b\" <c@d>"), 0, 0, "<c@d>"},
    {STR("<a@b>  "), 0, 0, "<a@b>"},   /* white space after '>' is not sent */
    {STR("<a@b>\t \t"), 1, 0, "<a@b>"},
    {STR("<\"a b\"@c>"), 0, 0, "<\"a b\"@c>"},      /* a quoted local part */
    {STR("<\"a>b\"@c>"), 0, 0, "<\"a>b\"@c>"},      /* '>' in quotes: no end */
    {STR("<\"a\\\"> x\"@c>"), 0, 0, "<\"a\\\"> x\"@c>"}, /* a quoted pair */
    {STR("Name <\"x<y\"@c>"), 0, 0, "<\"x<y\"@c>"},
    {STR("\"a<b\"@c"), 0, 0, "<\"a<b\"@c>"},
    {STR("Name <>"), 1, 0, "<>"},
    {STR("Name<a@b>"), 0, 0, "<a@b>"},
    /* parameters (or anything) after the closing '>' are not an address */
    {STR("<a@b> SIZE=10"), 1, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<a@b> NOTIFY=NEVER"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<a@b> x"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<a@b>x"), 1, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<a@b>>"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<a@b>\tORCPT=rfc822;a@b"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<a@b> <c@d>"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<> SIZE=0"), 1, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<>x"), 1, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<\"a b\"@c> NOTIFY=NEVER"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("<\"a>b\"@c> x"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("\"Q, N\" <a@b> RET=HDRS"), 1, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("Name <a@b> <c@d>"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    /* inside the brackets: white space and '<' only when quoted */
    {STR("<a@b NOTIFY=NEVER>"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("< a@b>"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("<a\t@b>"), 1, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("<a <b@c>"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("<<a@b>>"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("<\"a b@c>"), 0, -SMTP_E_ARG_SYNTAX, NULL}, /* the quote never closes */
    {STR("\"Name <a@b>"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("Name <>"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR(""), 1, 0, "<>"},
    {STR("   "), 1, 0, "<>"},
    {STR("<>"), 1, 0, "<>"},
    {STR("<>"), 0, -SMTP_E_ARG_SYNTAX, NULL}, /* no null path for RCPT */
    {STR(" <> "), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR(""), 0, -SMTP_E_ARG_EMPTY, NULL},
    {STR(" \t "), 0, -SMTP_E_ARG_EMPTY, NULL},
    {STR("<a@b"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("<"), 1, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("a b@c"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("a\tb@c"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("a@b>"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("a@b<"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("Name <a@b"), 0, -SMTP_E_ARG_SYNTAX, NULL},
    {STR("Name <a@b> x"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("Name <a@b>>"), 0, -SMTP_E_ARG_ADDRESS, NULL},
    {STR("a@b>\r\nRCPT TO:<evil@x"), 0, -SMTP_E_ARG_CRLF, NULL},
    {STR("<a@b>\r\nRCPT TO:<evil@x>"), 0, -SMTP_E_ARG_CRLF, NULL},
    {STR("a@b\nRSET"), 1, -SMTP_E_ARG_CRLF, NULL},
    {STR("a@b\r"), 1, -SMTP_E_ARG_CRLF, NULL},
    {STR("a@b\0x"), 1, -SMTP_E_ARG_NUL, NULL},
    {STR("<a@b>\0"), 1, -SMTP_E_ARG_NUL, NULL},
};

static void path_checks(void)
{
    size_t i;
    for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const pcase *tc = &paths[i];
        const char *s = guard_put(&g_piece[0], tc->in, tc->n);
        size_t start = 999, n = 999;
        int wrap = 7;
        int rc = smtp_cmd_path(s, tc->n, tc->null_ok, &start, &n, &wrap);
        char esc[128];
        size_t k, o = 0;
        for (k = 0; k < tc->n && o + 5 < sizeof esc; k++) {
            unsigned char c = (unsigned char)tc->in[k];
            if (c == '\r')
                o += (size_t)sprintf(esc + o, "\\r");
            else if (c == '\n')
                o += (size_t)sprintf(esc + o, "\\n");
            else if (c < 0x20)
                o += (size_t)sprintf(esc + o, "\\x%02X", c);
            else
                esc[o++] = (char)c;
        }
        esc[o] = '\0';
        if (tc->sent == NULL) {
            is_int(rc, tc->rc, "path \"%s\" (%s): refused with %s", esc,
                   tc->null_ok ? "MAIL" : "RCPT", smtp_errname(-tc->rc));
        } else if (rc != 0 || start > tc->n || n > tc->n - start || (wrap != 0 && wrap != 1)) {
            ok(0, "path \"%s\": accepted (rc %s, start %lu, n %lu, wrap %d)", esc,
               smtp_errname(-rc), (unsigned long)start, (unsigned long)n, wrap);
        } else {
            char sent[128];
            size_t sl = 0;
            if (wrap)
                sent[sl++] = '<';
            memcpy(sent + sl, tc->in + start, n);
            sl += n;
            if (wrap)
                sent[sl++] = '>';
            is_mem(sent, sl, tc->sent, strlen(tc->sent), "path \"%s\" (%s)", esc,
                   tc->null_ok ? "MAIL" : "RCPT");
        }
    }

    /* CR, LF or NUL anywhere in a display-name path is refused */
    {
        static const char base[] = "\"Q, N\" <user@example.com> SIZE=1";
        static const char bad[] = {'\r', '\n', '\0'};
        static const int want[] = {-SMTP_E_ARG_CRLF, -SMTP_E_ARG_CRLF, -SMTP_E_ARG_NUL};
        int b, all = 1;
        for (b = 0; b < 3; b++) {
            size_t pos;
            for (pos = 0; pos < sizeof base - 1; pos++) {
                char buf[sizeof base];
                size_t start, n;
                int wrap, rc;
                memcpy(buf, base, sizeof base);
                buf[pos] = bad[b];
                rc = smtp_cmd_path(guard_put(&g_piece[0], buf, sizeof base - 1),
                                   sizeof base - 1, 1, &start, &n, &wrap);
                if (rc != want[b]) {
                    if (all)
                        diag("byte %d at %lu: %s", bad[b], (unsigned long)pos,
                             smtp_errname(-rc));
                    all = 0;
                }
            }
        }
        ok(all, "path: CR, LF, NUL refused at every position");
    }

    /* After the closing '>' of each form of path, for MAIL and RCPT: every
     * byte value, alone and after a space, and every tail of a parameter
     * list. Only white space passes (and is not sent); CR, LF and NUL keep
     * their own codes; anything else is ARG_ADDRESS. */
    {
        static const struct {
            const char *in, *sent;
            int mail_only;
        } forms[] = {
            {"<user@example.com>", "<user@example.com>", 0},
            {"\"Doe, J\" <user@example.com>", "<user@example.com>", 0},
            {"<\"u >x\"@example.com>", "<\"u >x\"@example.com>", 0},
            {"<>", "<>", 1},
        };
        static const char params[] = " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user@example.com";
        int f, null_ok, all = 1, count = 0;
        for (f = 0; f < 4; f++) {
            for (null_ok = forms[f].mail_only; null_ok < 2; null_ok++) {
                size_t bl = strlen(forms[f].in), k;
                int c, sp;
                char buf[160];
                memcpy(buf, forms[f].in, bl);
                for (c = 0; c < 256 + (int)sizeof params - 1; c++) {
                    for (sp = 0; sp < 2; sp++) {
                        size_t len = bl, start = 999, n = 999;
                        int wrap = 7, rc, want;
                        if (sp)
                            buf[len++] = ' ';
                        if (c < 256) {
                            buf[len++] = (char)c;
                            want = c == '\r' || c == '\n' ? -SMTP_E_ARG_CRLF
                                 : c == '\0'             ? -SMTP_E_ARG_NUL
                                 : c == ' ' || c == '\t' ? 0
                                                         : -SMTP_E_ARG_ADDRESS;
                        } else {
                            if (sp)
                                continue; /* the tails start with a space */
                            k = (size_t)(c - 256);
                            memcpy(buf + len, params + k, sizeof params - 1 - k);
                            len += sizeof params - 1 - k;
                            want = -SMTP_E_ARG_ADDRESS;
                        }
                        rc = smtp_cmd_path(guard_put(&g_piece[0], buf, len), len, null_ok,
                                           &start, &n, &wrap);
                        count++;
                        if (rc != want ||
                            (rc == 0 && (wrap != 0 || n != strlen(forms[f].sent) ||
                                         memcmp(buf + start, forms[f].sent, n) != 0))) {
                            if (all)
                                diag("\"%s\" + %s%d (%s): %s, want %s", forms[f].in,
                                     sp ? "space + " : "", c, null_ok ? "MAIL" : "RCPT",
                                     smtp_errname(-rc), smtp_errname(-want));
                            all = 0;
                        }
                    }
                }
            }
        }
        ok(all, "path: after '>', only white space passes (%d cases)", count);
    }
}

/* ---- EHLO/HELO domains ----------------------------------------------------- */

static void domain_checks(void)
{
    static const struct {
        const char *s;
        size_t n;
        int rc;
        const char *name;
    } d[] = {
        {STR("client.example"), 0, "a domain"},
        {STR("[192.0.2.1]"), 0, "an address literal"},
        {STR("[IPv6:2001:db8::1]"), 0, "an IPv6 literal"},
        {STR("x"), 0, "one byte"},
        {STR(""), -SMTP_E_ARG_EMPTY, "empty"},
        {STR("a b"), -SMTP_E_ARG_SYNTAX, "a space"},
        {STR("a\tb"), -SMTP_E_ARG_SYNTAX, "a TAB"},
        {STR(" a"), -SMTP_E_ARG_SYNTAX, "a leading space"},
        {STR("a\r\nRSET"), -SMTP_E_ARG_CRLF, "CRLF injection"},
        {STR("a\n"), -SMTP_E_ARG_CRLF, "LF"},
        {STR("a\r"), -SMTP_E_ARG_CRLF, "CR"},
        {STR("a\0b"), -SMTP_E_ARG_NUL, "NUL"},
    };
    static char big[300];
    size_t i;
    for (i = 0; i < sizeof d / sizeof d[0]; i++)
        is_int(smtp_cmd_domain(guard_put(&g_piece[0], d[i].s, d[i].n), d[i].n), d[i].rc,
               "domain: %s -> %s", d[i].name, smtp_errname(-d[i].rc));
    memset(big, 'a', sizeof big);
    is_int(smtp_cmd_domain(guard_put(&g_piece[0], big, 255), 255), 0, "domain: 255 bytes");
    is_int(smtp_cmd_domain(guard_put(&g_piece[0], big, 256), 256), -SMTP_E_ARG_TOO_LONG,
           "domain: 256 bytes is too long");
}

/* The envelope line smtp_cmd_envelope gives for addr (and params), joined
 * into line (no CRLF); returns the rc of smtp_cmd_envelope, then of
 * smtp_cmd_fits on the bound SMTP_CMD_MAX. */
static int envelope(int mail, const char *addr, size_t len, const char *params, size_t plen,
                    char *line, size_t cap, size_t *linelen)
{
    smtp_piece p[SMTP_ENVELOPE_PIECES];
    int i, k = -1, rc;
    const char *ga = guard_put(&g_piece[0], addr, len);
    const char *gp = guard_put(&g_piece[1], params, plen);
    *linelen = 0;
    rc = smtp_cmd_envelope(p, &k, mail, ga, len, gp, plen);
    if (rc != 0) {
        ok(k == 0, "envelope: no pieces on error");
        return rc;
    }
    ok(k >= 2 && k <= SMTP_ENVELOPE_PIECES, "envelope: %d pieces", k);
    for (i = 0; i < k; i++) {
        if (*linelen + p[i].n <= cap)
            memcpy(line + *linelen, p[i].p, p[i].n);
        *linelen += p[i].n;
    }
    return smtp_cmd_fits(p, k, SMTP_CMD_MAX);
}

static void envelope_checks(void)
{
    static char addr[SMTP_CMD_MAX + 8], params[SMTP_CMD_MAX + 8];
    char line[4 * SMTP_CMD_MAX];
    size_t n;
    is_int(envelope(1, STR("a@b"), "", 0, line, sizeof line, &n), 0, "envelope: MAIL a@b");
    is_mem(line, n, STR("MAIL FROM:<a@b>"), "envelope: brackets added");
    is_int(envelope(0, STR(" Name <x@y> "), STR("NOTIFY=NEVER"), line, sizeof line, &n), 0,
           "envelope: RCPT with params");
    is_mem(line, n, STR("RCPT TO:<x@y> NOTIFY=NEVER"), "envelope: the bracketed part, params");
    is_int(envelope(1, "", 0, "", 0, line, sizeof line, &n), 0, "envelope: MAIL empty");
    is_mem(line, n, STR("MAIL FROM:<>"), "envelope: the null path");
    is_int(envelope(0, "", 0, "", 0, line, sizeof line, &n), -SMTP_E_ARG_EMPTY,
           "envelope: RCPT empty is refused by the path rule");
    is_int(envelope(0, STR("a@b c"), "", 0, line, sizeof line, &n), -SMTP_E_ARG_SYNTAX,
           "envelope: the path rule's errors pass through");
    is_int(envelope(1, STR("a@b"), STR("X=1\r\nRSET"), line, sizeof line, &n), -SMTP_E_ARG_CRLF,
           "envelope: CRLF in params is refused");

    /* the bound: the line with its CRLF is at most SMTP_CMD_MAX bytes:
     * "MAIL FROM:" 10 + "<>" 2 + address + CRLF 2, "RCPT TO:" 8 + 2 + 2 */
    memset(addr, 'b', sizeof addr);
    addr[0] = 'a';
    addr[1] = '@';
    is_int(envelope(1, addr, SMTP_CMD_MAX - 14, "", 0, line, sizeof line, &n), 0,
           "envelope: MAIL line of exactly %d bytes", SMTP_CMD_MAX);
    is_int((int)n + 2, SMTP_CMD_MAX, "envelope: MAIL at the bound, with CRLF");
    is_int(envelope(1, addr, SMTP_CMD_MAX - 13, "", 0, line, sizeof line, &n),
           -SMTP_E_ARG_TOO_LONG, "envelope: MAIL line of %d bytes is too long", SMTP_CMD_MAX + 1);
    is_int(envelope(0, addr, SMTP_CMD_MAX - 12, "", 0, line, sizeof line, &n), 0,
           "envelope: RCPT line of exactly %d bytes", SMTP_CMD_MAX);
    is_int(envelope(0, addr, SMTP_CMD_MAX - 11, "", 0, line, sizeof line, &n),
           -SMTP_E_ARG_TOO_LONG, "envelope: RCPT line of %d bytes is too long", SMTP_CMD_MAX + 1);
    /* "<...>" as given: no brackets added, the same bound */
    addr[0] = '<';
    addr[1] = 'a';
    addr[2] = '@';
    addr[SMTP_CMD_MAX - 13] = '>';
    is_int(envelope(1, addr, SMTP_CMD_MAX - 12, "", 0, line, sizeof line, &n), 0,
           "envelope: MAIL <path> of exactly %d bytes", SMTP_CMD_MAX);
    addr[SMTP_CMD_MAX - 13] = 'b';
    addr[SMTP_CMD_MAX - 12] = '>';
    is_int(envelope(1, addr, SMTP_CMD_MAX - 11, "", 0, line, sizeof line, &n),
           -SMTP_E_ARG_TOO_LONG, "envelope: MAIL <path> of %d bytes is too long", SMTP_CMD_MAX + 1);
    /* params count: " " + params */
    memset(params, 'p', sizeof params);
    is_int(envelope(1, STR("a@b"), params, SMTP_CMD_MAX - 18, line, sizeof line, &n), 0,
           "envelope: MAIL with params, exactly %d bytes", SMTP_CMD_MAX);
    is_int(envelope(1, STR("a@b"), params, SMTP_CMD_MAX - 17, line, sizeof line, &n),
           -SMTP_E_ARG_TOO_LONG, "envelope: MAIL with params, %d bytes", SMTP_CMD_MAX + 1);
}

int main(void)
{
    int i;
    tap_seed();
    guard_init(&g_out, 4 * SMTP_AUTH_CMD_MAX);
    for (i = 0; i < 4; i++)
        guard_init(&g_piece[i], 2 * SMTP_AUTH_CMD_MAX);
    format_checks();
    path_checks();
    domain_checks();
    envelope_checks();
    guard_free(&g_out);
    for (i = 0; i < 4; i++)
        guard_free(&g_piece[i]);
    return done_testing();
}
