/*
 * test_mime_enc.c -- mime_enc: base64 (one-shot and streaming),
 * quoted-printable, line-end normalisation, mime_cte_choose.
 *
 * Every streaming case runs four ways and must give the same bytes:
 * whole (one update with exactly mime_X_bound of room), byte by byte,
 * cut in two at every point (short cases), and at random splits with
 * random small output room (>= MIME_ENC_MIN_CAP, so *used < n happens).
 * Input chunks and output buffers sit against guard pages, so reading or
 * writing one byte too far faults. The contract is checked on every call:
 * used <= n, written <= cap and <= mime_X_bound(state, used), progress
 * with MIME_ENC_MIN_CAP of room, everything taken with bound room, finish
 * with too little room writes nothing and keeps the state, finish resets.
 *
 * Oracles written here, independent of mime_enc.c: a strict base64
 * decoder with line checks, a strict quoted-printable decoder that checks
 * each line (length, characters, trailing white space, "From "/'.' in safe
 * mode), a line-end normaliser; decode(encode(x)) == x (base64, binary
 * QP) or == normalise(x) (text QP), and eol(x) == normalise(x). Plus
 * RFC 4648 vectors, all 256 byte values, and table-driven QP edge cases.
 * The byte-for-byte comparison with Python and LuaSocket is
 * test_mime_enc_ref (ref_enc.py). TAP_SEED reproduces a run.
 *
 * Engines: mime_enc.c
 */
#include "guard.h"
#include "tap.h"
#include "mime/mime_enc.h"
#include "oracle.h"

#define STR(s) s, sizeof(s) - 1
#define MAXIN (256 * 1024)
#define MAXOUT (4 * MAXIN + 1024)

static guard g_in, g_out;

/* ======================================================================
 * independent oracles
 * ====================================================================== */

/* Base64 in lines of linelen (0: one line) each ended by CRLF (none for
 * 0): every line but the last is full, the last is not empty. */
static long b64_decode_lines(const char *s, size_t n, unsigned linelen,
                             unsigned char *out, char *tmp)
{
    size_t i = 0, t = 0;
    if (linelen == 0)
        return memchr(s, '\r', n) || memchr(s, '\n', n) ? -1 : oracle_b64_decode(s, n, out);
    while (i < n) {
        const char *e = memchr(s + i, '\r', n - i);
        size_t len;
        if (e == NULL || (size_t)(e - s) + 1 >= n || e[1] != '\n')
            return -1; /* every line ends with CRLF */
        len = (size_t)(e - s) - i;
        if (len == 0 || len > linelen || memchr(s + i, '\n', len))
            return -1;
        if (len < linelen && (size_t)(e - s) + 2 != n)
            return -1; /* only the last line is short */
        memcpy(tmp + t, s + i, len);
        t += len;
        i += len + 2;
    }
    return oracle_b64_decode(tmp, t, out);
}

/* Strict quoted-printable (RFC 2045 6.7) plus our rules: lines of at most
 * 76 characters ("=" of a soft break included), no space or tab at the end
 * of a line, no soft break at the very end, nothing but =XX, 33..126 and
 * space/tab, and in safe mode no line starting with '.' or "From ".
 * Hard breaks decode to CRLF. Returns the length, or -1 (and *why). */
static long qp_decode(const char *s, size_t n, int safe, unsigned char *out,
                      const char **why)
{
    size_t i = 0, o = 0;
    while (i < n) {
        const char *cr = memchr(s + i, '\r', n - i);
        size_t end = cr ? (size_t)(cr - s) : n, j, len = end - i;
        int soft = 0;
        if (cr && (end + 1 >= n || s[end + 1] != '\n')) {
            *why = "CR not in a CRLF";
            return -1;
        }
        if (memchr(s + i, '\n', len)) {
            *why = "bare LF";
            return -1;
        }
        if (len > 76) {
            *why = "line longer than 76";
            return -1;
        }
        if (len > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t')) {
            *why = "space or tab at the end of a line";
            return -1;
        }
        if (safe && ((len > 0 && s[i] == '.') ||
                     (len >= 5 && memcmp(s + i, "From ", 5) == 0))) {
            *why = "line starts with '.' or \"From \" in safe mode";
            return -1;
        }
        for (j = i; j < end; j++) {
            unsigned char c = (unsigned char)s[j];
            if (c == '=') {
                int h, l;
                if (j + 1 == end) {
                    if (!cr) {
                        *why = "'=' at the very end";
                        return -1;
                    }
                    soft = 1;
                    break;
                }
                if (j + 2 >= end) {
                    *why = "=X cut by a line end";
                    return -1;
                }
                h = oracle_unhex(s[j + 1]);
                l = oracle_unhex(s[j + 2]);
                if (h < 0 || l < 0) {
                    *why = "'=' not followed by two upper-case hex digits";
                    return -1;
                }
                out[o++] = (unsigned char)(h * 16 + l);
                j += 2;
            } else if ((c >= 33 && c <= 126) || c == ' ' || c == '\t') {
                out[o++] = c;
            } else {
                *why = "raw byte outside 33..126, space, tab";
                return -1;
            }
        }
        if (!cr)
            break;
        if (!soft) {
            out[o++] = '\r';
            out[o++] = '\n';
        } else if (end + 2 == n) {
            *why = "soft break at the very end";
            return -1;
        }
        i = end + 2;
    }
    return (long)o;
}

/* ======================================================================
 * the encoders behind one interface
 * ====================================================================== */

enum { K_B64, K_QP, K_EOL };

typedef struct {
    int kind;
    unsigned arg; /* base64: linelen; QP: flags */
} spec_t;

typedef struct {
    int kind;
    union {
        mime_b64 b64;
        mime_qp qp;
        mime_eol eol;
    } u;
} enc;

static const char *spec_name(spec_t sp)
{
    static char buf[64];
    if (sp.kind == K_B64)
        snprintf(buf, sizeof buf, "base64/%u", sp.arg);
    else if (sp.kind == K_QP)
        snprintf(buf, sizeof buf, "qp/%s%s", sp.arg & MIME_QP_BINARY ? "binary" : "text",
                 sp.arg & MIME_QP_SAFE ? "+safe" : "");
    else
        snprintf(buf, sizeof buf, "eol");
    return buf;
}

static void e_init(enc *e, spec_t sp)
{
    e->kind = sp.kind;
    if (sp.kind == K_B64)
        mime_b64_init(&e->u.b64, sp.arg);
    else if (sp.kind == K_QP)
        mime_qp_init(&e->u.qp, sp.arg);
    else
        mime_eol_init(&e->u.eol);
}

static size_t e_update(enc *e, const unsigned char *in, size_t n, size_t *used,
                       char *out, size_t cap)
{
    if (e->kind == K_B64)
        return mime_b64_update(&e->u.b64, in, n, used, out, cap);
    if (e->kind == K_QP)
        return mime_qp_update(&e->u.qp, in, n, used, out, cap);
    return mime_eol_update(&e->u.eol, in, n, used, out, cap);
}

static size_t e_finish(enc *e, char *out, size_t cap)
{
    if (e->kind == K_B64)
        return mime_b64_finish(&e->u.b64, out, cap);
    if (e->kind == K_QP)
        return mime_qp_finish(&e->u.qp, out, cap);
    return mime_eol_finish(&e->u.eol, out, cap);
}

static size_t e_bound(const enc *e, size_t n)
{
    if (e->kind == K_B64)
        return mime_b64_bound(&e->u.b64, n);
    if (e->kind == K_QP)
        return mime_qp_bound(&e->u.qp, n);
    return mime_eol_bound(&e->u.eol, n);
}

/* The same state, field by field (not memcmp: padding). */
static int e_same(const enc *a, const enc *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == K_B64)
        return a->u.b64.npend == b->u.b64.npend && a->u.b64.col == b->u.b64.col &&
               a->u.b64.linelen == b->u.b64.linelen &&
               memcmp(a->u.b64.pend, b->u.b64.pend, a->u.b64.npend) == 0;
    if (a->kind == K_QP)
        return a->u.qp.flags == b->u.qp.flags && a->u.qp.col == b->u.qp.col &&
               a->u.qp.held == b->u.qp.held && a->u.qp.nlook == b->u.qp.nlook &&
               memcmp(a->u.qp.look, b->u.qp.look, a->u.qp.nlook) == 0;
    return a->u.eol.cr == b->u.eol.cr;
}

/* ======================================================================
 * the drivers
 * ====================================================================== */

enum { M_WHOLE, M_BYTES, M_SPLIT, M_CUT };
static const char *const mode_name[] = {"whole", "byte by byte", "random splits",
                                        "cut in two"};

/* First contract violation seen (reported once per test line). */
static char violation[256];

static void violate(const char *fmt, spec_t sp, size_t a, size_t b)
{
    if (violation[0] == '\0') {
        char what[160];
        snprintf(what, sizeof what, fmt, (unsigned long)a, (unsigned long)b);
        snprintf(violation, sizeof violation, "%s: %s", spec_name(sp), what);
    }
}

/* One update of in[0..n) with room cap, checking the contract; the input
 * and the output sit against guard pages. Returns the bytes written. */
static size_t checked_update(enc *e, spec_t sp, const unsigned char *in, size_t n,
                             size_t *used, char *res, size_t cap)
{
    const unsigned char *p = (const unsigned char *)guard_put(&g_in, in, n);
    char *out = guard_space(&g_out, cap);
    size_t bound = e_bound(e, n), w, u = (size_t)-1, ubound;
    enc before = *e;
    w = e_update(e, p, n, &u, out, cap);
    if (u > n) {
        violate("used %lu of %lu bytes", sp, u, n);
        u = n;
    }
    if (w > cap) {
        violate("wrote %lu with room %lu", sp, w, cap);
        w = cap;
    }
    ubound = e_bound(&before, u);
    if (w > ubound)
        violate("wrote %lu, more than the bound %lu for what it used", sp, w, ubound);
    if (cap >= bound && u != n)
        violate("took %lu of %lu bytes with room for the bound", sp, u, n);
    if (cap >= MIME_ENC_MIN_CAP && n > 0 && u == 0)
        violate("no progress with room %lu (n = %lu)", sp, cap, n);
    memcpy(res, out, w);
    *used = u;
    return w;
}

/* finish: with one byte too little room nothing happens; then with
 * MIME_ENC_FINISH_MAX; then the state is as new. */
static size_t checked_finish(enc *e, spec_t sp, char *res)
{
    enc probe = *e, fresh;
    char scratch[64];
    size_t need = e_finish(&probe, scratch, sizeof scratch), w;
    char *out;
    if (need > MIME_ENC_FINISH_MAX)
        violate("finish needs %lu > MIME_ENC_FINISH_MAX %lu", sp, need,
                MIME_ENC_FINISH_MAX);
    if (need > 0) {
        enc small = *e;
        out = guard_space(&g_out, need - 1);
        if (e_finish(&small, out, need - 1) != 0 || !e_same(&small, e))
            violate("finish with room %lu < %lu did something", sp, need - 1, need);
    }
    out = guard_space(&g_out, MIME_ENC_FINISH_MAX);
    w = e_finish(e, out, MIME_ENC_FINISH_MAX);
    if (w != need || memcmp(out, scratch, w) != 0)
        violate("finish wrote %lu, then %lu", sp, need, w);
    memcpy(res, out, w);
    e_init(&fresh, sp);
    if (!e_same(e, &fresh))
        violate("finish did not reset the state (%lu%lu)", sp, 0, 0);
    return w;
}

/* Encode in[0..n) one way; returns the length of res. */
static size_t encode(spec_t sp, const unsigned char *in, size_t n, int mode,
                     size_t cut, char *res)
{
    enc e;
    size_t o = 0, off = 0, used;
    int stuck = 0;
    e_init(&e, sp);
    switch (mode) {
    case M_WHOLE:
        o = checked_update(&e, sp, in, n, &used, res, e_bound(&e, n));
        break;
    case M_BYTES:
        for (off = 0; off < n; off++)
            o += checked_update(&e, sp, in + off, 1, &used, res + o, e_bound(&e, 1));
        break;
    case M_CUT:
        o = checked_update(&e, sp, in, cut, &used, res, e_bound(&e, cut));
        o += checked_update(&e, sp, in + cut, n - cut, &used, res + o,
                            e_bound(&e, n - cut));
        break;
    default:
        while (off < n) {
            size_t r = tap_below(10), chunk, cap;
            chunk = 1 + tap_below(r < 4 ? 8 : r < 8 ? 200 : 5000);
            if (chunk > n - off)
                chunk = n - off;
            cap = tap_below(4) == 0 ? e_bound(&e, chunk)
                                    : MIME_ENC_MIN_CAP + tap_below(r < 5 ? 8 : 300);
            o += checked_update(&e, sp, in + off, chunk, &used, res + o, cap);
            off += used;
            if (used == 0 && ++stuck > 100000) {
                violate("stuck at offset %lu of %lu", sp, off, n);
                break;
            }
        }
        break;
    }
    o += checked_finish(&e, sp, res + o);
    return o;
}

static char out_a[MAXOUT], out_b[MAXOUT];

static size_t whole_len; /* length of the whole encoding in out_a */

/* Encodes every way; true if each gives `expect` (or, with expect NULL,
 * the same as whole). The whole encoding is left in out_a (whole_len).
 * Prints one test line, or only failures when quiet. */
static int check_ways(spec_t sp, const unsigned char *in, size_t n,
                      const char *expect, size_t elen, const char *label, int quiet)
{
    size_t la = encode(sp, in, n, M_WHOLE, 0, out_a), lb, cut;
    int m, same = 1;
    if (expect != NULL && (la != elen || memcmp(out_a, expect, elen) != 0)) {
        is_mem(out_a, la, expect, elen, "%s %s: whole", spec_name(sp), label);
        same = 0;
    }
    for (m = M_BYTES; m <= M_SPLIT && same; m++) {
        int reps = m == M_SPLIT ? 3 : 1, r;
        for (r = 0; r < reps && same; r++) {
            lb = encode(sp, in, n, m, 0, out_b);
            if (lb != la || memcmp(out_a, out_b, la) != 0) {
                is_mem(out_b, lb, out_a, la, "%s %s: %s as whole", spec_name(sp),
                       label, mode_name[m]);
                same = 0;
            }
        }
    }
    for (cut = 1; n <= 200 && cut < n && same; cut++) {
        lb = encode(sp, in, n, M_CUT, cut, out_b);
        if (lb != la || memcmp(out_a, out_b, la) != 0) {
            is_mem(out_b, lb, out_a, la, "%s %s: cut at %lu as whole",
                   spec_name(sp), label, (unsigned long)cut);
            same = 0;
        }
    }
    if (same && !quiet)
        ok(1, "%s %s: whole, byte by byte, cut anywhere, random splits", spec_name(sp),
           label);
    whole_len = la;
    return same;
}

static void contract_line(const char *label)
{
    if (violation[0] != '\0')
        diag("%s", violation);
    ok(violation[0] == '\0', "contract kept on every call (%s)", label);
    violation[0] = '\0';
}

/* ======================================================================
 * one-shot base64
 * ====================================================================== */

static size_t oneshot(const void *in, size_t n, char *res)
{
    const unsigned char *p = (const unsigned char *)guard_put(&g_in, in, n);
    char *out = guard_space(&g_out, MIME_B64_LEN(n));
    size_t w = mime_b64_encode(p, n, out);
    memcpy(res, out, w <= MIME_B64_LEN(n) ? w : MIME_B64_LEN(n));
    return w;
}

static const struct {
    const char *in;
    size_t n;
    const char *out;
} b64v[] = {
    {STR(""), ""},
    {STR("f"), "Zg=="},
    {STR("fo"), "Zm8="},
    {STR("foo"), "Zm9v"},
    {STR("foob"), "Zm9vYg=="},
    {STR("fooba"), "Zm9vYmE="},
    {STR("foobar"), "Zm9vYmFy"},
    /* SASL PLAIN and LOGIN examples */
    {STR("\0user\0pass"), "AHVzZXIAcGFzcw=="},
    {STR("Username:"), "VXNlcm5hbWU6"},
    {STR("Password:"), "UGFzc3dvcmQ6"},
    {STR("\xfb\xff\xbf"), "+/+/"},
    {STR("\0\0\0"), "AAAA"},
    {STR("\xff\xff\xff"), "////"},
    {STR("\xff"), "/w=="},
    {STR("\xff\xff"), "//8="},
};

static void oneshot_vectors(void)
{
    size_t i;
    char res[64];
    for (i = 0; i < sizeof b64v / sizeof b64v[0]; i++) {
        size_t w = oneshot(b64v[i].in, b64v[i].n, res);
        is_mem(res, w, b64v[i].out, strlen(b64v[i].out), "one-shot base64 of %lu bytes -> %s",
               (unsigned long)b64v[i].n, b64v[i].out);
    }
    ok(MIME_B64_LEN(0) == 0 && MIME_B64_LEN(1) == 4 && MIME_B64_LEN(3) == 4 &&
           MIME_B64_LEN(4) == 8 && MIME_B64_LEN(300) == 400,
       "MIME_B64_LEN");
}

static void oneshot_random(void)
{
    static unsigned char in[1024], back[1024];
    static char res[2048], parts[2048];
    size_t n;
    int all_len = 1, all_rt = 1, all_split = 1;
    for (n = 0; n <= 700; n++) {
        size_t k, w, off, pl;
        long d;
        for (k = 0; k < n; k++)
            in[k] = (unsigned char)tap_below(256);
        w = oneshot(in, n, res);
        if (w != MIME_B64_LEN(n)) {
            if (all_len)
                diag("length %lu: wrote %lu", (unsigned long)n, (unsigned long)w);
            all_len = 0;
            continue;
        }
        d = oracle_b64_decode(res, w, back);
        if (d != (long)n || memcmp(back, in, n) != 0) {
            if (all_rt)
                diag("length %lu: does not decode back", (unsigned long)n);
            all_rt = 0;
        }
        for (off = 0, pl = 0; off < n;) { /* split at multiples of 3 */
            size_t chunk = 3 * (1 + tap_below(30));
            if (chunk > n - off || tap_below(5) == 0)
                chunk = n - off;
            pl += oneshot(in + off, chunk, parts + pl);
            off += chunk;
        }
        if (pl != w || memcmp(parts, res, w) != 0) {
            if (all_split)
                diag("length %lu: split encoding differs", (unsigned long)n);
            all_split = 0;
        }
    }
    ok(all_len, "one-shot, lengths 0..700: output is MIME_B64_LEN(n) bytes");
    ok(all_rt, "one-shot, lengths 0..700 of random data: the decoder gives it back");
    ok(all_split, "one-shot, lengths 0..700: encoding at 3-byte boundaries concatenates");
}

/* ======================================================================
 * streaming base64
 * ====================================================================== */

static void b64_stream_vectors(void)
{
    static const struct {
        unsigned linelen;
        const char *in;
        size_t n;
        const char *out;
    } v[] = {
        {76, STR(""), ""},
        {76, STR("f"), "Zg==\r\n"},
        {76, STR("foobar"), "Zm9vYmFy\r\n"},
        {4, STR("foobar"), "Zm9v\r\nYmFy\r\n"},
        {4, STR("fooba"), "Zm9v\r\nYmE=\r\n"},
        {8, STR("foobarfoob"), "Zm9vYmFy\r\nZm9vYg==\r\n"},
        {6, STR("foobar"), "Zm9v\r\nYmFy\r\n"},   /* rounded down to 4 */
        {1, STR("foo"), "Zm9v\r\n"},             /* rounded up to 4 */
        {0, STR("\0user\0pass"), "AHVzZXIAcGFzcw=="},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        spec_t sp = {K_B64, v[i].linelen};
        char label[64];
        snprintf(label, sizeof label, "\"%s\"", v[i].out);
        check_ways(sp, (const unsigned char *)v[i].in, v[i].n, v[i].out,
                   strlen(v[i].out), label, 0);
    }
    for (i = 0; i < sizeof b64v / sizeof b64v[0]; i++) {
        spec_t sp = {K_B64, 0};
        size_t la = encode(sp, (const unsigned char *)b64v[i].in, b64v[i].n, M_SPLIT,
                           0, out_a);
        if (la != strlen(b64v[i].out) || memcmp(out_a, b64v[i].out, la) != 0)
            break;
    }
    ok(i == sizeof b64v / sizeof b64v[0], "streaming base64/0 gives the one-shot vectors");
    contract_line("base64 vectors");
}

/* The one-shot text cut in lines of linelen with CRLF. */
static size_t wrap(const char *s, size_t n, unsigned linelen, char *out)
{
    size_t i, o = 0;
    if (linelen == 0) {
        memcpy(out, s, n);
        return n;
    }
    for (i = 0; i < n; i += linelen) {
        size_t len = n - i < linelen ? n - i : linelen;
        memcpy(out + o, s + i, len);
        o += len;
        out[o++] = '\r';
        out[o++] = '\n';
    }
    return o;
}

static void b64_stream_random(void)
{
    static unsigned char in[MAXIN], back[MAXIN];
    static char flat[MAXOUT], wrapped[MAXOUT], tmp[MAXOUT];
    static const unsigned linelens[] = {76, 0, 4, 64, 100};
    static const size_t sizes[] = {1, 2, 3, 55, 56, 57, 58, 59, 113, 114, 115, 171,
                                   1000, 4095, 4096, 65537, 100003};
    size_t li, si;
    for (li = 0; li < sizeof linelens / sizeof linelens[0]; li++) {
        spec_t sp = {K_B64, linelens[li]};
        int all_ref = 1, all_rt = 1, all_ways = 1;
        size_t n;
        for (si = 0; si < sizeof sizes / sizeof sizes[0] + 60; si++) {
            size_t k, la, lw, lb;
            long d;
            int m;
            n = si < sizeof sizes / sizeof sizes[0] ? sizes[si] : tap_below(400);
            for (k = 0; k < n; k++)
                in[k] = (unsigned char)tap_below(256);
            la = encode(sp, in, n, M_WHOLE, 0, out_a);
            lw = wrap(flat, mime_b64_encode(in, n, flat), linelens[li], wrapped);
            if (la != lw || memcmp(out_a, wrapped, la) != 0) {
                if (all_ref)
                    is_mem(out_a, la, wrapped, lw, "%s, %lu random bytes",
                           spec_name(sp), (unsigned long)n);
                all_ref = 0;
            }
            d = b64_decode_lines(out_a, la, linelens[li], back, tmp);
            if (d != (long)n || memcmp(back, in, n) != 0) {
                if (all_rt)
                    diag("%s, %lu bytes: does not decode back", spec_name(sp),
                         (unsigned long)n);
                all_rt = 0;
            }
            for (m = M_BYTES; m <= M_SPLIT; m++) {
                if (m == M_BYTES && n > 5000)
                    continue;
                lb = encode(sp, in, n, m, 0, out_b);
                if (lb != la || memcmp(out_a, out_b, la) != 0) {
                    if (all_ways)
                        diag("%s, %lu bytes: %s differs from whole", spec_name(sp),
                             (unsigned long)n, mode_name[m]);
                    all_ways = 0;
                }
            }
        }
        ok(all_ref, "%s: random data of many sizes = one-shot text in lines of %u + CRLF",
           spec_name(sp), linelens[li]);
        ok(all_rt, "%s: the strict decoder (lines full but the last) gives it back",
           spec_name(sp));
        ok(all_ways, "%s: byte by byte and random splits give the same as whole",
           spec_name(sp));
    }
    contract_line("base64 random");
}

/* ======================================================================
 * quoted-printable
 * ====================================================================== */

#define T 0
#define B MIME_QP_BINARY
#define S MIME_QP_SAFE

static char rep_buf[4][256];

/* n copies of c */
static const char *rep(int slot, char c, size_t n)
{
    memset(rep_buf[slot], c, n);
    rep_buf[slot][n] = '\0';
    return rep_buf[slot];
}

static void qp_case(unsigned flags, const char *in, size_t n, const char *out,
                    const char *label)
{
    spec_t sp = {K_QP, flags};
    check_ways(sp, (const unsigned char *)in, n, out, strlen(out), label, 0);
}

#define QP(flags, in, out, label) qp_case(flags, STR(in), out, label)

static void qp_vectors(void)
{
    char in[512], out[512];

    QP(T, "", "", "empty");
    QP(T, "abc", "abc", "plain");
    QP(T, "a=b", "a=3Db", "'=' is escaped");
    QP(T, "\xe9t\xe9\x7f\x01", "=E9t=E9=7F=01", "8-bit and control bytes, upper-case hex");
    QP(T, "a b\tc", "a b\tc", "space and tab inside a line");
    QP(T, "trailing ", "trailing=20", "space at the end");
    QP(T, "trailing\t", "trailing=09", "tab at the end");
    QP(T, "two  ", "two =20", "only the last space of a line is escaped");
    QP(T, "line \r\nnext", "line=20\r\nnext", "space before CRLF");
    QP(T, "line\t\nnext", "line=09\r\nnext", "tab before a bare LF");
    QP(T, "line \rnext", "line=20\r\nnext", "space before a bare CR");
    QP(T, "a\r\n\r\nb", "a\r\n\r\nb", "CRLF CRLF");
    QP(T, "a\nb\rc\r\nd", "a\r\nb\r\nc\r\nd", "LF, CR and CRLF are all one break");
    QP(T, "a\n\rb", "a\r\n\r\nb", "LF CR is two breaks");
    QP(T, "a\r\r\nb", "a\r\n\r\nb", "CR CRLF is two breaks");
    QP(T, "\r", "\r\n", "a lone CR");
    QP(T, "\n", "\r\n", "a lone LF");
    QP(T, "\r\n", "\r\n", "a lone CRLF");
    QP(T, " \r\n \r\n", "=20\r\n=20\r\n", "lines of one space");

    /* line length */
    qp_case(T, rep(0, 'a', 76), 76, rep(1, 'a', 76), "76 letters fit on the last line");
    snprintf(out, sizeof out, "%s=\r\naa", rep(0, 'a', 75));
    qp_case(T, rep(1, 'a', 77), 77, out, "77 letters: 75, soft break, 2");
    snprintf(in, sizeof in, "%s\r\nb", rep(0, 'a', 76));
    qp_case(T, in, strlen(in), in, "76 letters then a hard break: no soft break");
    snprintf(in, sizeof in, "%s\nb", rep(0, 'a', 76));
    snprintf(out, sizeof out, "%s\r\nb", rep(1, 'a', 76));
    qp_case(T, in, strlen(in), out, "76 letters then LF");
    snprintf(in, sizeof in, "%sb", rep(0, 'a', 76));
    snprintf(out, sizeof out, "%s=\r\nab", rep(1, 'a', 75));
    qp_case(T, in, strlen(in), out, "77 characters without a break");
    snprintf(in, sizeof in, "%s \r\n", rep(0, 'a', 75));
    snprintf(out, sizeof out, "%s=\r\n=20\r\n", rep(1, 'a', 75));
    qp_case(T, in, strlen(in), out, "space at column 76 before CRLF moves to the next line");
    snprintf(in, sizeof in, "%s \r\n", rep(0, 'a', 73));
    snprintf(out, sizeof out, "%s=20\r\n", rep(1, 'a', 73));
    qp_case(T, in, strlen(in), out, "=20 ending at column 76 before CRLF");
    snprintf(in, sizeof in, "%s \r\n", rep(0, 'a', 74));
    snprintf(out, sizeof out, "%s=\r\n=20\r\n", rep(1, 'a', 74));
    qp_case(T, in, strlen(in), out, "=20 that would end at column 77");
    snprintf(in, sizeof in, "%s ", rep(0, 'a', 74));
    snprintf(out, sizeof out, "%s=\r\n=20", rep(1, 'a', 74));
    qp_case(T, in, strlen(in), out, "space at the end at column 75");
    snprintf(in, sizeof in, "%s=", rep(0, 'a', 73));
    snprintf(out, sizeof out, "%s=3D", rep(1, 'a', 73));
    qp_case(T, in, strlen(in), out, "'=' ending at column 76 at the end");
    snprintf(in, sizeof in, "%s=\r\n", rep(0, 'a', 73));
    snprintf(out, sizeof out, "%s=3D\r\n", rep(1, 'a', 73));
    qp_case(T, in, strlen(in), out, "'=' ending at column 76 before CRLF");
    snprintf(in, sizeof in, "%s=b", rep(0, 'a', 73));
    snprintf(out, sizeof out, "%s=\r\n=3Db", rep(1, 'a', 73));
    qp_case(T, in, strlen(in), out, "'=' at column 74 with more after it");
    snprintf(in, sizeof in, "%s=b", rep(0, 'a', 72));
    snprintf(out, sizeof out, "%s=3Db", rep(1, 'a', 72));
    qp_case(T, in, strlen(in), out, "'=' at column 73, a letter at 76 at the end");
    snprintf(in, sizeof in, "%s=bc", rep(0, 'a', 72));
    snprintf(out, sizeof out, "%s=3D=\r\nbc", rep(1, 'a', 72));
    qp_case(T, in, strlen(in), out, "'=' at column 73, two letters after it");
    snprintf(in, sizeof in, "%s=", rep(0, 'a', 74));
    snprintf(out, sizeof out, "%s=\r\n=3D", rep(1, 'a', 74));
    qp_case(T, in, strlen(in), out, "'=' at column 75 is not split");
    snprintf(in, sizeof in, "%s\xff", rep(0, 'a', 75));
    snprintf(out, sizeof out, "%s=\r\n=FF", rep(1, 'a', 75));
    qp_case(T, in, strlen(in), out, "an escape at column 76");
    snprintf(in, sizeof in, "%s bc", rep(0, 'a', 74));
    snprintf(out, sizeof out, "%s =\r\nbc", rep(1, 'a', 74));
    qp_case(T, in, strlen(in), out, "a space before a soft break stays (the '=' follows)");
    snprintf(in, sizeof in, "%s x", rep(0, 'a', 75));
    snprintf(out, sizeof out, "%s=\r\n x", rep(1, 'a', 75));
    qp_case(T, in, strlen(in), out, "a space at column 76 goes to the next line");
    qp_case(T, rep(0, '\xff', 30), 30,
            "=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=FF=\r\n"
            "=FF=FF=FF=FF=FF",
            "25 escapes a line");
    qp_case(T, rep(0, '=', 26), 26,
            "=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=\r\n"
            "=3D",
            "26 '=': the last one on a line of its own");
    qp_case(T, rep(0, '=', 25), 25,
            "=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D",
            "25 '=' fit on one line");

    /* safe mode */
    QP(T | S, ".\r\n", "=2E\r\n", "safe: a lone dot");
    QP(T, ".\r\n", ".\r\n", "not safe: a lone dot stays");
    QP(T | S, "a\r\n.b", "a\r\n=2Eb", "safe: a dot starting a line");
    QP(T | S, "a.b.", "a.b.", "safe: dots inside lines stay");
    QP(T | S, ".", "=2E", "safe: a dot alone");
    QP(T | S, "From me", "=46rom me", "safe: From at the start");
    QP(T, "From me", "From me", "not safe: From stays");
    QP(T | S, "From", "From", "safe: From without the space");
    QP(T | S, "From ", "=46rom=20", "safe: From and a final space");
    QP(T | S, "Fro", "Fro", "safe: a cut-off From at the end");
    QP(T | S, "Frog ", "Frog=20", "safe: Frog");
    QP(T | S, "From\tx", "From\tx", "safe: From and a tab");
    QP(T | S, "from x", "from x", "safe: lower-case from");
    QP(T | S, "a\nFrom x\r\nFrom y", "a\r\n=46rom x\r\n=46rom y", "safe: From on later lines");
    QP(T | S, "xFrom x", "xFrom x", "safe: From inside a line");
    QP(T | S, "\rFrom \r", "\r\n=46rom=20\r\n", "safe: after a bare CR");
    QP(T | S | B, "\nFrom x", "=0AFrom x", "safe binary: LF is data, not a line start");
    QP(T | S | B, "From x", "=46rom x", "safe binary: From at the start");
    snprintf(in, sizeof in, "%sFrom x", rep(0, 'x', 75));
    snprintf(out, sizeof out, "%s=\r\n=46rom x", rep(1, 'x', 75));
    qp_case(T | S, in, strlen(in), out, "safe: From after a soft break");
    snprintf(in, sizeof in, "%s.y", rep(0, 'x', 75));
    snprintf(out, sizeof out, "%s=\r\n=2Ey", rep(1, 'x', 75));
    qp_case(T | S, in, strlen(in), out, "safe: a dot after a soft break");
    snprintf(in, sizeof in, "%s.", rep(0, 'x', 75));
    qp_case(T | S, in, strlen(in), in, "safe: a dot at column 76 at the end stays");
    snprintf(in, sizeof in, "%s.\r\n", rep(0, 'x', 75));
    qp_case(T | S, in, strlen(in), in, "safe: a dot at column 76 before CRLF stays");
    snprintf(in, sizeof in, "%sF", rep(0, 'x', 75));
    qp_case(T | S, in, strlen(in), in, "safe: an F at column 76 at the end stays");
    snprintf(in, sizeof in, "%s\xe9.", rep(0, 'x', 72));
    snprintf(out, sizeof out, "%s=E9.", rep(1, 'x', 72));
    qp_case(T | S, in, strlen(in), out, "safe: a dot at column 76 after an escape");

    /* binary */
    QP(B, "a\r\nb", "a=0D=0Ab", "binary: CR and LF are data");
    QP(B, "a \r\n", "a =0D=0A", "binary: a space before CR is not at a line end");
    QP(B, "a ", "a=20", "binary: a space at the end");
    QP(B, "\n", "=0A", "binary: a lone LF");
    qp_case(B, rep(0, '\n', 26), 26,
            "=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=0A=\r\n"
            "=0A",
            "binary: 26 LFs");
    snprintf(in, sizeof in, "%s\r", rep(0, 'a', 73));
    snprintf(out, sizeof out, "%s=0D", rep(1, 'a', 73));
    qp_case(B, in, strlen(in), out, "binary: an escape to column 76 at the end");
    snprintf(in, sizeof in, "%s\r\n", rep(0, 'a', 73));
    snprintf(out, sizeof out, "%s=\r\n=0D=0A", rep(1, 'a', 73));
    qp_case(B, in, strlen(in), out, "binary: no hard break to end a line on");
    contract_line("QP vectors");
}

/* Each byte value alone, and the 256 values in a row, every flag. */
static void qp_all_bytes(void)
{
    static const unsigned flagset[] = {T, S, B, B | S};
    unsigned char all[256], back[2048];
    size_t f;
    int b;
    for (b = 0; b < 256; b++)
        all[b] = (unsigned char)b;
    for (f = 0; f < 4; f++) {
        spec_t sp = {K_QP, flagset[f]};
        int good = 1;
        for (b = 0; b < 256 && good; b++) {
            unsigned char c = (unsigned char)b;
            char expect[8];
            size_t w = encode(sp, &c, 1, M_WHOLE, 0, out_a);
            int lit = (b >= 33 && b <= 126 && b != '=' &&
                       !((flagset[f] & S) && (b == '.')));
            if (!(flagset[f] & B) && (b == '\r' || b == '\n'))
                strcpy(expect, "\r\n");
            else if (lit)
                snprintf(expect, sizeof expect, "%c", b);
            else
                snprintf(expect, sizeof expect, "=%02X", b);
            if (w != strlen(expect) || memcmp(out_a, expect, w) != 0) {
                is_mem(out_a, w, expect, strlen(expect), "%s: byte 0x%02X alone",
                       spec_name(sp), b);
                good = 0;
            }
        }
        if (good)
            ok(1, "%s: each byte value alone is itself, =XX or CRLF", spec_name(sp));
        {
            const char *why = "";
            long d;
            check_ways(sp, all, 256, NULL, 0, "all 256 byte values", 0);
            d = qp_decode(out_a, whole_len, (flagset[f] & S) != 0, back, &why);
            unsigned char norm[600];
            size_t ln = flagset[f] & B ? 256 : oracle_crlf(all, 256, norm);
            if (flagset[f] & B)
                memcpy(norm, all, 256);
            if (d < 0)
                diag("%s", why);
            ok(d == (long)ln && memcmp(back, norm, ln) == 0,
               "%s: all 256 byte values decode back", spec_name(sp));
        }
    }
    contract_line("QP all bytes");
}

/* Random input from a mix that hits every rule often. */
static size_t qp_random_input(unsigned char *in, size_t n, int kind)
{
    static const char text[] = "abcdefghij Fro.m\t=";
    size_t k;
    for (k = 0; k < n; k++) {
        size_t r = tap_below(100);
        if (kind == 0) /* binary */
            in[k] = (unsigned char)tap_below(256);
        else if (r < 6)
            in[k] = r < 2 ? '\r' : r < 4 ? '\n' : (unsigned char)tap_below(256);
        else if (r < 10 && k + 6 < n) { /* "From " or "." at line starts */
            static const char *const bits[] = {"\r\nFrom ", "\n.", "\r\n.\r\n", "From "};
            const char *s = bits[tap_below(4)];
            size_t len = strlen(s);
            memcpy(in + k, s, len);
            k += len - 1;
        } else if (r < 14) {
            in[k] = ' ';
        } else {
            in[k] = (unsigned char)text[tap_below(sizeof text - 1)];
        }
    }
    return n;
}

static void qp_random(void)
{
    static unsigned char in[MAXIN], back[MAXIN * 2], norm[MAXIN * 2];
    static const unsigned flagset[] = {T, S, B, B | S};
    size_t f;
    for (f = 0; f < 4; f++) {
        spec_t sp = {K_QP, flagset[f]};
        int all_rt = 1, all_ways = 1, t;
        for (t = 0; t < 150; t++) {
            size_t n = t < 3 ? (size_t)70000 + tap_below(30000) : tap_below(t < 100 ? 300 : 3000);
            size_t la, lb, ln;
            const char *why = "";
            long d;
            int m;
            qp_random_input(in, n, t % 3 != 0);
            la = encode(sp, in, n, M_WHOLE, 0, out_a);
            d = qp_decode(out_a, la, (flagset[f] & S) != 0, back, &why);
            if (flagset[f] & B) {
                memcpy(norm, in, n);
                ln = n;
            } else {
                ln = oracle_crlf(in, n, norm);
            }
            if (d != (long)ln || memcmp(back, norm, ln) != 0) {
                if (all_rt) {
                    diag("%s, %lu bytes: %s", spec_name(sp), (unsigned long)n,
                         d < 0 ? why : "decodes to other bytes");
                    tap_diag_mem("encoded", out_a, la, 0);
                }
                all_rt = 0;
            }
            for (m = M_BYTES; m <= M_SPLIT; m++) {
                if (m == M_BYTES && n > 5000)
                    continue;
                lb = encode(sp, in, n, m, 0, out_b);
                if (lb != la || memcmp(out_a, out_b, la) != 0) {
                    if (all_ways)
                        is_mem(out_b, lb, out_a, la, "%s, %lu bytes: %s as whole",
                               spec_name(sp), (unsigned long)n, mode_name[m]);
                    all_ways = 0;
                }
            }
        }
        ok(all_rt, "%s: random inputs: lines checked, decode(encode(x)) == %s",
           spec_name(sp), flagset[f] & B ? "x" : "normalise(x)");
        ok(all_ways, "%s: random inputs: byte by byte and random splits as whole",
           spec_name(sp));
    }
    contract_line("QP random");
}

/* ======================================================================
 * line ends
 * ====================================================================== */

static void eol_case(const char *in, size_t n, const char *out, const char *label)
{
    spec_t sp = {K_EOL, 0};
    check_ways(sp, (const unsigned char *)in, n, out, strlen(out), label, 0);
}

static void eol_tests(void)
{
    static unsigned char in[MAXIN], norm[2 * MAXIN];
    spec_t sp = {K_EOL, 0};
    int all = 1, ways = 1, t;
    eol_case(STR(""), "", "empty");
    eol_case(STR("a\nb\rc\r\nd\n\re\r\r\nf"), "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\nf",
             "LF, CR, CRLF; LF CR and CR CRLF are two");
    eol_case(STR("no break \xff\x01="), "no break \xff\x01=", "other bytes unchanged, nothing added");
    eol_case(STR("\r"), "\r\n", "a lone CR");
    eol_case(STR("x\r\n"), "x\r\n", "a final CRLF");
    check_ways(sp, (const unsigned char *)STR("a\0b\n"), "a\0b\r\n", 5, "a NUL", 0);
    for (t = 0; t < 300; t++) {
        size_t n = t < 3 ? (size_t)100000 : tap_below(2000), k, ln;
        for (k = 0; k < n; k++) {
            size_t r = tap_below(10);
            in[k] = r == 0 ? '\r' : r == 1 ? '\n' : (unsigned char)tap_below(256);
        }
        if (!check_ways(sp, in, n, NULL, 0, "random", 1))
            ways = 0;
        ln = oracle_crlf(in, n, norm);
        if (whole_len != ln || memcmp(out_a, norm, ln) != 0) {
            if (all)
                is_mem(out_a, whole_len, norm, ln, "eol: random bytes");
            all = 0;
        }
    }
    ok(ways, "eol: 300 random inputs (3 of 100000 bytes): every way the same");
    ok(all, "eol: 300 random inputs = the independent normaliser");
    contract_line("eol");
}

/* ======================================================================
 * bounds, progress, reuse
 * ====================================================================== */

static void bounds(void)
{
    static unsigned char in[8192];
    static const spec_t specs[] = {{K_B64, 76}, {K_B64, 0}, {K_B64, 8},
                                   {K_QP, T},   {K_QP, S},  {K_QP, B},
                                   {K_EOL, 0}};
    size_t s;
    int all_take = 1, all_small = 1, all_reuse = 1;
    for (s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        int t;
        for (t = 0; t < 200; t++) {
            enc e;
            size_t n = tap_below(3000), pre = tap_below(10), used, w, k;
            qp_random_input(in, n + pre, t % 2);
            e_init(&e, specs[s]);
            /* a few bytes first, to leave state behind */
            for (k = 0; k < pre; k++)
                checked_update(&e, specs[s], in + k, 1, &used, out_a, e_bound(&e, 1));
            /* exactly the bound takes everything */
            w = checked_update(&e, specs[s], in + pre, n, &used, out_a, e_bound(&e, n));
            if (used != n)
                all_take = 0;
            (void)w;
            /* MIN_CAP of room, until all is taken */
            e_init(&e, specs[s]);
            for (k = 0; k < n;) {
                checked_update(&e, specs[s], in + k, n - k, &used, out_a, MIME_ENC_MIN_CAP);
                if (used == 0) {
                    all_small = 0;
                    break;
                }
                k += used;
            }
        }
        /* a finished encoder starts again from scratch */
        {
            size_t n = 1000, l1, l2, used;
            enc e;
            qp_random_input(in, n, 1);
            e_init(&e, specs[s]);
            l1 = checked_update(&e, specs[s], in, n, &used, out_a, e_bound(&e, n));
            l1 += checked_finish(&e, specs[s], out_a + l1);
            l2 = checked_update(&e, specs[s], in, n, &used, out_b, e_bound(&e, n));
            l2 += checked_finish(&e, specs[s], out_b + l2);
            if (l1 != l2 || memcmp(out_a, out_b, l1) != 0)
                all_reuse = 0;
        }
    }
    ok(all_take, "room of mime_X_bound(st, n) takes all n bytes, after any prefix");
    ok(all_small, "room of MIME_ENC_MIN_CAP always makes progress");
    ok(all_reuse, "after finish, the same encoder gives the same output again");
    {
        mime_b64 b;
        mime_qp q;
        mime_eol e;
        mime_b64_init(&b, 76);
        mime_qp_init(&q, 0);
        mime_eol_init(&e);
        ok(mime_b64_bound(&b, (size_t)-1) == (size_t)-1 &&
               mime_qp_bound(&q, (size_t)-1 / 2) == (size_t)-1 &&
               mime_eol_bound(&e, (size_t)-1) == (size_t)-1,
           "bounds saturate at SIZE_MAX instead of wrapping");
        ok(mime_b64_bound(&b, 57) == 78 && mime_b64_bound(&b, 56) == 72 &&
               mime_eol_bound(&e, 10) == 20,
           "bounds: 57 bytes -> 78 in base64/76, eol doubles");
    }
    contract_line("bounds");
}

/* ======================================================================
 * mime_cte_choose
 * ====================================================================== */

static void choose(void)
{
    static unsigned char buf[4096];
    static const struct {
        const char *s;
        size_t n;
        int cte;
        const char *what;
    } v[] = {
        {STR(""), MIME_CTE_7BIT, "empty"},
        {STR("Hello,\r\nworld.\n\tTabbed line\r"), MIME_CTE_7BIT, "ASCII text"},
        {STR("caf\xc3\xa9 au lait, une tasse de caf\xc3\xa9 noir s'il vous pla\xc3\xaet"),
         MIME_CTE_QP, "mostly ASCII with some UTF-8"},
        {STR("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80"),
         MIME_CTE_BASE64, "Cyrillic UTF-8"},
        {STR("text with a \0 NUL"), MIME_CTE_BASE64, "a NUL"},
        {STR("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), MIME_CTE_BASE64, "PNG header"},
        {STR("bell\x07 in text that is otherwise plain ASCII"), MIME_CTE_QP, "one control byte"},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++)
        is_int(mime_cte_choose((const unsigned char *)v[i].s, v[i].n), v[i].cte,
               "choose: %s", v[i].what);
    for (i = 0; i < 700; i++)
        buf[i] = i % 4 == 0 ? 0xE9 : 'a';
    is_int(mime_cte_choose(buf, 700), MIME_CTE_BASE64, "choose: one byte in four 8-bit is base64");
    for (i = 0; i < 700; i++)
        buf[i] = i % 7 == 0 ? 0xE9 : 'a';
    is_int(mime_cte_choose(buf, 700), MIME_CTE_QP, "choose: one byte in seven 8-bit is QP");
    memset(buf, 'a', 998);
    is_int(mime_cte_choose(buf, 998), MIME_CTE_7BIT, "choose: a 998-byte line is 7bit");
    memset(buf, 'a', 999);
    is_int(mime_cte_choose(buf, 999), MIME_CTE_QP, "choose: a 999-byte line is QP");
    memset(buf, 'a', 2000);
    buf[998] = '\n';
    is_int(mime_cte_choose(buf, 2000), MIME_CTE_QP,
           "choose: the longest line counts, not the first");
    buf[998] = 'a';
    buf[500] = '\n';
    buf[1499] = '\r';
    is_int(mime_cte_choose(buf, 2000), MIME_CTE_7BIT, "choose: lines of 500, 998 and 500 bytes");
}

/* The strict decoder: RFC 4648 vectors, round trips, and the same verdict
 * and bytes as the independent oracle on mutated inputs. */
static void b64_decode_tests(void)
{
    static const struct {
        const char *in;
        long n;
        const char *out;
    } v[] = {
        {"", 0, ""}, {"Zg==", 1, "f"}, {"Zm8=", 2, "fo"}, {"Zm9v", 3, "foo"},
        {"Zm9vYg==", 4, "foob"}, {"Zm9vYmE=", 5, "fooba"}, {"Zm9vYmFy", 6, "foobar"},
        {"Zh==", -1, ""},   /* non-zero pad bits */
        {"Zm9=", -1, ""},   /* non-zero pad bits */
        {"Zg=", -1, ""},    /* not whole groups */
        {"Zg", -1, ""},     /* unpadded */
        {"Z===", -1, ""},   /* too much padding */
        {"====", -1, ""},
        {"Zg==Zg==", -1, ""}, /* padding inside */
        {"Zm9v\r\n", -1, ""}, {"Zm 9", -1, ""}, {"Zm-9", -1, ""}, {"Zm_9", -1, ""},
        {"+/+/", 3, "\xfb\xff\xbf"},
    };
    static unsigned char in[600], back[600];
    static char enc[900];
    size_t i;
    int all_rt = 1, all_same = 1;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned char out[16];
        long r = mime_b64_decode(v[i].in, strlen(v[i].in), out);
        ok(r == v[i].n && (r < 0 || memcmp(out, v[i].out, (size_t)r) == 0),
           "b64 decode \"%s\" -> %ld", v[i].in, v[i].n);
    }
    for (i = 0; i < 3000; i++) {
        size_t n = tap_below(400), k, w;
        long a, b;
        for (k = 0; k < n; k++)
            in[k] = (unsigned char)tap_below(256);
        w = mime_b64_encode(in, n, enc);
        a = mime_b64_decode(enc, w, back);
        if (a != (long)n || memcmp(back, in, n) != 0)
            all_rt = 0;
        /* mutate: a byte, or the length */
        if (w > 0 && tap_below(2) == 0)
            enc[tap_below(w)] = (char)tap_below(256);
        else if (w > 0)
            w -= tap_below(w < 4 ? w : 4);
        a = mime_b64_decode(enc, w, back);
        b = oracle_b64_decode(enc, w, in);
        if (a != b || (a > 0 && memcmp(back, in, (size_t)a) != 0)) {
            if (all_same)
                diag("mutated input of %lu bytes: %ld, oracle %ld", (unsigned long)w, a, b);
            all_same = 0;
        }
    }
    ok(all_rt, "b64 decode: 3,000 random round trips");
    ok(all_same, "b64 decode: the oracle's verdict and bytes on 3,000 mutated inputs");
}

int main(void)
{
    tap_seed();
    b64_decode_tests();
    guard_init(&g_in, MAXIN);
    guard_init(&g_out, MAXOUT);
    oneshot_vectors();
    oneshot_random();
    b64_stream_vectors();
    b64_stream_random();
    qp_vectors();
    qp_all_bytes();
    qp_random();
    eol_tests();
    bounds();
    choose();
    guard_free(&g_in);
    guard_free(&g_out);
    return done_testing();
}
