/*
 * test_mime_body.c -- mime_body: CRLF normalisation, dot-stuffing, the
 * line limit, NUL and the end-of-data marker.
 *
 * Three oracles, each independent of mime_body.c:
 *   ref_filter()  a per-byte reference model written from RFC 5321 4.5.2;
 *   check_wire()  the output never holds a bare CR or LF, never a line "."
 *                 before the end, and ends with exactly one end-of-data mark;
 *   unstuff(filter(x)) == normalise(x)   (the round trip a server performs).
 * Every input is filtered whole, byte by byte and with random splits and
 * random small output capacities (so *used < n is exercised); input chunks
 * and output buffers sit against guard pages. TAP_SEED reproduces a run.
 *
 * Engines: mime_body.c
 */
#include "guard.h"
#include "tap.h"
#include "mime/mime_body.h"
#include "oracle.h"
#include <stdio.h>

#define STR(s) s, sizeof(s) - 1
#define MAXIN 4096
#define MAXOUT (2 * MAXIN + 16)

static guard g_in, g_out;

/* ---- independent models ------------------------------------------------- */

/* RFC 5321 4.5.2 and 2.3.8, one byte at a time. */
static size_t ref_filter(const unsigned char *in, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    int bol = 1, after_cr = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (c == '\r') {
            out[o++] = '\r';
            out[o++] = '\n';
            bol = 1;
            after_cr = 1;
        } else if (c == '\n') {
            if (!after_cr) {
                out[o++] = '\r';
                out[o++] = '\n';
            }
            bol = 1;
            after_cr = 0;
        } else {
            if (bol && c == '.')
                out[o++] = '.';
            out[o++] = c;
            bol = 0;
            after_cr = 0;
        }
    }
    if (!bol) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    out[o++] = '.';
    out[o++] = '\r';
    out[o++] = '\n';
    return o;
}

/* No bare CR or LF; no line "." but the last; ends with the marker. */
static const char *check_wire(const unsigned char *w, size_t n)
{
    size_t i, dots = 0;
    int bol = 1;
    for (i = 0; i < n; i++) {
        if (w[i] == '\r' && (i + 1 >= n || w[i + 1] != '\n'))
            return "bare CR";
        if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r'))
            return "bare LF";
        if (bol && i + 2 < n && w[i] == '.' && w[i + 1] == '\r' && w[i + 2] == '\n') {
            dots++;
            if (i + 3 != n)
                return "a line \".\" before the end";
        }
        bol = (w[i] == '\n');
    }
    if (dots != 1)
        return "no end-of-data marker at the end";
    return NULL;
}

/* ---- the filter under test, chunked ------------------------------------ */

/* mode 0: whole (one update, cap 2n); 1: byte by byte, cap 2 per call;
 * 2: random input splits and random output capacities 0..9. */
static size_t run(const unsigned char *in, size_t n, int mode, unsigned char *out,
                  const char **why)
{
    mime_body st;
    size_t off = 0, o = 0, fl;
    int stuck = 0;
    *why = NULL;
    mime_body_init(&st);
    while (off < n) {
        size_t chunk, cap, used = (size_t)-1, w;
        const char *p;
        char *dst;
        if (mode == 0) {
            chunk = n - off;
            cap = 2 * chunk;
        } else if (mode == 1) {
            chunk = 1;
            cap = 2;
        } else {
            chunk = 1 + tap_below(n - off < 12 ? n - off : 12);
            cap = tap_below(10);
        }
        p = guard_put(&g_in, in + off, chunk);
        dst = guard_space(&g_out, cap);
        w = mime_body_update(&st, p, chunk, &used, dst, cap);
        if (used > chunk || w > cap) {
            *why = "update took or wrote more than allowed";
            return o;
        }
        if (cap >= 2 * chunk && used != chunk) {
            *why = "cap >= 2n did not take all input";
            return o;
        }
        if (cap >= 2 && used == 0) {
            *why = "no progress with room for 2 bytes";
            return o;
        }
        if (used == 0 && ++stuck > 1000) {
            *why = "stuck";
            return o;
        }
        memcpy(out + o, dst, w);
        o += w;
        off += used;
    }
    fl = mime_body_finish_len(&st);
    if (fl != 3 && fl != 5) {
        *why = "finish_len is not 3 or 5";
        return o;
    }
    {
        char *dst = guard_space(&g_out, fl);
        size_t w;
        if (mode == 2 && fl > 0) {
            /* too small first: nothing written, state kept */
            char *small = guard_space(&g_out, fl - 1);
            if (mime_body_finish(&st, small, fl - 1) != 0 ||
                mime_body_finish_len(&st) != fl) {
                *why = "finish with too small a buffer wrote or reset";
                return o;
            }
            dst = guard_space(&g_out, fl);
        }
        w = mime_body_finish(&st, dst, fl);
        if (w != fl) {
            *why = "finish wrote a different length than finish_len";
            return o;
        }
        memcpy(out + o, dst, w);
        o += w;
    }
    if (mime_body_finish_len(&st) != 3) {
        *why = "finish did not reset the state";
        return o;
    }
    return o;
}

static unsigned char want_buf[MAXOUT], got_buf[MAXOUT], tmp1[MAXOUT], tmp2[MAXOUT];

/* Check in[0..n) every way; returns 1 when all agree. With report set,
 * failures become TAP lines; otherwise the first failure is printed. */
static int check_limit(const unsigned char *in, size_t n, const size_t *cuts,
                       size_t ncuts, size_t cap0, const char *name);
static size_t ref_stop(const unsigned char *in, size_t n, size_t *linelen, int *ends);

static int check_input(const unsigned char *in, size_t n, int modes, const char *name,
                       int report)
{
    size_t wl, gl, nl, stop, linelen;
    long ul;
    int mode, good = 1, ends;
    const char *why, *bad;
    stop = ref_stop(in, n, &linelen, &ends);
    if (stop < n) {
        /* a NUL (or a long line): the filter stops there, whole, byte by
         * byte and with small room; what it took is checked as content */
        static size_t bcuts[MAXIN];
        size_t k;
        for (k = 0; k < n; k++)
            bcuts[k] = k + 1;
        if (!check_limit(in, n, NULL, 0, 0, name) || !check_limit(in, n, bcuts, n, 0, name) ||
            (modes > 2 && !check_limit(in, n, NULL, 0, 3, name)))
            return 0;
        n = stop;
    }
    wl = ref_filter(in, n, want_buf);
    for (mode = 0; mode < modes; mode++) {
        const char *how = mode == 0 ? "whole" : mode == 1 ? "byte by byte" : "random split/cap";
        gl = run(in, n, mode, got_buf, &why);
        if (why != NULL) {
            ok(0, "%s (%s): %s", name, how, why);
            return 0;
        }
        if (report) {
            good &= is_mem(got_buf, gl, want_buf, wl, "%s (%s)", name, how);
        } else if (gl != wl || memcmp(got_buf, want_buf, wl) != 0) {
            is_mem(got_buf, gl, want_buf, wl, "%s (%s)", name, how);
            return 0;
        }
    }
    /* the other two oracles, on the engine's own whole output */
    gl = run(in, n, 0, got_buf, &why);
    bad = check_wire(got_buf, gl);
    if (bad != NULL) {
        ok(0, "%s: wire check: %s", name, bad);
        return 0;
    }
    nl = oracle_body(in, n, tmp1);
    ul = oracle_unstuff(got_buf, gl, tmp2);
    if (ul < 0 || (size_t)ul != nl || memcmp(tmp1, tmp2, nl) != 0) {
        if (ul < 0)
            ok(0, "%s: round trip: output does not unstuff", name);
        else
            is_mem(tmp2, (size_t)ul, tmp1, nl, "%s: unstuff(filter(x)) == normalise(x)", name);
        return 0;
    }
    return good;
}

/* ---- cases ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *in;
    size_t n;
    const char *out;
    size_t on;
} bcase;

static const bcase probes[] = {
    {"empty body", STR(""), STR(".\r\n")},
    {"LF dot LF", STR("\n.\n"), STR("\r\n..\r\n.\r\n")},
    {"CR dot CR", STR("\r.\r"), STR("\r\n..\r\n.\r\n")},
    {"LF dot CRLF", STR("\n.\r\n"), STR("\r\n..\r\n.\r\n")},
    {"CRLF dot LF", STR("\r\n.\n"), STR("\r\n..\r\n.\r\n")},
    {"CRLF dot CRLF", STR("\r\n.\r\n"), STR("\r\n..\r\n.\r\n")},
    {"dot CRLF at the start", STR(".\r\n"), STR("..\r\n.\r\n")},
    {"dot alone", STR("."), STR("..\r\n.\r\n")},
    {"two dots", STR(".."), STR("...\r\n.\r\n")},
    {"dots on a line", STR("a\r\n..\r\n"), STR("a\r\n...\r\n.\r\n")},
    {"dot inside a line is kept", STR("a.b\r\n"), STR("a.b\r\n.\r\n")},
    {"no final newline", STR("abc"), STR("abc\r\n.\r\n")},
    {"final CR", STR("abc\r"), STR("abc\r\n.\r\n")},
    {"final LF", STR("abc\n"), STR("abc\r\n.\r\n")},
    {"final CRLF", STR("abc\r\n"), STR("abc\r\n.\r\n")},
    {"final LF CR", STR("abc\n\r"), STR("abc\r\n\r\n.\r\n")},
    {"CRLF only", STR("\r\n"), STR("\r\n.\r\n")},
    {"CR CR", STR("\r\r"), STR("\r\n\r\n.\r\n")},
    {"LF LF", STR("\n\n"), STR("\r\n\r\n.\r\n")},
    {"CR CR LF", STR("\r\r\n"), STR("\r\n\r\n.\r\n")},
    {"LF CR LF", STR("\n\r\n"), STR("\r\n\r\n.\r\n")},
    {"smuggled end in the middle", STR("a\r\n.\r\nMAIL FROM:<x>\r\n"),
     STR("a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n")},
    {"smuggled bare-LF end", STR("a\n.\nRSET\n"), STR("a\r\n..\r\nRSET\r\n.\r\n")},
    {"smuggled CR end", STR("a\r.\rRSET\r"), STR("a\r\n..\r\nRSET\r\n.\r\n")},
    {"dot after CR then LF", STR("a\r.\n"), STR("a\r\n..\r\n.\r\n")},
    {"8-bit bytes pass", STR("\x01\xff\x80."), STR("\x01\xff\x80.\r\n.\r\n")},
    {"headers and body", STR("Subject: hi\n\nHello\n.dot\n"),
     STR("Subject: hi\r\n\r\nHello\r\n..dot\r\n.\r\n")},
};

static void probe_checks(void)
{
    size_t i;
    for (i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const bcase *tc = &probes[i];
        size_t wl = ref_filter((const unsigned char *)tc->in, tc->n, want_buf);
        /* the hand-written expectation and the model agree */
        is_mem(want_buf, wl, tc->out, tc->on, "probe %s: reference model", tc->name);
        check_input((const unsigned char *)tc->in, tc->n, 6, tc->name, 1);
    }
}

/* every byte alone and after each state, and every pair of bytes */
static void exhaustive_checks(void)
{
    static const struct {
        const char *name;
        const char *p;
        size_t n;
    } prefixes[] = {
        {"at the start (BOL)", STR("")},
        {"after LF (BOL)", STR("x\n")},
        {"after CRLF (BOL)", STR("x\r\n")},
        {"mid-line", STR("ab")},
        {"after CR", STR("x\r")},
        {"after CR at the start", STR("\r")},
        {"after a dot at BOL", STR(".")},
    };
    size_t k;
    for (k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        unsigned char in[16];
        int b, all = 1;
        for (b = 0; b < 256 && all; b++) {
            memcpy(in, prefixes[k].p, prefixes[k].n);
            in[prefixes[k].n] = (unsigned char)b;
            all = check_input(in, prefixes[k].n + 1, 3, "single byte", 0);
            if (!all)
                diag("byte 0x%02X %s", b, prefixes[k].name);
        }
        ok(all, "all 256 bytes %s: model, wire and round trip agree", prefixes[k].name);
    }
    {
        static const size_t pick3[] = {0, 3, 5}; /* BOL, mid-line, after CR */
        for (k = 0; k < 3; k++) {
            const char *pre = prefixes[pick3[k]].p, *name = prefixes[pick3[k]].name;
            size_t pn = prefixes[pick3[k]].n;
            unsigned char in[16];
            int b1, b2, all = 1;
            memcpy(in, pre, pn);
            for (b1 = 0; b1 < 256 && all; b1++)
                for (b2 = 0; b2 < 256 && all; b2++) {
                    in[pn] = (unsigned char)b1;
                    in[pn + 1] = (unsigned char)b2;
                    all = check_input(in, pn + 2, 2, "byte pair", 0);
                    if (!all)
                        diag("bytes 0x%02X 0x%02X %s", b1, b2, name);
                }
            ok(all, "all 65536 byte pairs %s: whole and byte by byte agree with the "
                    "model; wire and round trip hold", name);
        }
    }
}

static void random_checks(void)
{
    static unsigned char in[MAXIN];
    int i, all = 1;
    for (i = 0; i < 10000 && all; i++) {
        size_t n = tap_below(i < 9000 ? 64 : 1200), k;
        for (k = 0; k < n; k++) {
            size_t r = tap_below(10);
            in[k] = r < 3 ? '.' : r < 5 ? '\r' : r < 7 ? '\n' : (unsigned char)tap_below(256);
        }
        all = check_input(in, n, 4, "random input", 0);
        if (!all)
            diag("random input %d (length %lu) failed", i, (unsigned long)n);
    }
    ok(all, "10,000 random inputs: whole, byte by byte and 2 random split/capacity "
            "runs equal the model; wire and round trip hold");
}

/* ---- line length (RFC 5321 4.5.3.1.6) ------------------------------------- */

/* The model: where the filter must stop for in[0..n), or n when every
 * line holds at most 998 octets (a CR or LF ends a line; a dot doubled by
 * stuffing counts once) and no octet is a NUL; *linelen: the length of
 * the long line (to its end); *nul: 1 when the stop is a NUL (the NUL
 * comes first, or is itself the octet past the limit). */
static size_t ref_stop_nul(const unsigned char *in, size_t n, size_t *linelen, int *ends,
                           int *nul)
{
    size_t i, start = 0, z = n, stop = n;
    for (i = 0; i < n; i++)
        if (in[i] == 0) {
            z = i;
            break;
        }
    *linelen = 0;
    *ends = 0;
    for (i = 0; i <= n; i++) {
        if (i == n || in[i] == '\r' || in[i] == '\n') {
            if (i - start > MIME_BODY_LINE_MAX) {
                *linelen = i - start;
                *ends = i < n;
                stop = start + MIME_BODY_LINE_MAX;
                break;
            }
            start = i + 1;
        }
    }
    *nul = z < n && z <= stop;
    if (*nul) {
        *linelen = 0;
        *ends = 0;
        return z;
    }
    return stop;
}

static size_t ref_stop(const unsigned char *in, size_t n, size_t *linelen, int *ends)
{
    int nul;
    return ref_stop_nul(in, n, linelen, ends, &nul);
}

/* Feed in[0..n) in the chunks that cuts[0..ncuts) (ascending offsets)
 * make, with output room cap per call (0: 2 * chunk). Stops at the first
 * call that takes less than its chunk with enough room (the limit). */
static const char *feed_cuts(mime_body *st, const unsigned char *in, size_t n,
                             const size_t *cuts, size_t ncuts, size_t cap0,
                             unsigned char *out, size_t *olen, size_t *taken)
{
    size_t off = 0, o = 0, k = 0;
    int stuck = 0;
    while (off < n) {
        size_t end = k < ncuts ? cuts[k] : n, chunk, cap, used = (size_t)-1, w;
        const char *p;
        char *dst;
        if (end <= off) {
            k++;
            continue;
        }
        chunk = end - off;
        cap = cap0 ? cap0 : 2 * chunk;
        p = guard_put(&g_in, in + off, chunk);
        dst = guard_space(&g_out, cap);
        w = mime_body_update(st, p, chunk, &used, dst, cap);
        if (used > chunk || w > cap)
            return "update took or wrote more than allowed";
        memcpy(out + o, dst, w);
        o += w;
        off += used;
        if (mime_body_over(st) != 0 || mime_body_nul(st) != 0)
            break;
        if (used == 0 && ++stuck > 100000)
            return "stuck";
        if (used == chunk)
            k++;
    }
    *olen = o;
    *taken = off;
    return NULL;
}

/* One input, fed as `cuts` say: the filter stops where the model does,
 * with the model's output up to there, and says how long the line is. */
static int check_limit(const unsigned char *in, size_t n, const size_t *cuts,
                       size_t ncuts, size_t cap0, const char *name)
{
    mime_body st;
    size_t linelen, stop, olen, taken, wl;
    int ends_dummy, nul;
    const char *why;
    stop = ref_stop_nul(in, n, &linelen, &ends_dummy, &nul);
    mime_body_init(&st);
    why = feed_cuts(&st, in, n, cuts, ncuts, cap0, got_buf, &olen, &taken);
    if (why != NULL) {
        ok(0, "%s: %s", name, why);
        return 0;
    }
    wl = ref_filter(in, stop, want_buf);
    if (stop == n) {
        /* no line over the limit: everything taken, finished as usual */
        char fin[8];
        size_t fl = mime_body_finish(&st, fin, sizeof fin);
        if (mime_body_over(&st) != 0 || mime_body_nul(&st) != 0 || taken != n || fl == 0) {
            ok(0, "%s: a line within the limit failed (over %lu, taken %lu of %lu)", name,
               (unsigned long)mime_body_over(&st), (unsigned long)taken, (unsigned long)n);
            return 0;
        }
        memcpy(got_buf + olen, fin, fl);
        olen += fl;
    } else {
        char fin[8];
        size_t u2 = 9, w2;
        /* the model's output for what was taken, without its marker
         * (".\r\n", and a CRLF before it when that ends mid-line) */
        wl -= (stop == 0 || in[stop - 1] == '\r' || in[stop - 1] == '\n') ? 3 : 5;
        if (taken != stop) {
            ok(0, "%s: stopped at %lu, the limit is reached at %lu", name,
               (unsigned long)taken, (unsigned long)stop);
            return 0;
        }
        if (nul && (mime_body_nul(&st) != stop + 1 || mime_body_over(&st) != 0 ||
                    mime_body_over_open(&st))) {
            ok(0, "%s: a NUL at %lu: nul %lu, over %lu", name, (unsigned long)stop + 1,
               (unsigned long)mime_body_nul(&st), (unsigned long)mime_body_over(&st));
            return 0;
        }
        if (!nul && mime_body_nul(&st) != 0) {
            ok(0, "%s: nul %lu without a NUL", name, (unsigned long)mime_body_nul(&st));
            return 0;
        }
        if (!nul && (mime_body_over(&st) <= MIME_BODY_LINE_MAX || mime_body_over(&st) > linelen ||
                     (mime_body_over(&st) < linelen && !mime_body_over_open(&st)))) {
            ok(0, "%s: over %lu for a line of %lu (open %d)", name,
               (unsigned long)mime_body_over(&st), (unsigned long)linelen,
               mime_body_over_open(&st));
            return 0;
        }
        w2 = mime_body_update(&st, "x\r\n", 3, &u2, fin, sizeof fin);
        if (w2 != 0 || u2 != 0 || mime_body_finish_len(&st) != 0 ||
            mime_body_finish(&st, fin, sizeof fin) != 0 ||
            (nul ? mime_body_nul(&st) != stop + 1 : mime_body_over(&st) == 0)) {
            ok(0, "%s: the failure does not stick (update or finish wrote)", name);
            return 0;
        }
    }
    if (olen != wl || memcmp(got_buf, want_buf, wl) != 0) {
        is_mem(got_buf, olen, want_buf, wl, "%s: output", name);
        return 0;
    }
    return 1;
}

static void limit_checks(void)
{
    static unsigned char in[MAXIN];
    static const char *const ends[] = {"\r\n", "\n", "\r", ""};
    static const char *const endname[] = {"CRLF", "LF", "CR", "no end"};
    static const size_t lens[] = {997, 998, 999, 1000, 2500};
    size_t li, e, d, pre;
    for (li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (e = 0; e < 4; e++)
            for (d = 0; d < 2; d++)
                for (pre = 0; pre < 2; pre++) {
                    size_t n = 0, L = lens[li], k, cut, split_all = 1, whole_ok;
                    size_t cuts[2];
                    char name[160];
                    if (pre) {
                        memcpy(in, ".ab\r\n", 5);
                        n = 5;
                    }
                    for (k = 0; k < L; k++)
                        in[n + k] = (unsigned char)(k == 0 && d ? '.' : 'a' + k % 26);
                    n += L;
                    memcpy(in + n, ends[e], strlen(ends[e]));
                    n += strlen(ends[e]);
                    if (*ends[e] != '\0') {
                        memcpy(in + n, ".next\r\n", 7);
                        n += 7;
                    }
                    snprintf(name, sizeof name, "a line of %lu octets%s, %s%s",
                             (unsigned long)L, d ? " starting with a dot" : "", endname[e],
                             pre ? ", after a first line" : "");
                    whole_ok = check_limit(in, n, NULL, 0, 0, name);
                    if (whole_ok && L > MIME_BODY_LINE_MAX) {
                        /* fed whole: the line's full length is known */
                        mime_body st;
                        size_t olen, taken, ll;
                        int endsl;
                        mime_body_init(&st);
                        ref_stop(in, n, &ll, &endsl);
                        feed_cuts(&st, in, n, NULL, 0, 0, got_buf, &olen, &taken);
                        whole_ok = mime_body_over(&st) == L &&
                                   mime_body_over_open(&st) == (*ends[e] == '\0');
                        if (!whole_ok)
                            diag("over %lu open %d", (unsigned long)mime_body_over(&st),
                                 mime_body_over_open(&st));
                    }
                    ok(whole_ok, "%s: fed whole", name);
                    /* two chunks, cut at every position; three, with the
                     * second one octet (a CRLF split across three calls) */
                    for (cut = 0; cut <= n && split_all; cut++) {
                        cuts[0] = cut;
                        cuts[1] = cut + 1;
                        split_all = check_limit(in, n, cuts, 1, 0, name) &&
                                    check_limit(in, n, cuts, 2, 0, name);
                        if (!split_all)
                            diag("cut at %lu", (unsigned long)cut);
                    }
                    ok(split_all, "%s: cut at every position (2 and 3 chunks)", name);
                    ok(check_limit(in, n, NULL, 0, 2, name) &&
                       check_limit(in, n, NULL, 0, 3, name) &&
                       check_limit(in, n, NULL, 0, 7, name),
                       "%s: small output room (2, 3, 7 bytes a call)", name);
                    {
                        /* byte by byte: one octet a call */
                        static size_t bcuts[MAXIN];
                        for (k = 0; k < n; k++)
                            bcuts[k] = k + 1;
                        ok(check_limit(in, n, bcuts, n, 0, name), "%s: byte by byte", name);
                    }
                }
}

static void limit_api_checks(void)
{
    mime_body st;
    static char big[3000];
    char out[4096];
    size_t used = 0, w;
    memset(big, 'x', sizeof big);
    mime_body_init(&st);
    w = mime_body_update(&st, big, 998, &used, out, sizeof out);
    ok(w == 998 && used == 998 && mime_body_over(&st) == 0, "998 octets on a line: taken");
    w = mime_body_update(&st, "\r\n", 2, &used, out, sizeof out);
    ok(used == 2 && mime_body_over(&st) == 0, "then CRLF: the line is fine");
    w = mime_body_update(&st, big, 999, &used, out, sizeof out);
    ok(w == 998 && used == 998, "999 octets: the 999th is not taken");
    is_int((long)mime_body_over(&st), 999, "over: the line's length (999)");
    is_int(mime_body_over_open(&st), 1, "the line did not end in the call: open");
    is_int((long)mime_body_finish_len(&st), 0, "finish_len after the failure is 0");
    mime_body_init(&st);
    is_int((long)mime_body_over(&st), 0, "init clears the failure");
    w = mime_body_update(&st, big, 997, &used, out, sizeof out);
    w = mime_body_update(&st, "xyz\r\nmore", 9, &used, out, sizeof out);
    ok(w == 1 && used == 1, "997 + 3 in two calls: one more octet taken");
    is_int((long)mime_body_over(&st), 1000, "over counts the earlier call's octets (1000)");
    is_int(mime_body_over_open(&st), 0, "the line ended in the failing call: not open");
    /* a stuffed dot counts once */
    mime_body_init(&st);
    big[0] = '.';
    w = mime_body_update(&st, big, 998, &used, out, sizeof out);
    ok(w == 999 && used == 998 && mime_body_over(&st) == 0,
       "a 998-octet line starting with a dot: taken, 999 octets out");
    big[0] = 'x';
    /* a NUL is never taken (RFC 5322 3.5): before, it was passed on */
    mime_body_init(&st);
    w = mime_body_update(&st, "a\0b", 3, &used, out, sizeof out);
    ok(w == 1 && used == 1 && mime_body_over(&st) == 0 && mime_body_nul(&st) == 2,
       "a NUL stops the filter before it (at octet 2), not a line failure");
}

/* ---- NUL (RFC 5322 3.5; RFC 2045 2.7, 2.8) -------------------------------- */

static void nul_api_checks(void)
{
    mime_body st;
    static char big[1200];
    char out[4096];
    size_t used = 9, w;
    memset(big, 'x', sizeof big);
    mime_body_init(&st);
    is_int((long)mime_body_nul(&st), 0, "nul: 0 after init");
    w = mime_body_update(&st, "ab\r\n", 4, &used, out, sizeof out);
    w = mime_body_update(&st, "cd", 2, &used, out, sizeof out);
    w = mime_body_update(&st, "e\0f", 3, &used, out, sizeof out);
    ok(w == 1 && used == 1 && out[0] == 'e', "the octets before the NUL are taken");
    is_int((long)mime_body_nul(&st), 8, "nul: its octet in the body, counting earlier calls (8)");
    is_int((long)mime_body_over(&st), 0, "over stays 0");
    is_int(mime_body_over_open(&st), 0, "over_open stays 0");
    used = 9;
    w = mime_body_update(&st, "ok\r\n", 4, &used, out, sizeof out);
    ok(w == 0 && used == 0, "after a NUL: nothing more taken");
    is_int((long)mime_body_finish_len(&st), 0, "after a NUL: finish_len 0");
    w = mime_body_finish(&st, out, sizeof out);
    ok(w == 0 && mime_body_nul(&st) == 8, "after a NUL: finish writes nothing, the failure stays");
    mime_body_init(&st);
    is_int((long)mime_body_nul(&st), 0, "init clears the NUL");
    w = mime_body_update(&st, "\0", 1, &used, out, sizeof out);
    ok(w == 0 && used == 0 && mime_body_nul(&st) == 1, "a NUL as the first octet: nul 1");
    /* a new body after a finished one counts from its own start */
    mime_body_init(&st);
    w = mime_body_update(&st, "abc\r\n", 5, &used, out, sizeof out);
    w = mime_body_finish(&st, out, sizeof out);
    w = mime_body_update(&st, "x\0", 2, &used, out, sizeof out);
    ok(w == 1 && mime_body_nul(&st) == 2, "the next body counts from its own start");
    /* the NUL is the octet past the limit: the NUL is reported */
    mime_body_init(&st);
    big[998] = '\0';
    w = mime_body_update(&st, big, 1000, &used, out, sizeof out);
    ok(w == 998 && used == 998 && mime_body_nul(&st) == 999 && mime_body_over(&st) == 0,
       "998 octets then a NUL: the NUL is reported (999), not the line");
    big[998] = 'x';
    mime_body_init(&st);
    big[999] = '\0';
    w = mime_body_update(&st, big, 1000, &used, out, sizeof out);
    ok(w == 998 && used == 998 && mime_body_nul(&st) == 0 && mime_body_over(&st) == 1000,
       "999 octets then a NUL: the line fails first (its length counts the NUL)");
    big[999] = 'x';
    /* dot-stuffing: a dot opening a line, then the NUL */
    mime_body_init(&st);
    w = mime_body_update(&st, "a\r\n.\0", 5, &used, out, sizeof out);
    is_mem(out, w, STR("a\r\n.."), "a dot opening a line is doubled, then the NUL stops it");
    is_int((long)mime_body_nul(&st), 5, "nul 5 (the doubled dot counts once)");
    /* small room: the NUL is found even when nothing else fits */
    mime_body_init(&st);
    w = mime_body_update(&st, "\0", 1, &used, out, 0);
    ok(w == 0 && used == 0 && mime_body_nul(&st) == 1, "cap 0: a NUL still fails");
    /* the text check for preambles and epilogues */
    is_int((long)mime_body_text_nul("", 0), 0, "text_nul: empty");
    is_int((long)mime_body_text_nul(STR("abc\r\n")), 0, "text_nul: no NUL");
    is_int((long)mime_body_text_nul(STR("\0")), 1, "text_nul: a NUL first is 1");
    is_int((long)mime_body_text_nul(STR("ab\0c\0")), 3, "text_nul: the first NUL counts");
    is_int((long)mime_body_text_nul(big, sizeof big), 0, "text_nul: 1200 octets, none");
    big[sizeof big - 1] = '\0';
    is_int((long)mime_body_text_nul(big, sizeof big), (long)sizeof big, "text_nul: the last octet");
    big[sizeof big - 1] = 'x';
}

/* A NUL at every position of inputs with short lines, dots opening lines
 * and every line break, with long runs (the fast path) and short ones;
 * fed whole, in 2 and 3 chunks cut everywhere, byte by byte and with
 * small room: the filter stops right before the NUL, with the model's
 * output up to there. */
static void nul_checks(void)
{
    static unsigned char in[MAXIN];
    static const char *const bases[] = {
        "Subject: x\r\n\r\n.dot\r\n..\r\nab\ncd\ref\r\r\n\n.\r.\n.",
        "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    };
    size_t b;
    for (b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        size_t bn = strlen(bases[b]), pos, all_ok = 1;
        for (pos = 0; pos <= bn && all_ok; pos++) {
            size_t n = bn + 1, cut, k;
            size_t cuts[2];
            static size_t bcuts[MAXIN];
            char name[96];
            /* the NUL inserted before base octet pos (or replacing none) */
            memcpy(in, bases[b], pos);
            in[pos] = 0;
            memcpy(in + pos + 1, bases[b] + pos, bn - pos);
            snprintf(name, sizeof name, "base %lu, a NUL at %lu", (unsigned long)b,
                     (unsigned long)pos + 1);
            all_ok = check_limit(in, n, NULL, 0, 0, name);
            for (cut = 0; cut <= n && all_ok; cut++) {
                cuts[0] = cut;
                cuts[1] = cut + 1;
                all_ok = check_limit(in, n, cuts, 1, 0, name) &&
                         check_limit(in, n, cuts, 2, 0, name);
                if (!all_ok)
                    diag("cut at %lu", (unsigned long)cut);
            }
            for (k = 0; k < n; k++)
                bcuts[k] = k + 1;
            all_ok = all_ok && check_limit(in, n, bcuts, n, 0, name) &&
                     check_limit(in, n, NULL, 0, 2, name) && check_limit(in, n, NULL, 0, 3, name);
            /* a second NUL after the first changes nothing */
            if (all_ok && pos + 2 < n) {
                in[n - 1] = 0;
                all_ok = check_limit(in, n, NULL, 0, 0, name) &&
                         check_limit(in, n, bcuts, n, 0, name);
            }
        }
        ok(all_ok, "base %lu: a NUL at every position, whole, cut in 2 and 3 everywhere, "
                   "byte by byte, room 2 and 3: stops before it, output as the model",
           (unsigned long)b);
    }
}

static void api_checks(void)
{
    mime_body st;
    char out[8];
    size_t used = 77, w;
    mime_body_init(&st);
    is_int(mime_body_finish_len(&st), 3, "finish_len of an empty body is 3");
    w = mime_body_update(&st, "", 0, &used, out, sizeof out);
    ok(w == 0 && used == 0, "update with no input does nothing");
    w = mime_body_update(&st, "ab", 2, &used, out, 0);
    ok(w == 0 && used == 0, "update with cap 0 takes nothing");
    w = mime_body_update(&st, "ab", 2, &used, out, sizeof out);
    is_int(mime_body_finish_len(&st), 5, "finish_len mid-line is 5");
    w = mime_body_update(&st, "\r", 1, &used, out, sizeof out);
    is_int(mime_body_finish_len(&st), 3, "finish_len after CR is 3");
    w = mime_body_finish(&st, out, 2);
    ok(w == 0, "finish into too small a buffer writes nothing");
    w = mime_body_finish(&st, out, sizeof out);
    is_mem(out, w, STR(".\r\n"), "finish after CR");
    /* the state is reset: a second body starts at BOL */
    w = mime_body_update(&st, ".x", 2, &used, out, sizeof out);
    is_mem(out, w, STR("..x"), "after finish, a new body starts at a line start");
    /* room for one byte: progress whenever the next byte's output fits */
    mime_body_init(&st);
    w = mime_body_update(&st, "ab", 2, &used, out, 1);
    ok(w == 1 && used == 1 && out[0] == 'a', "cap 1 at a line start takes an ordinary byte");
    w = mime_body_update(&st, "\r\n", 2, &used, out, 2);
    ok(w == 2 && used == 2, "a CRLF fits in 2 bytes (the LF adds nothing)");
    w = mime_body_update(&st, "\n", 1, &used, out, 0);
    ok(w == 0 && used == 0, "cap 0 at a line start: a bare LF (2 bytes) waits");
    w = mime_body_update(&st, ".", 1, &used, out, 1);
    ok(w == 0 && used == 0, "cap 1: a dot at a line start (2 bytes) waits");
}

int main(void)
{
    tap_seed();
    guard_init(&g_in, MAXIN);
    guard_init(&g_out, MAXOUT);
    api_checks();
    limit_api_checks();
    limit_checks();
    nul_api_checks();
    nul_checks();
    probe_checks();
    exhaustive_checks();
    random_checks();
    guard_free(&g_in);
    guard_free(&g_out);
    return done_testing();
}
