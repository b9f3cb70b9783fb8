/*
 * fuzz_mime_msg.c -- libFuzzer target for the message policy engine
 * (mime_msg.c), driven as the binding drives it.
 *
 * The input describes a message tree: parts with arbitrary header names
 * and values (a list or a map, some long, some with CR, LF or NUL), the
 * defaults, bodies of every kind (string, none, source, file with a
 * disposition from arbitrary names and paths, multipart with preamble and
 * epilogue, nested), encodings asked for, boundaries from input bytes and
 * strings that may contain them. Each part is emitted into a mime_gen
 * program grown a little at a time (so that emit resumes after BUSY).
 *
 * Invariants:
 *   - the header block an emit writes is lines ending in CRLF, none over
 *     998 octets, no bare CR or LF, no NUL; its field lines (not
 *     continuations) are exactly the part's fields, then the blank line:
 *     no value can start a field of its own (no CR/LF injection);
 *   - a failed emit names a field of the part and leaves the text as a
 *     whole number of lines;
 *   - the clash flag is set exactly when some string checked while a
 *     multipart was open contains one of the open boundaries;
 *   - a string leaf given no encoding and no Content-Transfer-Encoding,
 *     of a type that may be encoded, is sent as given only if it has no
 *     NUL and no line over 998 octets (CR or LF end lines);
 *   - mime_msg_text refuses exactly the texts with a NUL or a long line.
 */
#include "fuzz_common.h"
#include "mime/mime_msg.h"
#include "mime/mime_gen.h"
#include "mime/mime_body.h"
#include "base/smtp_errors.h"

/* Up to max bytes of input; sometimes one byte repeated many times (long
 * values and lines). Stored in pool (kept alive for the whole message). */
static char pool[1 << 16];
static size_t pooled;

static const char *take_str(reader *r, size_t max, size_t *len)
{
    unsigned k = take(r);
    size_t n = k % (max + 1);
    char *s = pool + pooled;
    if ((k & 0xC0) == 0xC0 && r->n > 0) {
        n = 900 + (size_t)take(r) * 2; /* a long run: 900..1410 */
        if (pooled + n > sizeof pool)
            n = 0;
        memset(s, 'a' + (int)(k & 7), n);
        if (n > 10 && (k & 8))
            s[n / 2] = ' ';
    } else {
        if (n > r->n)
            n = r->n;
        if (pooled + n > sizeof pool)
            n = 0;
        memcpy(s, r->p, n);
        r->p += n;
        r->n -= n;
    }
    pooled += n;
    *len = n;
    return s;
}

static const char *const known[] = {
    "Subject", "From", "To", "Content-Type", "content-transfer-encoding",
    "Content-Disposition", "MIME-Version", "Date", "X-Custom", "Message-ID"
};

typedef struct {
    mime_gen g;
    char *text;
    mime_op *ops;
    size_t textcap, capops;
    char out[256];
} tgen;

static void grow(tgen *t)
{
    size_t nt, no;
    mime_gen_need(&t->g, &nt, &no);
    if (t->textcap < nt)
        t->textcap = nt + (nt & 63);
    if (t->capops < no)
        t->capops = no + 4;
    t->text = realloc(t->text, t->textcap);
    t->ops = realloc(t->ops, t->capops * sizeof(mime_op));
    CHECK(t->text != NULL && t->ops != NULL);
    mime_gen_memory(&t->g, t->text, t->textcap, t->ops, t->capops);
}

/* Every string checked while boundaries were open, and those boundaries. */
static struct {
    const char *open[8];
    size_t openlen[8];
    int nopen;
    int expect_clash;
} model;

static int has(const char *s, size_t n, const char *b, size_t bl)
{
    size_t i;
    if (bl > n)
        return 0;
    for (i = 0; i + bl <= n; i++)
        if (memcmp(s + i, b, bl) == 0)
            return 1;
    return 0;
}

static void model_check(const char *s, size_t n)
{
    int i;
    for (i = 0; i < model.nopen; i++)
        if (has(s, n, model.open[i], model.openlen[i]))
            model.expect_clash = 1;
}

/* A NUL, or a line over 998 octets (CR and LF end lines). */
static int bad_text(const char *s, size_t n)
{
    size_t i, line = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '\0')
            return 1;
        if (s[i] == '\r' || s[i] == '\n')
            line = 0;
        else if (++line > MIME_BODY_LINE_MAX)
            return 1;
    }
    return 0;
}

/* The header block text[from..to) with nfields fields. */
static void check_block(const char *text, size_t from, size_t to, int nfields, int complete)
{
    size_t i = from, starts = 0;
    while (i < to) {
        size_t j = i;
        while (j < to && text[j] != '\r' && text[j] != '\n') {
            CHECK(text[j] != '\0');
            j++;
        }
        CHECK(j + 1 < to + 1 && j < to);         /* every line ends */
        CHECK(text[j] == '\r' && j + 1 < to && text[j + 1] == '\n'); /* in CRLF */
        CHECK(j - i <= MIME_BODY_LINE_MAX);      /* RFC 5322 2.1.1 */
        if (j > i && text[i] != ' ' && text[i] != '\t')
            starts++;                            /* a field starts here */
        if (j == i)
            CHECK(complete && j + 2 == to);      /* the blank line is last */
        i = j + 2;
    }
    if (complete)
        CHECK((int)starts == nfields);
    else
        CHECK((int)starts <= nfields);
}

static mime_msg M;

static int part(reader *r, tgen *t, int depth, int top)
{
    int nh = (int)(take(r) % 7), i, kind, cte = MIME_GEN_RAW, has_enc = 0, rc;
    size_t before, sl = 0;
    const char *s = NULL;
    unsigned sel;
    if (mime_msg_too_deep(&M))
        return -1;
    mime_msg_part_begin(&M);
    mime_msg_listed(&M, take(r) & 1);
    for (i = 0; i < nh; i++) {
        size_t nl, vl;
        const char *name, *v;
        int anchor;
        sel = take(r);
        if (sel < 160) {
            name = known[sel % 10];
            nl = strlen(name);
        } else {
            name = take_str(r, 20, &nl);
        }
        v = take_str(r, 60, &vl);
        CHECK(mime_msg_add(&M, name, nl, v, vl, &anchor) == 0);
    }
    if (top) {
        const char *vals[MIME_MSG_NDEFAULTS];
        size_t lens[MIME_MSG_NDEFAULTS];
        for (i = 0; i < MIME_MSG_NDEFAULTS; i++) {
            vals[i] = take(r) & 1 ? take_str(r, 30, &lens[i]) : NULL;
            if (vals[i] == NULL)
                lens[i] = 0;
        }
        mime_msg_top(&M, vals, lens);
    }
    sel = take(r);
    if (sel & 0x10) {
        static const int ctes[] = {MIME_CTE_7BIT, MIME_CTE_8BIT, MIME_CTE_QP, MIME_CTE_BASE64,
                                   MIME_GEN_AUTO};
        cte = ctes[(sel >> 5) % 5];
        has_enc = 1;
    }
    kind = (int)(sel % 5);
    if (kind == 4 && depth < 4 && !has_enc) {
        /* multipart */
        unsigned char rnd[MIME_MSG_BOUNDARY_RANDOM];
        char *bd = pool + pooled, ct[512];
        size_t ctn, pl, el, at;
        const char *pre, *epi;
        int n = (int)(take(r) % 4), k;
        if (pooled + MIME_MSG_BOUNDARY_LEN > sizeof pool)
            return -1;
        pooled += MIME_MSG_BOUNDARY_LEN;
        for (k = 0; k < (int)sizeof rnd; k++)
            rnd[k] = (unsigned char)take(r);
        mime_msg_boundary(rnd, bd);
        ctn = mime_msg_multipart_type(&M, bd, MIME_MSG_BOUNDARY_LEN, NULL, 0);
        if (ctn > sizeof ct)
            return -1;
        CHECK(mime_msg_multipart_type(&M, bd, MIME_MSG_BOUNDARY_LEN, ct, sizeof ct) == ctn);
        CHECK(ct[ctn - 1] == '"' && has(ct, ctn, bd, MIME_MSG_BOUNDARY_LEN));
        if (pooled + ctn > sizeof pool)
            return -1;
        memcpy(pool + pooled, ct, ctn);
        mime_msg_set(&M, MIME_MSG_H_CONTENT_TYPE, pool + pooled, ctn, 1);
        pooled += ctn;
        before = mime_gen_textlen(&t->g);
        while ((rc = mime_msg_emit(&M, &t->g, 0)) == -SMTP_E_BUSY)
            grow(t);
        check_block(mime_gen_textptr(&t->g), before, mime_gen_textlen(&t->g), M.n, rc == 0);
        if (rc != 0)
            return -1;
        mime_msg_open(&M, bd, MIME_MSG_BOUNDARY_LEN);
        if (model.nopen < 8) {
            model.open[model.nopen] = bd;
            model.openlen[model.nopen++] = MIME_MSG_BOUNDARY_LEN;
        }
        for (k = 0; k < 2; k++) {
            const char *x;
            size_t xl;
            if (take(r) & 1) {
                x = take_str(r, 80, &xl);
                if (take(r) & 1 && pooled + xl + MIME_MSG_BOUNDARY_LEN <= sizeof pool) {
                    /* the boundary inside it */
                    char *y = pool + pooled;
                    memcpy(y, x, xl);
                    memcpy(y + xl, bd, MIME_MSG_BOUNDARY_LEN);
                    pooled += xl + MIME_MSG_BOUNDARY_LEN;
                    x = y;
                    xl += MIME_MSG_BOUNDARY_LEN;
                }
                rc = mime_msg_text(&M, x, xl, &at);
                CHECK((rc != 0) == bad_text(x, xl));
                CHECK(rc == 0 || rc == -SMTP_E_CONTENT_NUL || rc == -SMTP_E_LINE_TOO_LONG);
                CHECK(rc == 0 || at > 0);
                if (rc != 0)
                    return -1;
                model_check(x, xl);
                if (k == 0)
                    pre = x, pl = xl;
                else
                    epi = x, el = xl;
            }
        }
        (void)pre;
        (void)epi;
        (void)pl;
        (void)el;
        for (k = 1; k <= n; k++) {
            mime_msg_enter(&M, k);
            if (part(r, t, depth + 1, 0) != 0)
                return -1;
            mime_msg_leave(&M);
        }
        mime_msg_close(&M);
        if (model.nopen > 0)
            model.nopen--;
        return 0;
    }
    if (kind == 4)
        kind = 0;
    if (kind == 0) {
        s = take_str(r, 200, &sl);
        if (take(r) & 1 && model.nopen > 0 && pooled + sl + MIME_MSG_BOUNDARY_LEN <= sizeof pool) {
            char *y = pool + pooled;
            memcpy(y, s, sl);
            memcpy(y + sl, model.open[0], MIME_MSG_BOUNDARY_LEN);
            pooled += sl + MIME_MSG_BOUNDARY_LEN;
            s = y;
            sl += MIME_MSG_BOUNDARY_LEN;
        }
        if (model.nopen > 0)
            model_check(s, sl);
        {
            size_t tl;
            const char *ty = mime_msg_value(&M, MIME_MSG_H_CONTENT_TYPE, &tl);
            int plain = !has_enc && !mime_msg_has(&M, MIME_MSG_H_CTE) &&
                        (ty == NULL || mime_gen_encodable(ty, tl));
            cte = mime_msg_leaf(&M, MIME_MSG_STRING, s, sl, cte, has_enc);
            if (plain && cte == MIME_GEN_RAW)
                CHECK(!bad_text(s, sl));
            if (plain && bad_text(s, sl))
                CHECK(cte == MIME_CTE_QP || cte == MIME_CTE_BASE64);
        }
    } else if (kind == 1) {
        cte = mime_msg_leaf(&M, MIME_MSG_NONE, NULL, 0, cte, has_enc);
    } else if (kind == 2) {
        cte = mime_msg_leaf(&M, MIME_MSG_SOURCE, NULL, 0, cte, has_enc);
    } else {
        size_t nl, pl, dl, ctl = 0;
        const char *name = take(r) & 1 ? take_str(r, 40, &nl) : NULL;
        const char *path = take_str(r, 40, &pl);
        const char *ctype = take(r) & 1 ? take_str(r, 40, &ctl) : NULL;
        char *d = pool + pooled;
        if (name == NULL)
            nl = 0;
        dl = mime_msg_disposition(name, nl, path, pl, NULL, 0);
        if (pooled + dl > sizeof pool)
            return -1;
        CHECK(mime_msg_disposition(name, nl, path, pl, d, dl) == dl);
        pooled += dl;
        mime_msg_file(&M, ctype, ctl, d, dl);
        CHECK(mime_msg_has(&M, MIME_MSG_H_CONTENT_TYPE));
        if (!has_enc)
            cte = MIME_CTE_BASE64;
        if (cte == MIME_GEN_AUTO)
            cte = MIME_CTE_7BIT;
        cte = mime_msg_leaf(&M, MIME_MSG_FILE, NULL, 0, cte, 1);
        CHECK(mime_msg_has(&M, MIME_MSG_H_CTE));
    }
    CHECK(mime_msg_has(&M, MIME_MSG_H_CONTENT_TYPE));
    before = mime_gen_textlen(&t->g);
    while ((rc = mime_msg_emit(&M, &t->g, cte == MIME_GEN_AUTO ? 1u : 0u)) == -SMTP_E_BUSY)
        grow(t);
    check_block(mime_gen_textptr(&t->g), before, mime_gen_textlen(&t->g), M.n, rc == 0);
    if (rc != 0) {
        size_t fl;
        const char *fname = mime_msg_failed_name(&M, &fl);
        int found = 0;
        CHECK(fname != NULL);
        for (i = 0; i < M.n; i++)
            if (M.hs[i].name == fname && M.hs[i].nlen == fl)
                found = 1;
        CHECK(found);
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r;
    tgen t;
    int rc;
    r.p = data;
    r.n = size;
    pooled = 0;
    memset(&model, 0, sizeof model);
    memset(&t, 0, sizeof t);
    mime_gen_init(&t.g, t.out, sizeof t.out);
    mime_msg_init(&M);
    mime_msg_restart(&M);
    rc = part(&r, &t, 0, 1);
    if (rc == 0) {
        CHECK(mime_msg_clash(&M) == model.expect_clash);
        CHECK(M.nopen == 0);
    } else {
        /* stopped early: whatever was flagged was flagged rightly */
        CHECK(!mime_msg_clash(&M) || model.expect_clash);
    }
    free(t.text);
    free(t.ops);
    return 0;
}
