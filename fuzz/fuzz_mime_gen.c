/*
 * fuzz_mime_gen.c -- libFuzzer target for the MIME generator (mime_gen.c).
 *
 * The input describes a message: a sequence of build steps (headers with
 * arbitrary values, bodies with each encoding, nested multiparts, run-time
 * encoding choice) and the bodies' bytes. The message is built, then run
 * twice: with a large output block fed whole, and with a tiny output block
 * fed in small pieces.
 *
 * Invariant: every build call returns 0 or a defined error code and never
 * leaves anything half-appended; a sealed program runs to MIME_GEN_DONE;
 * both runs produce exactly the same bytes (the output does not depend on
 * block or piece sizes); the generator never writes past its block. Never
 * a crash, UB or growth past what the caller gave it.
 * Line length (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1): long header values
 * (folded or refused) and long bodies whose encoding is what the binding
 * gives a body with no encoding (mime_gen_cte_plain) never make an output
 * line over 998 octets, when the message has no other text sent as given
 * (raw text, preamble, epilogue, a body forced to raw, 7bit or 8bit).
 */
#include "fuzz_common.h"
#include "mime/mime_gen.h"
#include "mime/mime_enc.h"
#include "base/smtp_errors.h"

#define MAXOPS 64
#define MAXBODIES 16
#define OUTMAX (1 << 20)

static const char *take_bytes(reader *r, size_t *len)
{
    size_t n = take(r) % 40;
    const char *s = (const char *)r->p;
    if (n > r->n)
        n = r->n;
    r->p += n;
    r->n -= n;
    *len = n;
    return s;
}

typedef struct {
    mime_gen g;
    char *text;
    mime_op *ops;
    size_t textcap, capops;
    char *out;
} fgen;

static void grow(fgen *f)
{
    size_t t = f->textcap ? f->textcap : 64, o = f->capops ? f->capops : 4;
    while (t < f->g.need_text)
        t = t ? t * 2 : 64;
    while (o < f->g.need_ops)
        o = o ? o * 2 : 4;
    f->text = realloc(f->text, t);
    f->ops = realloc(f->ops, o * sizeof(mime_op));
    CHECK(f->text != NULL && f->ops != NULL);
    f->textcap = t;
    f->capops = o;
    mime_gen_memory(&f->g, f->text, f->textcap, f->ops, f->capops);
}

/* Run a build call until it no longer asks for memory. */
#define BUILD(f, call)                                                    \
    do {                                                                  \
        int rc_;                                                          \
        size_t tl_ = (f)->g.textlen, no_ = (f)->g.nops;                   \
        while ((rc_ = (call)) == -SMTP_E_BUSY)                            \
            grow(f);                                                      \
        CHECK(rc_ <= 0 && -rc_ < SMTP_E__COUNT);                          \
        if (rc_ != 0)                                                     \
            CHECK((f)->g.textlen == tl_ && (f)->g.nops == no_);           \
    } while (0)

/* Long values: a piece of the input repeated, kept until the runs end. */
#define LONGMAX 4096
#define NLONG 24
static char longbuf[NLONG][LONGMAX];
static unsigned nlong;

static const char *take_long(reader *r, size_t *len)
{
    size_t plen, n = (size_t)take(r) * 16 + take(r) % 16, i;
    const char *pat = take_bytes(r, &plen);
    char *buf;
    if (nlong >= NLONG || plen == 0) {
        *len = 0;
        return "";
    }
    buf = longbuf[nlong++];
    if (n > LONGMAX)
        n = LONGMAX;
    for (i = 0; i < n; i++)
        buf[i] = pat[i % plen];
    *len = n;
    return buf;
}

static int g_unchecked; /* text sent as given outside the line rules */
/* A body was the last output: its last line may be open (quoted-printable
 * and 7bit add no line break of their own; in a message the part's
 * delimiter follows). A header or body written right after it would go on
 * with that line: the fuzzer's sequences that do so are not messages the
 * binding builds, and are left out of the line check. */
static int g_open_line;

static const char *const names[] = {"Subject", "From", "To", "Content-Type",
                                    "Content-Disposition", "X-Any", "Message-ID", "bad name"};
static const char *const boundaries[] = {"b1", "=_abc", "'()+_,-./:=?", "a b", "x\"y"};

typedef struct {
    const char *data;
    size_t len;
} body;

static void build(fgen *f, reader *r, body *bodies, unsigned *nb)
{
    unsigned steps = take(r) % MAXOPS, i, depth = 0;
    for (i = 0; i < steps && r->n > 0; i++) {
        unsigned op = take(r) % 10;
        size_t len;
        const char *s;
        switch (op) {
        case 0: {
            const char *name = names[take(r) % 8];
            if (g_open_line)
                g_unchecked = 1;
            s = take_bytes(r, &len);
            BUILD(f, mime_gen_header(&f->g, name, strlen(name), s, len, take(r) & 1));
            break;
        }
        case 1: {
            size_t tl = f->g.textlen;
            BUILD(f, mime_gen_end_headers(&f->g));
            if (f->g.textlen > tl)
                g_open_line = 0; /* it starts with CRLF */
            break;
        }
        case 2:
        case 6:
            if (*nb < MAXBODIES) {
                unsigned id = ++*nb;
                int cte = (int)(take(r) % 6) - 2; /* AUTO, RAW, 7bit, 8bit, QP, base64 */
                bodies[id].data = take_bytes(r, &bodies[id].len);
                if (cte == MIME_GEN_RAW || cte == MIME_CTE_7BIT || cte == MIME_CTE_8BIT ||
                    g_open_line)
                    g_unchecked = 1;
                g_open_line = 1;
                if (cte == MIME_GEN_AUTO)
                    BUILD(f, mime_gen_cte_auto(&f->g, id));
                BUILD(f, mime_gen_body(&f->g, id, cte, take(r) & 3));
            }
            break;
        case 3: {
            const char *bd = boundaries[take(r) % 5];
            s = take_bytes(r, &len);
            if (len > 0)
                g_unchecked = 1;
            BUILD(f, mime_gen_multipart_begin(&f->g, bd, strlen(bd), (take(r) & 1) ? s : NULL, len));
            if (f->g.depth > depth)
                depth = f->g.depth;
            break;
        }
        case 4: {
            size_t tl = f->g.textlen;
            BUILD(f, mime_gen_part(&f->g));
            if (f->g.textlen > tl)
                g_open_line = 0; /* CRLF--boundary CRLF */
            break;
        }
        case 5: {
            size_t tl = f->g.textlen;
            s = take_bytes(r, &len);
            if (len > 0)
                g_unchecked = 1;
            BUILD(f, mime_gen_multipart_end(&f->g, (take(r) & 1) ? s : NULL, len));
            if (f->g.textlen > tl)
                g_open_line = 0; /* CRLF--boundary-- CRLF CRLF */
            break;
        }
        case 8: {
            /* a long header value: folded to lines of at most 998, or refused */
            const char *name = names[take(r) % 8];
            if (g_open_line)
                g_unchecked = 1;
            s = take_long(r, &len);
            BUILD(f, mime_gen_header(&f->g, name, strlen(name), s, len, take(r) & 1));
            break;
        }
        case 9:
            /* a long body given no encoding: what the binding does */
            if (*nb < MAXBODIES) {
                unsigned id = ++*nb;
                if (g_open_line)
                    g_unchecked = 1;
                g_open_line = 1;
                bodies[id].data = take_long(r, &bodies[id].len);
                BUILD(f, mime_gen_body(&f->g, id, mime_gen_cte_plain(bodies[id].data, bodies[id].len),
                                       MIME_QP_SAFE));
            }
            break;
        default:
            s = take_bytes(r, &len);
            if (len > 0)
                g_unchecked = 1;
            BUILD(f, mime_gen_text(&f->g, s, len));
            break;
        }
    }
    while (f->g.depth > 0) {
        BUILD(f, mime_gen_multipart_end(&f->g, NULL, 0));
        g_open_line = 0;
    }
    BUILD(f, mime_gen_seal(&f->g));
}

/* Returns the output length. */
static size_t run(fgen *f, const body *bodies, size_t piece, char *res)
{
    size_t at = 0, off[MAXBODIES + 1] = {0}, steps = 0;
    for (;;) {
        mime_gen_event ev;
        mime_gen_act act = mime_gen_next(&f->g, &ev);
        CHECK(++steps < 100000000);
        if (act == MIME_GEN_OUTPUT) {
            CHECK(ev.len > 0 && ev.len <= f->g.outcap && at + ev.len <= OUTMAX);
            memcpy(res + at, ev.data, ev.len);
            at += ev.len;
        } else if (act == MIME_GEN_DONE) {
            return at;
        } else if (act == MIME_GEN_ERROR) {
            CHECK(0 && "a sealed program never fails");
        } else if (ev.sample) {
            CHECK(mime_gen_sample(&f->g, bodies[ev.id].data, bodies[ev.id].len) == 0);
        } else {
            const body *b = &bodies[ev.id];
            if (off[ev.id] < b->len) {
                size_t n = b->len - off[ev.id], used;
                if (n > piece)
                    n = piece;
                used = mime_gen_feed(&f->g, b->data + off[ev.id], n);
                off[ev.id] += used;
            } else {
                int rc = mime_gen_feed_end(&f->g);
                CHECK(rc == 0 || rc == -SMTP_E_BUSY);
            }
        }
    }
}

static char res1[OUTMAX], res2[OUTMAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    body bodies[MAXBODIES + 1];
    fgen a, b;
    unsigned na = 0, nb = 0;
    reader r1 = {data, size}, r2 = {data, size};
    size_t l1, l2, smallcap = 64 + (size > 0 ? data[0] % 64 : 0);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.out = malloc(65536);
    b.out = malloc(smallcap);
    mime_gen_init(&a.g, a.out, 65536);
    mime_gen_init(&b.g, b.out, smallcap);
    nlong = 0;
    g_unchecked = g_open_line = 0;
    build(&a, &r1, bodies, &na);
    nlong = 0; /* the same values again, in the same buffers */
    g_open_line = 0;
    build(&b, &r2, bodies, &nb); /* same input: the same program */
    CHECK(na == nb && a.g.textlen == b.g.textlen && a.g.nops == b.g.nops);
    l1 = run(&a, bodies, (size_t)-1, res1);
    l2 = run(&b, bodies, 1 + (size > 1 ? data[1] % 7 : 0), res2);
    CHECK(l1 == l2 && memcmp(res1, res2, l1) == 0);
    if (!g_unchecked) {
        size_t i, col = 0;
        for (i = 0; i < l1; i++) {
            col = (res1[i] == '\r' || res1[i] == '\n') ? 0 : col + 1;
            CHECK(col <= 998);
        }
    }
    free(a.text);
    free(a.ops);
    free(a.out);
    free(b.text);
    free(b.ops);
    free(b.out);
    return 0;
}
