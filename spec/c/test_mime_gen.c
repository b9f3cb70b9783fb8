/*
 * test_mime_gen.c -- the MIME generator: program building (memory grown on
 * demand), the LuaSocket layout, bodies fed whole / byte by byte / in
 * random pieces, output blocks from tiny to large, run-time encoding choice.
 *
 * Engines: mime_gen.c mime_hdr.c mime_enc.c smtp_errors.c
 */
#include "guard.h"
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "mime/mime_gen.h"
#include "mime/mime_enc.h"
#include "base/smtp_errors.h"

#define STR(s) s, sizeof(s) - 1

/* A generator with growable program memory (what the binding does). */
typedef struct {
    mime_gen g;
    char *text;
    mime_op *ops;
    size_t textcap, capops;
    char *out;
} tgen;

static void tgen_init(tgen *t, size_t outcap)
{
    memset(t, 0, sizeof *t);
    t->out = malloc(outcap);
    mime_gen_init(&t->g, t->out, outcap);
}

static void tgen_free(tgen *t)
{
    free(t->text);
    free(t->ops);
    free(t->out);
}

static void grow(tgen *t)
{
    while (t->textcap < t->g.need_text)
        t->textcap = t->textcap ? t->textcap * 2 : 16;
    while (t->capops < t->g.need_ops)
        t->capops = t->capops ? t->capops * 2 : 1;
    t->text = realloc(t->text, t->textcap);
    t->ops = realloc(t->ops, t->capops * sizeof(mime_op));
    mime_gen_memory(&t->g, t->text, t->textcap, t->ops, t->capops);
}

/* Bodies by id, for the runner. */
typedef struct {
    const char *data;
    size_t len;
} body;

/* Run the program: feed bodies in pieces of `piece` bytes (0: whole),
 * collect the output. Returns the output length, -err on error. */
static long run(tgen *t, const body *bodies, size_t piece, char *res, size_t rescap)
{
    size_t at = 0;
    size_t off[16] = {0};
    for (;;) {
        mime_gen_event ev;
        mime_gen_act act = mime_gen_next(&t->g, &ev);
        if (act == MIME_GEN_OUTPUT) {
            if (at + ev.len > rescap)
                return -1000;
            memcpy(res + at, ev.data, ev.len);
            at += ev.len;
        } else if (act == MIME_GEN_DONE) {
            return (long)at;
        } else if (act == MIME_GEN_ERROR) {
            return -ev.err;
        } else if (ev.sample) {
            const body *b = &bodies[ev.id];
            if (mime_gen_sample(&t->g, b->data, b->len) != 0)
                return -2000;
        } else {
            const body *b = &bodies[ev.id];
            if (off[ev.id] < b->len) {
                size_t n = b->len - off[ev.id];
                if (piece > 0 && n > piece)
                    n = piece;
                off[ev.id] += mime_gen_feed(&t->g, b->data + off[ev.id], n);
            } else if (mime_gen_feed_end(&t->g) != 0 &&
                       mime_gen_feed_end(&t->g) != -SMTP_E_BUSY) {
                return -3000;
            }
        }
    }
}

/* Build helpers that grow memory as asked. */
static int hdr(tgen *t, const char *n, const char *v)
{
    int rc;
    while ((rc = mime_gen_header(&t->g, n, strlen(n), v, strlen(v), 0)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}
static int endh(tgen *t)
{
    int rc;
    while ((rc = mime_gen_end_headers(&t->g)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}
static int bodyop(tgen *t, unsigned id, int cte)
{
    int rc;
    while ((rc = mime_gen_body(&t->g, id, cte, MIME_QP_SAFE)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}
static int autoop(tgen *t, unsigned id)
{
    int rc;
    while ((rc = mime_gen_cte_auto(&t->g, id)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}
static int mbegin(tgen *t, const char *bd, const char *pre)
{
    int rc;
    while ((rc = mime_gen_multipart_begin(&t->g, bd, strlen(bd), pre, pre ? strlen(pre) : 0)) ==
           -SMTP_E_BUSY)
        grow(t);
    return rc;
}
static int mpart(tgen *t)
{
    int rc;
    while ((rc = mime_gen_part(&t->g)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}
static int mend(tgen *t, const char *epi)
{
    int rc;
    while ((rc = mime_gen_multipart_end(&t->g, epi, epi ? strlen(epi) : 0)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}
static int seal(tgen *t)
{
    int rc;
    while ((rc = mime_gen_seal(&t->g)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}

static char res[1 << 20];

static const char expect_nested[] =
    "Subject: nested\r\n"
    "Content-Type: multipart/mixed; boundary=\"AB\"\r\n"
    "\r\n"
    "the preamble\r\n"
    "\r\n--AB\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "raw\nbody"
    "\r\n--AB\r\n"
    "Content-Type: multipart/alternative; boundary=\"CD\"\r\n"
    "\r\n"
    "\r\n--CD\r\n"
    "\r\n"
    "x=3D1" /* quoted-printable adds no line break of its own */
    "\r\n--CD\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "\r\n--CD--\r\n\r\n"
    "\r\n--AB--\r\n\r\n"
    "the epilogue\r\n";

static void build_nested(tgen *t)
{
    hdr(t, "subject", "nested");
    hdr(t, "content-type", "multipart/mixed; boundary=\"AB\"");
    endh(t);
    mbegin(t, "AB", "the preamble");
    mpart(t);
    hdr(t, "Content-Type", "text/plain");
    endh(t);
    bodyop(t, 1, MIME_GEN_RAW);
    mpart(t);
    hdr(t, "content-type", "multipart/alternative; boundary=\"CD\"");
    endh(t);
    mbegin(t, "CD", NULL);
    mpart(t);
    endh(t);
    bodyop(t, 2, MIME_CTE_QP);
    mpart(t);
    hdr(t, "content-transfer-encoding", "base64");
    endh(t);
    bodyop(t, 3, MIME_CTE_BASE64);
    mend(t, NULL);
    mend(t, "the epilogue");
    seal(t);
}

static void layout_checks(void)
{
    static const body bodies[] = {{NULL, 0}, {STR("raw\nbody")}, {STR("x=1")}, {STR("\0\1\2")}};
    static const size_t outcaps[] = {64, 65, 100, 255, 4096};
    static const size_t pieces[] = {0, 1, 2, 7};
    size_t i, j;
    for (i = 0; i < sizeof outcaps / sizeof outcaps[0]; i++) {
        for (j = 0; j < sizeof pieces / sizeof pieces[0]; j++) {
            tgen t;
            long n;
            tgen_init(&t, outcaps[i] < 64 ? 64 : outcaps[i]);
            build_nested(&t);
            n = run(&t, bodies, pieces[j], res, sizeof res);
            ok(n == (long)(sizeof expect_nested - 1) &&
                   memcmp(res, expect_nested, sizeof expect_nested - 1) == 0,
               "nested multipart, LuaSocket layout (out %zu, pieces %zu)", outcaps[i], pieces[j]);
            if (n != (long)(sizeof expect_nested - 1) && n > 0)
                is_mem(res, (size_t)n, expect_nested, sizeof expect_nested - 1, "layout diff");
            tgen_free(&t);
        }
    }
}

static void memory_checks(void)
{
    tgen t;
    int rc;
    tgen_init(&t, 256);
    /* no memory at all: every build call asks for it, and says how much */
    rc = mime_gen_text(&t.g, STR("hello"));
    ok(rc == -SMTP_E_BUSY && t.g.need_text >= 5 && t.g.need_ops >= 1, "text without memory asks");
    ok(t.g.textlen == 0 && t.g.nops == 0, "nothing half-appended");
    rc = mime_gen_header(&t.g, STR("Subj ect"), STR("x"), 0);
    is_int(rc, -SMTP_E_HDR_NAME, "a bad header name is refused before memory is asked for");
    rc = mime_gen_header(&t.g, STR("Subject"), STR("a\r\nBcc: x"), 0);
    is_int(rc, -SMTP_E_HDR_CRLF, "a header value with CRLF is refused");
    ok(t.g.textlen == 0 && t.g.nops == 0, "refused headers append nothing");
    grow(&t);
    is_int(mime_gen_text(&t.g, STR("hello")), 0, "after growing, text is appended");
    while ((rc = mime_gen_text(&t.g, STR(" world"))) == -SMTP_E_BUSY)
        grow(&t);
    is_int(rc, 0, "adjacent text, after growing again");
    is_int((int)t.g.nops, 1, "adjacent text joins one op");
    is_int(mime_gen_part(&t.g), -SMTP_E_BAD_STATE, "a part outside a multipart is refused");
    is_int(mime_gen_multipart_begin(&t.g, STR("bad boundary "), NULL, 0), -SMTP_E_HDR_SYNTAX,
           "a boundary ending with a space is refused");
    is_int(mime_gen_multipart_begin(&t.g, STR("a\"b"), NULL, 0), -SMTP_E_HDR_SYNTAX,
           "a boundary with a quote is refused");
    {
        char bd[72];
        memset(bd, 'a', sizeof bd);
        is_int(mime_gen_multipart_begin(&t.g, bd, 71, NULL, 0), -SMTP_E_HDR_SYNTAX,
               "a 71-byte boundary is refused");
    }
    is_int(mime_gen_body(&t.g, 1, 42, 0), -SMTP_E_ARG_SYNTAX, "an unknown encoding is refused");
    tgen_free(&t);

    tgen_init(&t, 256);
    {
        int depth, rc2 = 0;
        for (depth = 0; depth < MIME_GEN_MAX_DEPTH + 1 && rc2 == 0; depth++)
            rc2 = mbegin(&t, "b", NULL);
        is_int(rc2, -SMTP_E_ARG_TOO_LONG, "nesting deeper than MIME_GEN_MAX_DEPTH is refused");
        is_int(mime_gen_seal(&t.g), -SMTP_E_BAD_STATE, "an open multipart cannot be sealed");
    }
    tgen_free(&t);
}

static void encoding_checks(void)
{
    /* a 100 KB binary body, base64-encoded, any piece size, tiny blocks */
    static unsigned char bin[100000];
    static char ref[140000];
    size_t i, reflen;
    static const size_t pieces[] = {0, 1, 3, 4096, 65536};
    static const size_t outcaps[] = {64, 1000, 65536};
    body bodies[2];
    mime_b64 st;
    size_t used;
    srand(7);
    for (i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)rand();
    mime_b64_init(&st, 76);
    reflen = mime_b64_update(&st, bin, sizeof bin, &used, ref, sizeof ref);
    reflen += mime_b64_finish(&st, ref + reflen, sizeof ref - reflen);
    bodies[1].data = (const char *)bin;
    bodies[1].len = sizeof bin;
    for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        size_t k;
        for (k = 0; k < sizeof outcaps / sizeof outcaps[0]; k++) {
            tgen t;
            long n;
            tgen_init(&t, outcaps[k]);
            endh(&t);
            bodyop(&t, 1, MIME_CTE_BASE64);
            seal(&t);
            n = run(&t, bodies, pieces[i], res, sizeof res);
            ok(n == (long)(2 + reflen) && memcmp(res + 2, ref, reflen) == 0,
               "base64 body = the encoder's output (pieces %zu, out %zu)", pieces[i], outcaps[k]);
            tgen_free(&t);
        }
    }
}

static void auto_checks(void)
{
    static const struct {
        const char *data;
        size_t len;
        const char *cte;
    } cases[] = {
        {STR("plain ascii text\r\n"), "7bit"},
        {STR("\0\1\2\3\4\5binary"), "base64"},
        {STR(""), "7bit"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tgen t;
        body bodies[2];
        long n;
        char want[128];
        tgen_init(&t, 128);
        bodies[1].data = cases[i].data;
        bodies[1].len = cases[i].len;
        hdr(&t, "Content-Type", "text/plain");
        autoop(&t, 1);
        endh(&t);
        bodyop(&t, 1, MIME_GEN_AUTO);
        seal(&t);
        n = run(&t, bodies, 1, res, sizeof res);
        snprintf(want, sizeof want, "Content-Type: text/plain\r\nContent-Transfer-Encoding: %s\r\n\r\n",
                 cases[i].cte);
        ok(n >= (long)strlen(want) && memcmp(res, want, strlen(want)) == 0,
           "a run-time choice writes its header: %s", cases[i].cte);
        tgen_free(&t);
    }
}

/* ---- bodies given no encoding (RFC 5321 4.5.3.1.6) ----------------------- */

/* The model: can in[0..n) go out as given? No NUL, no line over 998
 * octets (CR and LF end lines). */
static int model_plain(const unsigned char *in, size_t n)
{
    size_t i, line = 0;
    for (i = 0; i < n; i++) {
        if (in[i] == 0)
            return 0;
        if (in[i] == '\r' || in[i] == '\n')
            line = 0;
        else if (++line > 998)
            return 0;
    }
    return 1;
}

/* Longest line of the generator's output (CRLF-ended lines; a bare CR or
 * LF ends one too). */
static size_t longest_line(const char *p, size_t n)
{
    size_t i, line = 0, longest = 0;
    for (i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n')
            line = 0;
        else if (++line > longest)
            longest = line;
    }
    return longest;
}

static void plain_checks(void)
{
    static unsigned char in[5000];
    static const struct {
        size_t len;
        int nul_at;  /* -1: none */
        int high;    /* 8-bit octets */
        int breaks;  /* a CRLF every 998 octets */
        int want;    /* MIME_GEN_RAW or MIME_CTE_* */
        const char *name;
    } cases[] = {
        {0, -1, 0, 0, MIME_GEN_RAW, "empty"},
        {997, -1, 0, 0, MIME_GEN_RAW, "one line of 997 octets"},
        {998, -1, 0, 0, MIME_GEN_RAW, "one line of 998 octets"},
        {999, -1, 0, 0, MIME_CTE_QP, "one line of 999 octets: quoted-printable"},
        {65536, -1, 0, 0, MIME_CTE_QP, "one line of 64 KiB: quoted-printable"},
        {65536, -1, 0, 1, MIME_GEN_RAW, "64 KiB in lines of 998 octets"},
        {999, -1, 500, 0, MIME_CTE_BASE64, "a long line, mostly 8-bit: base64"},
        {998, -1, 500, 0, MIME_GEN_RAW, "8-bit text, lines within the limit: as given"},
        {10, 0, 0, 0, MIME_CTE_BASE64, "a NUL first: base64"},
        {10, 9, 0, 0, MIME_CTE_BASE64, "a NUL last: base64"},
        {4000, 3999, 0, 1, MIME_CTE_BASE64, "a NUL after short lines: base64"},
    };
    static char big[70000];
    size_t i, k;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *b = big;
        size_t n = cases[i].len;
        for (k = 0; k < n; k++)
            b[k] = (char)('a' + k % 26);
        if (cases[i].breaks)
            for (k = 998; k + 1 < n; k += 1000) {
                b[k] = '\r';
                b[k + 1] = '\n';
            }
        for (k = 0; k < (size_t)cases[i].high && k < n; k++)
            b[k] = (char)0xE9;
        if (cases[i].nul_at >= 0)
            b[cases[i].nul_at] = '\0';
        is_int(mime_gen_cte_plain(b, n), cases[i].want, "cte_plain: %s", cases[i].name);
    }
    /* 998 octets, each line end: the next line starts at 0 again */
    {
        static const char *const brk[] = {"\r\n", "\n", "\r", "\n\r"};
        for (k = 0; k < 4; k++) {
            size_t bl = strlen(brk[k]);
            memset(big, 'x', 998);
            memcpy(big + 998, brk[k], bl);
            memset(big + 998 + bl, 'y', 998);
            is_int(mime_gen_cte_plain(big, 1996 + bl), MIME_GEN_RAW,
                   "two lines of 998 octets, broken by break %zu: as given", k);
            big[1996 + bl] = 'z';
            is_int(mime_gen_cte_plain(big, 1997 + bl), MIME_CTE_QP,
                   "the second of 999 octets (break %zu): encoded", k);
        }
    }
    /* one or two line breaks at every position of 2100 octets */
    {
        static const char *const brk[] = {"\r", "\n", "\r\n", "\n\r"};
        int all = 1;
        size_t pos, b2;
        for (k = 0; k < 4 && all; k++)
            for (pos = 0; pos < 2100 && all; pos++)
                for (b2 = 0; b2 < 3 && all; b2++) {
                    size_t n = 2100, second = b2 == 0 ? n : b2 == 1 ? pos + 999 : pos + 1000;
                    int want;
                    memset(in, 'a', n);
                    memcpy(in + pos, brk[k], pos + strlen(brk[k]) <= n ? strlen(brk[k]) : n - pos);
                    if (second < n)
                        in[second] = (unsigned char)brk[k][0];
                    want = model_plain(in, n) ? MIME_GEN_RAW : mime_cte_choose(in, n);
                    all = mime_gen_cte_plain((const char *)in, n) == want;
                    if (!all)
                        diag("break %zu at %zu (second %zu): got %d want %d", k, pos, second,
                             mime_gen_cte_plain((const char *)in, n), want);
                }
        ok(all, "2100 octets with one or two breaks (CR, LF, CRLF, LF CR) at every position");
    }
    /* random inputs: the model, and mime_cte_choose when not plain */
    {
        int all = 1, j;
        srand(11);
        for (j = 0; j < 20000 && all; j++) {
            size_t n = (size_t)rand() % (j < 10000 ? 64 : sizeof in), run_len = 0;
            int want;
            for (k = 0; k < n; k++) {
                int r = rand() % 1000;
                /* long runs without a line end, now and then a NUL */
                if (run_len > 0) {
                    in[k] = (unsigned char)('a' + r % 26);
                    run_len--;
                } else {
                    in[k] = r < 3 ? 0 : r < 100 ? '\n' : r < 150 ? '\r' : r < 160 ? 0xC3
                          : (unsigned char)('a' + r % 26);
                    if (r > 990)
                        run_len = 990 + (size_t)rand() % 20;
                }
            }
            want = model_plain(in, n) ? MIME_GEN_RAW : mime_cte_choose(in, n);
            all = mime_gen_cte_plain((const char *)in, n) == want;
            if (!all)
                diag("input %d (length %zu): got %d want %d", j, n,
                     mime_gen_cte_plain((const char *)in, n), want);
        }
        ok(all, "20,000 random bodies: as given exactly when the model says so, else as auto");
    }
    /* the generator's output for such a body: no line over 998 octets */
    {
        static const size_t lens[] = {998, 999, 65536};
        for (k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            tgen t;
            body bodies[2];
            long n;
            memset(big, 'q', lens[k]);
            big[0] = '.';
            bodies[1].data = big;
            bodies[1].len = lens[k];
            tgen_init(&t, 4096);
            endh(&t);
            bodyop(&t, 1, mime_gen_cte_plain(big, lens[k]));
            seal(&t);
            n = run(&t, bodies, 1000, res, sizeof res);
            ok(n > 0 && longest_line(res, (size_t)n) <= 998,
               "a body of one %zu-octet line: no output line over 998 (longest %zu)", lens[k],
               n > 0 ? longest_line(res, (size_t)n) : 0);
            tgen_free(&t);
        }
    }
}

/* Text that cannot be encoded: the first line over 998 octets. */
static void line_over_checks(void)
{
    static char t[3000];
    memset(t, 'p', sizeof t);
    is_int((long)mime_gen_line_over(t, 0), 0, "line_over: empty");
    is_int((long)mime_gen_line_over(t, 998), 0, "line_over: 998 octets");
    is_int((long)mime_gen_line_over(t, 999), 999, "line_over: 999 octets");
    t[500] = '\n';
    is_int((long)mime_gen_line_over(t, 1498), 0, "line_over: 500 + LF + 997");
    is_int((long)mime_gen_line_over(t, 1500), 999, "line_over: 500 + LF + 999");
    t[500] = '\r';
    is_int((long)mime_gen_line_over(t, 1499), 0, "line_over: a bare CR ends a line");
    t[1499] = '\r';
    t[500] = 'p';
    is_int((long)mime_gen_line_over(t, 2000), 1499, "line_over: the first long line's length");
    t[1499] = 'p';
}

/* A composite type (multipart, message) is never encoded by the generator
 * on its own (RFC 2045 6.4): mime_gen_encodable says so from the
 * Content-Type value, in any case, after white space. */
static void encodable_checks(void)
{
    static const char *const composite[] = {
        "multipart/mixed; boundary=b", "Message/RFC822", " MULTIPART/alternative",
        "\tmessage/partial", "\r\n message/external-body", "multipart/", "message/"};
    static const char *const leaf[] = {
        "text/plain", "application/multipart", "text/message", "multipart", "message",
        "messages/x", "multipartx/y", "", " ", "x-multipart/mixed"};
    size_t i;
    for (i = 0; i < sizeof composite / sizeof composite[0]; i++)
        is_int(mime_gen_encodable(composite[i], strlen(composite[i])), 0,
               "composite, not encoded: \"%s\"", composite[i]);
    for (i = 0; i < sizeof leaf / sizeof leaf[0]; i++)
        is_int(mime_gen_encodable(leaf[i], strlen(leaf[i])), 1, "a leaf type, encoded: \"%s\"",
               leaf[i]);
    /* the length bounds the look: a prefix of "multipart/" is not one */
    is_int(mime_gen_encodable("multipart/mixed", 9), 1, "only the first 9 octets: not composite");
    is_int(mime_gen_encodable(NULL, 0), 1, "an empty value (NULL, 0) is not composite");
}

/* The streaming choice equals the one-shot one, however the input is cut. */
static void scan_checks(void)
{
    static unsigned char in[3000];
    int j, all = 1;
    srand(13);
    for (j = 0; j < 5000 && all; j++) {
        size_t n = (size_t)rand() % sizeof in, k, off = 0;
        mime_cte_scan sc;
        for (k = 0; k < n; k++) {
            int r = rand() % 1000;
            in[k] = r < 2 ? 0 : r < 30 ? '\n' : r < 40 ? '\r' : r < 200 ? (unsigned char)(128 + r % 128)
                  : r < 210 ? (unsigned char)(r % 32) : (unsigned char)('a' + r % 26);
        }
        if (j % 3 == 0) /* long lines too */
            for (k = 0; k < n; k++)
                if (in[k] == '\n' || in[k] == '\r')
                    in[k] = 'L';
        mime_cte_scan_init(&sc);
        while (off < n) {
            size_t piece = 1 + (size_t)rand() % (n - off);
            mime_cte_scan_update(&sc, in + off, piece);
            off += piece;
        }
        all = mime_cte_scan_result(&sc) == mime_cte_choose(in, n);
        if (!all)
            diag("input %d (length %zu): scan %d, choose %d", j, n, mime_cte_scan_result(&sc),
                 mime_cte_choose(in, n));
    }
    ok(all, "5,000 random inputs cut at random: the streaming choice equals the one-shot one");
}

/* Long runs of text go out from the program uncopied, a block at most
 * each; short ones and the rest of a started block are copied. */
static void direct_checks(void)
{
    static const size_t outcaps[] = {64, 1000, 4096, 5000, 65536};
    static char big[3 * MIME_GEN_DIRECT_MIN + 17];
    static char want[sizeof big + 64];
    size_t i, k;
    for (k = 0; k < sizeof big; k++)
        big[k] = (char)('a' + k % 26);
    memcpy(want, "short\r\n", 7);
    memcpy(want + 7, "body", 4);
    memcpy(want + 11, big, sizeof big);
    for (i = 0; i < sizeof outcaps / sizeof outcaps[0]; i++) {
        tgen t;
        int rc, direct = 0, oversize = 0;
        size_t at = 0;
        tgen_init(&t, outcaps[i]);
        while ((rc = mime_gen_text(&t.g, STR("short\r\n"))) == -SMTP_E_BUSY)
            grow(&t);
        bodyop(&t, 1, MIME_GEN_RAW);
        while ((rc = mime_gen_text(&t.g, big, sizeof big)) == -SMTP_E_BUSY)
            grow(&t);
        seal(&t);
        for (;;) {
            mime_gen_event ev;
            mime_gen_act act = mime_gen_next(&t.g, &ev);
            if (act == MIME_GEN_OUTPUT) {
                if (ev.data >= t.text && ev.data < t.text + t.textcap)
                    direct++;
                if (ev.len > outcaps[i])
                    oversize++;
                if (at + ev.len <= sizeof res)
                    memcpy(res + at, ev.data, ev.len);
                at += ev.len;
            } else if (act == MIME_GEN_NEED_BODY) {
                if (mime_gen_feed(&t.g, "body", 4) != 4 || mime_gen_feed_end(&t.g) != 0)
                    break;
            } else {
                break;
            }
        }
        ok(at == 11 + sizeof big && memcmp(res, want, at) == 0,
           "text run of %zu bytes after a body: the message is whole (block %zu)", sizeof big,
           outcaps[i]);
        if (outcaps[i] < at)
            ok(direct > 0, "some of it went out uncopied (block %zu)", outcaps[i]);
        else
            is_int(direct, 0, "a block with room for the rest takes it, copied (block %zu)",
                   outcaps[i]);
        is_int(oversize, 0, "no output longer than the block (block %zu)", outcaps[i]);
        tgen_free(&t);
    }
}

/* Sets the program memory to text[0..tcap) and ops[0..ocap). */
static void set_memory(tgen *t, size_t tcap, size_t ocap)
{
    t->textcap = tcap;
    t->capops = ocap;
    t->text = realloc(t->text, tcap ? tcap : 1);
    t->ops = realloc(t->ops, (ocap ? ocap : 1) * sizeof(mime_op));
    mime_gen_memory(&t->g, t->text, t->textcap, t->ops, t->capops);
}

/* How much program memory a grow asks for (mime_gen_sizes), and the hint
 * the parts of a large multipart give it (mime_gen_project). */
static void sizes_checks(void)
{
    static char filler[9000];
    tgen t;
    size_t ts, os;
    memset(filler, 'x', sizeof filler);
    tgen_init(&t, 256);
    is_int(mime_gen_text(&t.g, filler, 5000), -SMTP_E_BUSY, "no memory yet: busy");
    is_int(mime_gen_sizes(&t.g, &ts, &os), 0, "sizes from nothing");
    ok(ts == 8192, "text doubled from 4096 until 5000 fits: %zu", ts);
    ok(os == 64, "ops from 64: %zu", os);
    tgen_free(&t);

    /* eight parts took 8000 bytes of text: 100 parts project 112500 */
    tgen_init(&t, 256);
    set_memory(&t, 8192, 64);
    is_int(mime_gen_text(&t.g, filler, 8000), 0, "8000 bytes fit in 8192");
    mime_gen_project(&t.g, 0, 7, 100);
    is_int(mime_gen_text(&t.g, filler, 1000), -SMTP_E_BUSY, "9000 do not");
    is_int(mime_gen_sizes(&t.g, &ts, &os), 0, "sizes");
    ok(ts == 16384, "before the eighth part no hint: doubled only (%zu)", ts);
    mime_gen_project(&t.g, 0, 8, 9);
    is_int(mime_gen_sizes(&t.g, &ts, &os), 0, "sizes");
    ok(ts == 16384, "at the last part no hint (%zu)", ts);
    mime_gen_project(&t.g, 0, 8, 100);
    is_int(mime_gen_sizes(&t.g, &ts, &os), 0, "sizes");
    ok(ts == 36000, "the hint (112500), at most 4 times the need of 9000: %zu", ts);
    mime_gen_project(&t.g, 0, 8, 10);
    is_int(mime_gen_sizes(&t.g, &ts, &os), 0, "sizes");
    ok(ts == 36000, "a smaller projection keeps the larger hint: %zu", ts);
    tgen_free(&t);

    tgen_init(&t, 256);
    set_memory(&t, 8192, 64);
    is_int(mime_gen_text(&t.g, filler, 8000), 0, "8000 bytes fit in 8192");
    mime_gen_project(&t.g, 0, 8, 12);  /* 8000 + 4 * 1000, + 1/8: 13500 */
    is_int(mime_gen_text(&t.g, filler, 1000), -SMTP_E_BUSY, "9000 do not");
    is_int(mime_gen_sizes(&t.g, &ts, &os), 0, "sizes");
    ok(ts == 16384, "a hint below the doubling is not taken: %zu", ts);
    mime_gen_project(&t.g, 0, 8, (size_t)-1); /* would overflow: dropped */
    is_int(mime_gen_sizes(&t.g, &ts, &os), 0, "sizes");
    ok(ts == 16384, "a projection past size_t is dropped: %zu", ts);
    t.g.need_text = (size_t)-1; /* white box: a need no doubling reaches */
    is_int(mime_gen_sizes(&t.g, &ts, &os), -SMTP_E_ARG_TOO_LONG, "text past size_t: too long");
    t.g.need_text = 0;
    t.g.need_ops = (size_t)-1;
    is_int(mime_gen_sizes(&t.g, &ts, &os), -SMTP_E_ARG_TOO_LONG, "ops past size_t: too long");
    tgen_free(&t);
}

/* The encoding names callers write, and everything near them refused. */
static void cte_code_checks(void)
{
    static const struct {
        const char *s;
        size_t n;
        int want;
    } cases[] = {
        {"7bit", 4, MIME_CTE_7BIT},
        {"8bit", 4, MIME_CTE_8BIT},
        {"quoted-printable", 16, MIME_CTE_QP},
        {"base64", 6, MIME_CTE_BASE64},
        {"auto", 4, MIME_GEN_AUTO},
        {"Base64", 6, -SMTP_E_MSG_ENCODING},   /* exact case, as LuaSocket's */
        {"base6", 5, -SMTP_E_MSG_ENCODING},
        {"base644", 7, -SMTP_E_MSG_ENCODING},
        {"7bit\0x", 6, -SMTP_E_MSG_ENCODING}, /* the whole name, NUL included */
        {"7bit", 3, -SMTP_E_MSG_ENCODING},
        {"", 0, -SMTP_E_MSG_ENCODING},
        {"binary", 6, -SMTP_E_MSG_ENCODING},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_int(mime_gen_cte_code(cases[i].s, cases[i].n), cases[i].want,
               "mime_gen_cte_code(\"%.*s\", %zu)", (int)cases[i].n, cases[i].s, cases[i].n);
    for (i = MIME_CTE_7BIT; i <= MIME_CTE_BASE64; i++) {
        const char *name = mime_gen_cte_name((int)i);
        is_int(mime_gen_cte_code(name, strlen(name)), (int)i, "%s: name and code agree", name);
    }
    ok(-SMTP_E_MSG_ENCODING < MIME_GEN_AUTO && -SMTP_E_MSG_ENCODING < MIME_GEN_RAW,
       "no encoding's code is taken for the refusal");
}

int main(void)
{
    tap_seed();
    layout_checks();
    memory_checks();
    direct_checks();
    encoding_checks();
    auto_checks();
    plain_checks();
    line_over_checks();
    scan_checks();
    encodable_checks();
    cte_code_checks();
    sizes_checks();
    return done_testing();
}
