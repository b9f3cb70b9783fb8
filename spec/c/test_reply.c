/*
 * test_reply.c -- smtp_reply: the incremental reply parser.
 *
 * Every case is a byte stream (possibly several replies) and the replies
 * it must give. The stream is parsed whole, byte by byte and at random
 * split points (TAP_SEED); each chunk sits against a guard page. The
 * result of a run is written as a description ("DONE@end code=... enh=...
 * text=...;" per reply, then "MORE" or "ERR ENAME"), so a failure shows the
 * two descriptions side by side. The end offset of each reply checks that
 * *used leaves the bytes of the next reply untouched.
 *
 * Engines: smtp_reply.c smtp_errors.c
 */
#include "guard.h"
#include "tap.h"
#include "smtp/smtp_reply.h"
#include "base/smtp_errors.h"

#define STR(s) s, sizeof(s) - 1
#define NSPLITS 4 /* random split runs per case */

enum { T_NONE = 0, T_MORE = 1 }; /* else -SMTP_E_... */

typedef struct {
    size_t end; /* offset after the reply; 0: the end of the input */
    int code;
    const char *enh;
    const char *text; /* NULL: texts[] of a generated case */
    size_t tlen;      /* 0: strlen(text) */
} exp_reply;

typedef struct {
    const char *name;
    const char *in;
    size_t n;
    int nrep;
    exp_reply rep[2];
    int tail;
} rcase;

/* ---- descriptions ------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_init(sbuf *b, size_t cap)
{
    b->p = malloc(cap);
    b->cap = cap;
    b->len = 0;
    b->p[0] = '\0';
}

static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        fprintf(stderr, "sbuf overflow\n");
        abort();
    }
    b->len += (size_t)n;
}

static void sb_esc(sbuf *b, const char *s, size_t n)
{
    size_t i;
    sb_add(b, "\"");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r')
            sb_add(b, "\\r");
        else if (c == '\n')
            sb_add(b, "\\n");
        else if (c == '"' || c == '\\')
            sb_add(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            sb_add(b, "\\x%02X", c);
        else
            sb_add(b, "%c", c);
    }
    sb_add(b, "\"");
}

static void describe_reply(sbuf *b, size_t end, int code, const char *enh,
                           const char *text, size_t tlen)
{
    sb_add(b, "DONE@%lu code=%d enh=%s text=", (unsigned long)end, code, enh);
    sb_esc(b, text, tlen);
    sb_add(b, ";");
}

static void describe_tail(sbuf *b, int tail)
{
    if (tail == T_MORE)
        sb_add(b, "MORE");
    else if (tail < 0)
        sb_add(b, "ERR %s", smtp_errname(-tail));
}

static void describe_expected(sbuf *b, const rcase *tc)
{
    int i;
    for (i = 0; i < tc->nrep; i++) {
        const exp_reply *e = &tc->rep[i];
        size_t tlen = e->tlen ? e->tlen : strlen(e->text);
        describe_reply(b, e->end ? e->end : tc->n, e->code, e->enh, e->text, tlen);
    }
    describe_tail(b, tc->tail);
}

/* ---- the runner -------------------------------------------------------- */

static guard g_in;

/* mode 0: whole; 1: byte by byte; 2+: random splits */
static size_t pick(int mode, size_t left)
{
    if (mode == 0)
        return left;
    if (mode == 1)
        return 1;
    if (tap_below(4) == 0)
        return 1 + tap_below(left);
    return 1 + tap_below(left < 16 ? left : 16);
}

static void run(const char *in, size_t n, int mode, sbuf *b)
{
    smtp_reply *r = malloc(sizeof *r);
    size_t off = 0, start = 0;
    smtp_reply_init(r);
    while (off < n) {
        size_t chunk = pick(mode, n - off), used = (size_t)-1;
        const char *p = guard_put(&g_in, in + off, chunk);
        int rc = smtp_reply_parse(r, p, chunk, &used);
        if (rc < 0) {
            describe_tail(b, rc);
            free(r);
            return;
        }
        if (rc == SMTP_REPLY_MORE) {
            if (used != chunk)
                sb_add(b, "BAD-USED(%lu of %lu);", (unsigned long)used,
                       (unsigned long)chunk);
            off += chunk;
            continue;
        }
        if (rc != SMTP_REPLY_DONE || used == 0 || used > chunk) {
            sb_add(b, "BAD rc=%d used=%lu;", rc, (unsigned long)used);
            free(r);
            return;
        }
        off += used;
        /* invariants of a kept reply */
        if (r->len >= SMTP_REPLY_MAX || r->text[r->len] != '\0' ||
            memchr(r->text, '\r', r->len) != NULL)
            sb_add(b, "BAD-TEXT;");
        {   /* the accessors the binding reads a reply with give the same */
            size_t tn = 0;
            const char *t = smtp_reply_text(r, &tn), *en = smtp_reply_enhanced(r);
            if (smtp_reply_code(r) != r->code || t != r->text || tn != r->len ||
                (en == NULL ? r->enhanced[0] != '\0' : en != r->enhanced))
                sb_add(b, "BAD-ACCESSORS;");
        }
        describe_reply(b, off, r->code, r->enhanced, r->text, r->len);
        smtp_reply_init(r);
        start = off;
    }
    if (off > start)
        describe_tail(b, T_MORE);
    free(r);
}

static void check_case(const rcase *tc)
{
    sbuf want, got;
    int mode;
    static const char *const modes[] = {"whole", "byte by byte"};
    sb_init(&want, 1 << 17);
    sb_init(&got, 1 << 17);
    describe_expected(&want, tc);
    for (mode = 0; mode < 2 + NSPLITS; mode++) {
        got.len = 0;
        got.p[0] = '\0';
        run(tc->in, tc->n, mode, &got);
        if (mode < 2)
            is_mem(got.p, got.len, want.p, want.len, "%s (%s)", tc->name, modes[mode]);
        else
            is_mem(got.p, got.len, want.p, want.len, "%s (random split %d)",
                   tc->name, mode - 1);
    }
    free(want.p);
    free(got.p);
}

/* ---- the table --------------------------------------------------------- */

#define R1(e, c, h, t) 1, {{e, c, h, t, 0}, {0, 0, NULL, NULL, 0}}
#define R2(e1, c1, h1, t1, e2, c2, h2, t2) 2, {{e1, c1, h1, t1, 0}, {e2, c2, h2, t2, 0}}
#define R0 0, {{0, 0, NULL, NULL, 0}, {0, 0, NULL, NULL, 0}}
#define SYNTAX (-SMTP_E_REPLY_SYNTAX)
#define MISMATCH (-SMTP_E_REPLY_MISMATCH)

static const rcase cases[] = {
    /* shapes */
    {"single line", STR("250 OK\r\n"), R1(0, 250, "", "250 OK"), T_NONE},
    {"single line, bare LF", STR("250 OK\n"), R1(0, 250, "", "250 OK"), T_NONE},
    {"250 with no text", STR("250\r\n"), R1(0, 250, "", "250"), T_NONE},
    {"250 with no text, bare LF", STR("250\n"), R1(0, 250, "", "250"), T_NONE},
    {"250 and an empty text", STR("250 \r\n"), R1(0, 250, "", "250 "), T_NONE},
    {"greeting", STR("220 mx.example.com ESMTP Postfix\r\n"),
     R1(0, 220, "", "220 mx.example.com ESMTP Postfix"), T_NONE},
    {"multi-line", STR("250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
     R1(0, 250, "", "250-mx.example.com\n250-PIPELINING\n250 8BITMIME"), T_NONE},
    {"multi-line, bare LF", STR("250-mx.example.com\n250-PIPELINING\n250 8BITMIME\n"),
     R1(0, 250, "", "250-mx.example.com\n250-PIPELINING\n250 8BITMIME"), T_NONE},
    {"multi-line, mixed line ends", STR("250-a\r\n250-b\n250 c\r\n"),
     R1(0, 250, "", "250-a\n250-b\n250 c"), T_NONE},
    {"multi-line ending in a bare code", STR("250-a\r\n250\r\n"),
     R1(0, 250, "", "250-a\n250"), T_NONE},
    {"continuation with no text", STR("250-\r\n250 x\r\n"),
     R1(0, 250, "", "250-\n250 x"), T_NONE},
    {"continuation with no text, bare LF", STR("250-\n250 x\n"),
     R1(0, 250, "", "250-\n250 x"), T_NONE},
    {"NUL and high bytes are text", STR("250 a\0b\xff\r\n"),
     1, {{0, 250, "", "250 a\0b\xff", 8}, {0, 0, NULL, NULL, 0}}, T_NONE},
    {"every class 2..5", STR("599 x\r\n"), R1(0, 599, "", "599 x"), T_NONE},
    /* code consistency */
    {"code mismatch between lines", STR("250-a\r\n251 b\r\n"), R0, MISMATCH},
    {"class mismatch between lines", STR("250-a\r\n550 b\r\n"), R0, MISMATCH},
    {"mismatch on a bare code line", STR("250-a\r\n251\r\n"), R0, MISMATCH},
    /* syntax */
    {"bad first digit 1", STR("150 x\r\n"), R0, SYNTAX},
    {"bad first digit 6", STR("650 x\r\n"), R0, SYNTAX},
    {"bad first digit 0", STR("050 x\r\n"), R0, SYNTAX},
    {"letter first", STR("x50 x\r\n"), R0, SYNTAX},
    {"leading space", STR(" 250 x\r\n"), R0, SYNTAX},
    {"non-digit second", STR("2x0 x\r\n"), R0, SYNTAX},
    {"non-digit third", STR("25x x\r\n"), R0, SYNTAX},
    {"space inside the code", STR("2 0 x\r\n"), R0, SYNTAX},
    {"bad separator x", STR("250x\r\n"), R0, SYNTAX},
    {"bad separator tab", STR("250\tx\r\n"), R0, SYNTAX},
    {"bad separator _", STR("250_x\r\n"), R0, SYNTAX},
    {"four digits", STR("2500 x\r\n"), R0, SYNTAX},
    {"two digits", STR("25\r\n"), R0, SYNTAX},
    {"one digit", STR("2\n"), R0, SYNTAX},
    {"empty line", STR("\r\n"), R0, SYNTAX},
    {"bare LF line", STR("\n"), R0, SYNTAX},
    {"bare CR in the text", STR("250 a\rb\r\n"), R0, SYNTAX},
    {"bare CR after the code", STR("250\rx"), R0, SYNTAX},
    {"CR CR LF", STR("250 a\r\r\n"), R0, SYNTAX},
    {"bad second line", STR("250-a\r\nxyz\r\n"), R0, SYNTAX},
    {"HTTP answer", STR("HTTP/1.1 400 Bad Request\r\n"), R0, SYNTAX},
    /* incomplete */
    {"empty input", STR(""), R0, T_NONE},
    {"no line end yet", STR("250 OK"), R0, T_MORE},
    {"CR without LF yet", STR("250 OK\r"), R0, T_MORE},
    {"continuation only", STR("250-a\r\n"), R0, T_MORE},
    {"code only", STR("25"), R0, T_MORE},
    /* several replies: *used stops at the end of each */
    {"two replies", STR("250 a\r\n354 b\r\n"),
     R2(7, 250, "", "250 a", 14, 354, "", "354 b"), T_NONE},
    {"two replies, bare LF", STR("250 a\n354 b\n"),
     R2(6, 250, "", "250 a", 12, 354, "", "354 b"), T_NONE},
    {"multi-line then single", STR("250-a\r\n250 b\r\n221 bye\r\n"),
     R2(14, 250, "", "250-a\n250 b", 23, 221, "", "221 bye"), T_NONE},
    {"reply then a partial one", STR("250 a\r\n35"),
     1, {{7, 250, "", "250 a", 0}, {0, 0, NULL, NULL, 0}}, T_MORE},
    {"reply then garbage", STR("250 a\r\nhello\r\n"),
     1, {{7, 250, "", "250 a", 0}, {0, 0, NULL, NULL, 0}}, SYNTAX},
    /* enhanced status codes (RFC 3463) */
    {"enhanced 5.1.1", STR("550 5.1.1 x\r\n"), R1(0, 550, "5.1.1", "550 5.1.1 x"), T_NONE},
    {"enhanced class mismatch", STR("550 4.1.1 x\r\n"), R1(0, 550, "", "550 4.1.1 x"), T_NONE},
    {"enhanced on a multi-line", STR("250-2.0.0 a\r\n250 2.0.0 b\r\n"),
     R1(0, 250, "2.0.0", "250-2.0.0 a\n250 2.0.0 b"), T_NONE},
    {"enhanced alone", STR("250 2.0.0\r\n"), R1(0, 250, "2.0.0", "250 2.0.0"), T_NONE},
    {"enhanced three-digit parts", STR("452 4.123.456 x\r\n"),
     R1(0, 452, "4.123.456", "452 4.123.456 x"), T_NONE},
    {"enhanced glued to text", STR("550 5.1.1x\r\n"), R1(0, 550, "", "550 5.1.1x"), T_NONE},
    {"enhanced part too long", STR("550 5.1234.1 x\r\n"), R1(0, 550, "", "550 5.1234.1 x"), T_NONE},
    {"enhanced class two digits", STR("550 55.1.1 x\r\n"), R1(0, 550, "", "550 55.1.1 x"), T_NONE},
    {"enhanced two parts", STR("250 2.0 x\r\n"), R1(0, 250, "", "250 2.0 x"), T_NONE},
    {"enhanced empty part", STR("250 2..0 x\r\n"), R1(0, 250, "", "250 2..0 x"), T_NONE},
    {"enhanced on the second line only", STR("250-first\r\n250 2.0.0 x\r\n"),
     R1(0, 250, "", "250-first\n250 2.0.0 x"), T_NONE},
    {"enhanced after two spaces", STR("550  5.1.1 x\r\n"), R1(0, 550, "", "550  5.1.1 x"), T_NONE},
    {"enhanced on a bare code", STR("250\r\n"), R1(0, 250, "", "250"), T_NONE},
};

/* ---- generated cases (bounds) ------------------------------------------ */

typedef struct {
    char *p;
    size_t n;
} gbuf;

static void g_add(gbuf *b, const char *s, size_t n)
{
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void g_fill(gbuf *b, char c, size_t n)
{
    memset(b->p + b->n, c, n);
    b->n += n;
}

static void run_generated(const char *name, gbuf *in, int nrep, int code,
                          gbuf *text, int tail)
{
    rcase tc;
    memset(&tc, 0, sizeof tc);
    tc.name = name;
    tc.in = in->p;
    tc.n = in->n;
    tc.nrep = nrep;
    tc.rep[0].code = code;
    tc.rep[0].enh = "";
    tc.rep[0].text = text ? text->p : "";
    tc.rep[0].tlen = text ? text->n : 0;
    tc.tail = tail;
    check_case(&tc);
}

/* One line "250<sep>" + payload + eol, stored as "250<sep>" + payload. */
static void line(gbuf *in, gbuf *text, char sep, size_t payload, const char *eol)
{
    char head[4] = {'2', '5', '0', sep};
    if (text != NULL && text->n > 0)
        g_add(text, "\n", 1);
    g_add(in, head, 4);
    g_fill(in, 'x', payload);
    g_add(in, eol, strlen(eol));
    if (text != NULL) {
        g_add(text, head, 4);
        g_fill(text, 'x', payload);
    }
}

/* A reply whose kept text is exactly total bytes (lines joined by "\n"). */
static void reply_of_text_len(gbuf *in, gbuf *text, size_t total)
{
    const size_t per = 900; /* stored bytes per line */
    size_t lines = (total + 1 + per) / (per + 1), i, last;
    for (i = 0; i + 1 < lines; i++)
        line(in, text, '-', per - 4, "\r\n");
    last = total - (lines - 1) * (per + 1);
    line(in, text, ' ', last - 4, "\r\n");
}

static void generated_cases(void)
{
    size_t big = 4 * SMTP_REPLY_MAX + 4 * SMTP_REPLY_LINE_MAX * SMTP_REPLY_LINES_MAX;
    gbuf in, text;
    size_t i;
    in.p = malloc(big);
    text.p = malloc(big);

    /* a line of exactly SMTP_REPLY_LINE_MAX bytes, CRLF included */
    in.n = text.n = 0;
    line(&in, &text, ' ', SMTP_REPLY_LINE_MAX - 6, "\r\n");
    run_generated("line of exactly SMTP_REPLY_LINE_MAX (CRLF)", &in, 1, 250, &text, T_NONE);
    in.n = text.n = 0;
    line(&in, NULL, ' ', SMTP_REPLY_LINE_MAX - 5, "\r\n");
    run_generated("line of SMTP_REPLY_LINE_MAX + 1 (CRLF)", &in, 0, 0, NULL,
                  -SMTP_E_REPLY_LINE_TOO_LONG);
    in.n = text.n = 0;
    line(&in, &text, ' ', SMTP_REPLY_LINE_MAX - 5, "\n");
    run_generated("line of exactly SMTP_REPLY_LINE_MAX (bare LF)", &in, 1, 250, &text, T_NONE);
    in.n = text.n = 0;
    line(&in, NULL, ' ', SMTP_REPLY_LINE_MAX - 4, "\n");
    run_generated("line of SMTP_REPLY_LINE_MAX + 1 (bare LF)", &in, 0, 0, NULL,
                  -SMTP_E_REPLY_LINE_TOO_LONG);
    in.n = text.n = 0;
    line(&in, &text, '-', SMTP_REPLY_LINE_MAX - 6, "\r\n");
    line(&in, &text, ' ', SMTP_REPLY_LINE_MAX - 6, "\r\n");
    run_generated("two lines of exactly SMTP_REPLY_LINE_MAX", &in, 1, 250, &text, T_NONE);
    in.n = text.n = 0;
    line(&in, NULL, '-', SMTP_REPLY_LINE_MAX - 6, "\r\n");
    line(&in, NULL, ' ', SMTP_REPLY_LINE_MAX - 5, "\r\n");
    run_generated("second line one byte too long", &in, 0, 0, NULL,
                  -SMTP_E_REPLY_LINE_TOO_LONG);
    in.n = 0;
    g_add(&in, "250 ", 4);
    g_fill(&in, 'x', 3 * SMTP_REPLY_LINE_MAX);
    run_generated("endless line without a line end", &in, 0, 0, NULL,
                  -SMTP_E_REPLY_LINE_TOO_LONG);

    /* line count */
    in.n = text.n = 0;
    for (i = 0; i + 1 < SMTP_REPLY_LINES_MAX; i++)
        line(&in, &text, '-', 1, "\r\n");
    line(&in, &text, ' ', 1, "\r\n");
    run_generated("exactly SMTP_REPLY_LINES_MAX lines", &in, 1, 250, &text, T_NONE);
    in.n = 0;
    for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        line(&in, NULL, '-', 1, "\r\n");
    line(&in, NULL, ' ', 1, "\r\n");
    run_generated("SMTP_REPLY_LINES_MAX + 1 lines", &in, 0, 0, NULL,
                  -SMTP_E_REPLY_TOO_MANY_LINES);
    in.n = 0;
    for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        line(&in, NULL, '-', 0, "\n");
    run_generated("SMTP_REPLY_LINES_MAX continuation lines, no end", &in, 0, 0,
                  NULL, -SMTP_E_REPLY_TOO_MANY_LINES);

    /* total text */
    in.n = text.n = 0;
    reply_of_text_len(&in, &text, SMTP_REPLY_MAX - 1);
    run_generated("kept text of SMTP_REPLY_MAX - 1 bytes", &in, 1, 250, &text, T_NONE);
    in.n = text.n = 0;
    reply_of_text_len(&in, &text, SMTP_REPLY_MAX);
    run_generated("kept text of SMTP_REPLY_MAX bytes", &in, 0, 0, NULL,
                  -SMTP_E_REPLY_TOO_LONG);
    in.n = 0;
    for (i = 0; i < 40; i++)
        line(&in, NULL, i == 39 ? ' ' : '-', 500, "\r\n");
    run_generated("text over SMTP_REPLY_MAX", &in, 0, 0, NULL, -SMTP_E_REPLY_TOO_LONG);

    /* The reply fills up inside a line that is also too long: the first
     * bound crossed in stream order is SMTP_REPLY_MAX, so the error must
     * be REPLY_TOO_LONG however the bytes are split (STYLE 4: the result
     * does not depend on chunking). */
    in.n = 0;
    {
        /* full lines until the text room left after the next line head is
         * smaller than the room the line bound leaves for its text */
        size_t kept = 0, nl = 0;
        while (kept + nl + 5 + (SMTP_REPLY_LINE_MAX - 4) <= SMTP_REPLY_MAX - 1) {
            line(&in, NULL, '-', SMTP_REPLY_LINE_MAX - 6, "\r\n");
            kept += nl + (SMTP_REPLY_LINE_MAX - 2);
            nl = 1;
        }
        ok(kept + 5 < SMTP_REPLY_MAX - 1, "setup: room left for %lu text bytes",
           (unsigned long)(SMTP_REPLY_MAX - 1 - kept - 5));
        line(&in, NULL, '-', SMTP_REPLY_LINE_MAX + 200, "\r\n");
    }
    run_generated("reply full inside an over-long line (error independent of split)",
                  &in, 0, 0, NULL, -SMTP_E_REPLY_TOO_LONG);

    free(in.p);
    free(text.p);
}

/* ---- small API checks -------------------------------------------------- */

static void api_checks(void)
{
    smtp_reply *r = malloc(sizeof *r);
    size_t used = 99;
    const char *p;
    int e;
    smtp_reply_init(r);
    p = guard_put(&g_in, "", 0);
    is_int(smtp_reply_parse(r, p, 0, &used), SMTP_REPLY_MORE, "len 0 needs more");
    is_int(used, 0, "len 0 takes nothing");
    is_int(r->len, 0, "init: empty text");
    is_str(r->enhanced, "", "init: no enhanced code");

    /* *used is set on every return, errors included: up to and
     * including the byte at which the reply was refused (a fault of a
     * whole line, at the line's end) */
    {
        static const struct { const char *in; size_t used; int rc; const char *name; } bad[] = {
            {"2x0 x\r\n", 2, -SMTP_E_REPLY_SYNTAX, "a letter in the code"},
            {"250 x\rx", 7, -SMTP_E_REPLY_SYNTAX, "a bare CR"},
            {"650 x\r\n", 1, -SMTP_E_REPLY_SYNTAX, "a bad first digit"},
            {"250-a\r\n251 b\r\n", 14, -SMTP_E_REPLY_MISMATCH, "a code that changes (at its line end)"},
        };
        size_t k;
        for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            size_t n = strlen(bad[k].in);
            smtp_reply_init(r);
            used = 9999;
            p = guard_put(&g_in, bad[k].in, n);
            is_int(smtp_reply_parse(r, p, n, &used), bad[k].rc, "%s: refused", bad[k].name);
            is_int(used, bad[k].used, "%s: *used is set (%zu)", bad[k].name, used);
        }
    }
    smtp_reply_init(r);

    for (e = 0; e < SMTP_E__COUNT; e++)
        ok(smtp_errname(e)[0] == 'E' && smtp_errmsg(e)[0] != '\0',
           "error %d has a name (%s) and a message", e, smtp_errname(e));
    is_str(smtp_errname(SMTP_E_REPLY_SYNTAX), "EREPLY_SYNTAX", "errname");
    is_str(smtp_errname(-1), "EUNKNOWN", "errname(-1)");
    is_str(smtp_errname(SMTP_E__COUNT), "EUNKNOWN", "errname(count)");
    is_str(smtp_errmsg(SMTP_E__COUNT), "unknown error", "errmsg(count)");
    ok(!smtp_err_is_caller(SMTP_E_REPLY_SYNTAX) && !smtp_err_is_caller(SMTP_E_PEER_CLOSED) &&
       !smtp_err_is_caller(SMTP_E_INPUT_OVERFLOW) && smtp_err_is_caller(SMTP_E_ARG_CRLF) &&
       smtp_err_is_caller(SMTP_E_BUSY), "peer faults and caller faults are told apart");
    /* one list for every engine: the SASL codes are in it, with the names
     * users see, and every name is there once */
    is_str(smtp_errname(SMTP_E_SASL_NO_MECH), "ESASL_NO_MECH", "a SASL code's name");
    ok(smtp_err_is_caller(SMTP_E_SASL_MISSING) && smtp_err_is_caller(SMTP_E_SASL_BAD_STATE) &&
           !smtp_err_is_caller(SMTP_E_SASL_SERVER_PROOF) &&
           !smtp_err_is_caller(SMTP_E_SASL_MALFORMED),
       "SASL caller faults and peer faults are told apart");
    ok(!smtp_err_is_caller(SMTP_E_OK) && !smtp_err_is_caller(-SMTP_E_ARG_CRLF) &&
           !smtp_err_is_caller(SMTP_E__COUNT),
       "OK, a negated code and a code past the list are no caller fault");
    {
        int a, b, dup = 0;
        for (a = 0; a < SMTP_E__COUNT; a++)
            for (b = a + 1; b < SMTP_E__COUNT; b++)
                if (strcmp(smtp_errname(a), smtp_errname(b)) == 0) {
                    diag("%s twice", smtp_errname(a));
                    dup++;
                }
        ok(dup == 0, "every name is in the list once (%d codes)", SMTP_E__COUNT);
    }
    free(r);
}

int main(void)
{
    size_t i;
    tap_seed();
    guard_init(&g_in, 1 << 16);
    api_checks();
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    generated_cases();
    guard_free(&g_in);
    return done_testing();
}
