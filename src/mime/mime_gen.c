/* mime_gen.c -- the streaming MIME generator; see mime_gen.h. */
#include <string.h>
#include "mime_body.h"
#include "mime_gen.h"
#include "mime_hdr.h"
#include "base/smtp_errors.h"

enum {
    MIME_OP_TEXT = 1, /* literal bytes: text[off .. off+len) */
    MIME_OP_BODY,     /* body `id`, encoded with `cte` */
    MIME_OP_SAMPLE,   /* choose body `id`'s encoding, write its header */
    MIME_OP_END
};

/* Output room kept for an encoder's finish (its last bytes). */
#define FINISH_ROOM (MIME_ENC_FINISH_MAX + 2)
/* A body is asked for only with at least this much room in the block. */
#define BODY_ROOM (MIME_ENC_MIN_CAP + FINISH_ROOM)
/* Room for "Content-Transfer-Encoding: quoted-printable" CRLF. */
#define CTE_ROOM 64

static const char *const cte_names[] = {"7bit", "8bit", "quoted-printable", "base64"};

const char *mime_gen_cte_name(int cte)
{
    return (cte >= MIME_CTE_7BIT && cte <= MIME_CTE_BASE64) ? cte_names[cte] : NULL;
}

int mime_gen_cte_code(const char *s, size_t n)
{
    int cte;
    for (cte = MIME_CTE_7BIT; cte <= MIME_CTE_BASE64; cte++)
        if (n == strlen(cte_names[cte]) && memcmp(s, cte_names[cte], n) == 0)
            return cte;
    if (n == 4 && memcmp(s, "auto", 4) == 0)
        return MIME_GEN_AUTO;
    return -SMTP_E_MSG_ENCODING;
}

int mime_gen_cte_plain(const char *body, size_t n)
{
    const char *p = body, *end = body + n;
    /* memchr does the per-octet work (word at a time): a NUL anywhere,
     * then, from each line start, an LF within the next 999 octets */
    if (n > 0 && memchr(body, 0, n) != NULL)
        return mime_cte_choose((const unsigned char *)body, n);
    while ((size_t)(end - p) > MIME_BODY_LINE_MAX) {
        const char *lf = memchr(p, '\n', MIME_BODY_LINE_MAX + 1);
        size_t k = MIME_BODY_LINE_MAX + 1;
        if (lf != NULL) {
            p = lf + 1; /* every line up to it is shorter (CRs split it more) */
            continue;
        }
        /* no LF in those 999 octets: the last bare CR among them ends a
         * line; none, and a line is longer than 998 */
        while (k > 0 && p[k - 1] != '\r')
            k--;
        if (k == 0)
            return mime_cte_choose((const unsigned char *)body, n);
        p += k;
    }
    return MIME_GEN_RAW;
}

size_t mime_gen_line_over(const char *s, size_t n)
{
    size_t i, line = 0;
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '\r' || s[i] == '\n') {
            if (line > MIME_BODY_LINE_MAX)
                return line;
            line = 0;
        } else {
            line++;
        }
    }
    return 0;
}

void mime_gen_init(mime_gen *g, char *out, size_t outcap)
{
    memset(g, 0, sizeof *g);
    g->out = out;
    g->outcap = outcap;
}

void mime_gen_memory(mime_gen *g, char *text, size_t textcap, mime_op *ops,
                     size_t capops)
{
    g->text = text;
    g->textcap = textcap;
    g->ops = ops;
    g->capops = capops;
}

/* Is there room for `text` more bytes and `ops` more ops? Else say how
 * much is needed (checked arithmetic) and ask the caller to grow. */
static int reserve(mime_gen *g, size_t text, size_t ops)
{
    if (g->sealed)
        return -SMTP_E_BAD_STATE;
    if (text > (size_t)-1 - g->textlen || ops > (size_t)-1 - g->nops)
        return -SMTP_E_ARG_TOO_LONG;
    if (g->textlen + text <= g->textcap && g->nops + ops <= g->capops)
        return 0;
    g->need_text = g->textlen + text;
    g->need_ops = g->nops + ops;
    return -SMTP_E_BUSY;
}

/* The text just written at text[textlen - n ..] becomes output: it joins
 * the previous TEXT op when that one ends right there. */
static void commit_text(mime_gen *g, size_t n)
{
    mime_op *last = g->nops > 0 ? &g->ops[g->nops - 1] : NULL;
    if (n == 0)
        return;
    if (last != NULL && last->op == MIME_OP_TEXT &&
        last->off + last->len == g->textlen - n) {
        last->len += n;
        return;
    }
    last = &g->ops[g->nops++];
    memset(last, 0, sizeof *last);
    last->op = MIME_OP_TEXT;
    last->off = g->textlen - n;
    last->len = n;
}

/* Append bytes (room reserved). src may point into g->text itself. */
static void put(mime_gen *g, const char *s, size_t n)
{
    if (n > 0)
        memmove(g->text + g->textlen, s, n);
    g->textlen += n;
}

void mime_gen_need(const mime_gen *g, size_t *text, size_t *ops)
{
    *text = g->need_text;
    *ops = g->need_ops;
}

int mime_gen_sizes(const mime_gen *g, size_t *text, size_t *ops)
{
    size_t t = g->textcap, o = g->capops;
    while (t < g->need_text) {
        if (t > ((size_t)-1) / 2)
            return -SMTP_E_ARG_TOO_LONG;
        t = t ? t * 2 : 4096;
    }
    if (g->hint > t && t != g->textcap) {
        size_t most = g->need_text <= ((size_t)-1) / 4 ? g->need_text * 4 : g->need_text;
        t = g->hint < most ? g->hint : most > t ? most : t;
    }
    while (o < g->need_ops) {
        if (o > ((size_t)-1) / (2 * sizeof(mime_op)))
            return -SMTP_E_ARG_TOO_LONG;
        o = o ? o * 2 : 64;
    }
    *text = t;
    *ops = o;
    return 0;
}

void mime_gen_project(mime_gen *g, size_t start, size_t done, size_t total)
{
    size_t each, left, proj;
    if (done < 8 || done + 1 >= total)
        return;
    each = (g->textlen - start) / done;
    left = total - done;
    if (each >= ((size_t)-1) / 2 / left)
        return;
    proj = g->textlen + each * left;
    proj += proj / 8;
    if (proj > g->hint)
        g->hint = proj;
}

int mime_gen_text(mime_gen *g, const char *s, size_t n)
{
    int rc = reserve(g, n, 1);
    if (rc != 0)
        return rc;
    put(g, s, n);
    commit_text(g, n);
    return 0;
}

int mime_gen_header(mime_gen *g, const char *name, size_t nlen,
                    const char *value, size_t vlen, unsigned flags)
{
    mime_hdr_name hn;
    int rc = mime_hdr_name_init(&hn, name, nlen);
    if (rc != 0)
        return rc;
    return mime_gen_header_named(g, &hn, value, vlen, flags);
}

int mime_gen_header_named(mime_gen *g, const mime_hdr_name *hn,
                          const char *value, size_t vlen, unsigned flags)
{
    long w;
    int rc;
    if (g->sealed)
        return -SMTP_E_BAD_STATE;
    /* written straight into the room there is (validated first, so a bad
     * header never asks for memory); asked for its bound when short */
    w = mime_hdr_write(hn, value, vlen, flags, g->text ? g->text + g->textlen : NULL,
                       g->textcap - g->textlen);
    if (w == -SMTP_E_BUSY)
        return reserve(g, mime_hdr_bound(hn->len, vlen), 1);
    if (w < 0)
        return (int)w;
    if ((rc = reserve(g, (size_t)w, 1)) != 0)
        return rc; /* no room for its op: written again next time */
    g->textlen += (size_t)w;
    commit_text(g, (size_t)w);
    return 0;
}

int mime_gen_end_headers(mime_gen *g)
{
    return mime_gen_text(g, "\r\n", 2);
}

static int add_op(mime_gen *g, unsigned op, unsigned id, int cte, unsigned flags)
{
    mime_op *o;
    int rc = reserve(g, 0, 1);
    if (rc != 0)
        return rc;
    o = &g->ops[g->nops++];
    memset(o, 0, sizeof *o);
    o->op = op;
    o->id = id;
    o->cte = cte;
    o->flags = flags;
    return 0;
}

int mime_gen_body(mime_gen *g, unsigned id, int cte, unsigned flags)
{
    if (cte != MIME_GEN_RAW && cte != MIME_GEN_AUTO &&
        mime_gen_cte_name(cte) == NULL)
        return -SMTP_E_ARG_SYNTAX;
    return add_op(g, MIME_OP_BODY, id, cte, flags);
}

int mime_gen_cte_auto(mime_gen *g, unsigned id)
{
    return add_op(g, MIME_OP_SAMPLE, id, MIME_GEN_AUTO, 0);
}

/* RFC 2046 5.1.1: 1 to 70 of DIGIT ALPHA ' ( ) + _ , - . / : = ? and
 * space, not ending with a space. */
static int bad_boundary(const char *bd, size_t n)
{
    static const char extra[] = "'()+_,-./:=? ";
    size_t i;
    if (n == 0 || n > MIME_GEN_BOUNDARY_MAX || bd[n - 1] == ' ')
        return 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bd[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || (c != '\0' && strchr(extra, c) != NULL)))
            return 1;
    }
    return 0;
}

int mime_gen_multipart_begin(mime_gen *g, const char *bd, size_t blen,
                             const char *pre, size_t plen)
{
    size_t need = blen + (pre != NULL ? plen + 2 : 0);
    int rc;
    if (bad_boundary(bd, blen))
        return -SMTP_E_HDR_SYNTAX;
    if (g->depth >= MIME_GEN_MAX_DEPTH)
        return -SMTP_E_ARG_TOO_LONG;
    if (pre != NULL && plen > (size_t)-1 - need)
        return -SMTP_E_ARG_TOO_LONG;
    if ((rc = reserve(g, need, 1)) != 0)
        return rc;
    /* the boundary is kept in the text, outside any op */
    g->bd_off[g->depth] = g->textlen;
    g->bd_len[g->depth] = blen;
    put(g, bd, blen);
    g->depth++;
    if (pre != NULL) {
        put(g, pre, plen);
        put(g, "\r\n", 2);
        commit_text(g, plen + 2);
    }
    return 0;
}

/* "CRLF--boundary" and `tail` */
static int delimiter(mime_gen *g, const char *tail, size_t tlen)
{
    size_t off, len;
    int rc;
    if (g->depth == 0)
        return -SMTP_E_BAD_STATE;
    off = g->bd_off[g->depth - 1];
    len = g->bd_len[g->depth - 1];
    if ((rc = reserve(g, 4 + len + tlen, 1)) != 0)
        return rc;
    put(g, "\r\n--", 4);
    put(g, g->text + off, len);
    put(g, tail, tlen);
    commit_text(g, 4 + len + tlen);
    return 0;
}

int mime_gen_part(mime_gen *g)
{
    return delimiter(g, "\r\n", 2);
}

int mime_gen_multipart_end(mime_gen *g, const char *epi, size_t elen)
{
    int rc;
    if (epi != NULL && elen > (size_t)-1 - 8)
        return -SMTP_E_ARG_TOO_LONG;
    /* reserve both pieces first: nothing half-appended */
    if (g->depth > 0 &&
        (rc = reserve(g, 4 + g->bd_len[g->depth - 1] + 6 + (epi ? elen + 2 : 0), 2)) != 0)
        return rc;
    if ((rc = delimiter(g, "--\r\n\r\n", 6)) != 0)
        return rc;
    g->depth--;
    if (epi != NULL) {
        put(g, epi, elen);
        put(g, "\r\n", 2);
        commit_text(g, elen + 2);
    }
    return 0;
}

int mime_gen_seal(mime_gen *g)
{
    int rc;
    if (g->depth != 0)
        return -SMTP_E_BAD_STATE;
    if ((rc = add_op(g, MIME_OP_END, 0, 0, 0)) != 0)
        return rc;
    g->sealed = 1;
    g->pc = 0;
    return 0;
}

static mime_gen_act output(mime_gen *g, mime_gen_event *ev)
{
    ev->data = g->out;
    ev->len = g->outlen;
    g->outlen = 0;
    return MIME_GEN_OUTPUT;
}

static void start_body(mime_gen *g, const mime_op *op)
{
    g->body = 1;
    g->cte = op->cte;
    switch (op->cte) {
    case MIME_CTE_BASE64:
        mime_b64_init(&g->enc.b64, 76);
        break;
    case MIME_CTE_QP:
        mime_qp_init(&g->enc.qp, op->flags);
        break;
    case MIME_CTE_7BIT:
    case MIME_CTE_8BIT:
        mime_eol_init(&g->enc.eol);
        break;
    default:
        g->cte = MIME_GEN_RAW;
        break;
    }
}

mime_gen_act mime_gen_next(mime_gen *g, mime_gen_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (!g->sealed && g->err == 0)
        g->err = SMTP_E_BAD_STATE;
    for (;;) {
        size_t room = g->outcap - g->outlen;
        const mime_op *op;
        if (g->err) {
            ev->err = g->err;
            return MIME_GEN_ERROR;
        }
        op = &g->ops[g->pc];
        if (g->body) {
            if (room < BODY_ROOM)
                return output(g, ev);
            ev->id = op->id;
            return MIME_GEN_NEED_BODY;
        }
        switch (op->op) {
        case MIME_OP_TEXT: {
            size_t n = op->len - g->textpos;
            if (g->outlen == 0 && n >= MIME_GEN_DIRECT_MIN) {
                /* a long run of text goes out from the program itself,
                 * uncopied, a block at most */
                if (n > g->outcap)
                    n = g->outcap;
                ev->data = g->text + op->off + g->textpos;
                ev->len = n;
                g->textpos += n;
                if (g->textpos == op->len) {
                    g->textpos = 0;
                    g->pc++;
                }
                return MIME_GEN_OUTPUT;
            }
            if (n > room)
                n = room;
            memcpy(g->out + g->outlen, g->text + op->off + g->textpos, n);
            g->outlen += n;
            g->textpos += n;
            if (g->textpos < op->len)
                return output(g, ev); /* the block is full */
            g->textpos = 0;
            g->pc++;
            break;
        }
        case MIME_OP_SAMPLE:
            if (room < CTE_ROOM)
                return output(g, ev);
            ev->id = op->id;
            ev->sample = 1;
            return MIME_GEN_NEED_BODY;
        case MIME_OP_BODY:
            start_body(g, op);
            break;
        case MIME_OP_END:
            if (g->outlen > 0)
                return output(g, ev);
            return MIME_GEN_DONE;
        default:
            g->err = SMTP_E_BAD_STATE;
            break;
        }
    }
}

mime_gen_act mime_gen_flush(mime_gen *g, mime_gen_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (g->outlen > 0)
        return output(g, ev);
    return MIME_GEN_DONE;
}

int mime_gen_sample(mime_gen *g, const char *data, size_t n)
{
    static const char head[] = "Content-Transfer-Encoding: ";
    const mime_op *op = g->sealed ? &g->ops[g->pc] : NULL;
    const char *name;
    size_t k, len;
    int cte;
    if (op == NULL || op->op != MIME_OP_SAMPLE || g->body)
        return -SMTP_E_BAD_STATE;
    if (g->outcap - g->outlen < CTE_ROOM)
        return -SMTP_E_BUSY;
    cte = mime_cte_choose((const unsigned char *)data, n);
    /* the body this sample belongs to gets the encoding */
    for (k = g->pc + 1; k < g->nops; k++) {
        if (g->ops[k].op == MIME_OP_BODY && g->ops[k].id == op->id) {
            g->ops[k].cte = cte;
            if (cte == MIME_CTE_QP)
                g->ops[k].flags |= MIME_QP_SAFE;
            break;
        }
    }
    name = mime_gen_cte_name(cte);
    len = strlen(name);
    memcpy(g->out + g->outlen, head, sizeof head - 1);
    g->outlen += sizeof head - 1;
    memcpy(g->out + g->outlen, name, len);
    g->outlen += len;
    memcpy(g->out + g->outlen, "\r\n", 2);
    g->outlen += 2;
    g->pc++;
    return 0;
}

size_t mime_gen_feed(mime_gen *g, const char *data, size_t n)
{
    const unsigned char *in = (const unsigned char *)data;
    size_t used = 0, room;
    char *out;
    if (!g->body || g->err)
        return 0;
    if (g->outcap - g->outlen <= FINISH_ROOM)
        return 0;
    room = g->outcap - g->outlen - FINISH_ROOM;
    out = g->out + g->outlen;
    switch (g->cte) {
    case MIME_CTE_BASE64:
        g->outlen += mime_b64_update(&g->enc.b64, in, n, &used, out, room);
        break;
    case MIME_CTE_QP:
        g->outlen += mime_qp_update(&g->enc.qp, in, n, &used, out, room);
        break;
    case MIME_CTE_7BIT:
    case MIME_CTE_8BIT:
        g->outlen += mime_eol_update(&g->enc.eol, in, n, &used, out, room);
        break;
    default:
        used = n < room ? n : room;
        memcpy(out, data, used);
        g->outlen += used;
        break;
    }
    return used;
}

int mime_gen_feed_end(mime_gen *g)
{
    char *out = g->out + g->outlen;
    size_t room = g->outcap - g->outlen;
    if (!g->body)
        return -SMTP_E_BAD_STATE;
    if (room < FINISH_ROOM)
        return -SMTP_E_BUSY;
    switch (g->cte) {
    case MIME_CTE_BASE64:
        g->outlen += mime_b64_finish(&g->enc.b64, out, room);
        break;
    case MIME_CTE_QP:
        g->outlen += mime_qp_finish(&g->enc.qp, out, room);
        break;
    case MIME_CTE_7BIT:
    case MIME_CTE_8BIT:
        g->outlen += mime_eol_finish(&g->enc.eol, out, room);
        break;
    default:
        break;
    }
    g->body = 0;
    g->pc++;
    return 0;
}

int mime_gen_raw_body(const mime_gen *g)
{
    return g->body && g->cte == MIME_GEN_RAW;
}

int mime_gen_encodable(const char *ctype, size_t n)
{
    static const char *const composite[] = {"multipart/", "message/"};
    size_t i = 0, k, j;
    while (i < n && (ctype[i] == ' ' || ctype[i] == '\t' || ctype[i] == '\r' || ctype[i] == '\n'))
        i++;
    for (k = 0; k < 2; k++) {
        const char *p = composite[k];
        for (j = 0; p[j] != '\0' && i + j < n; j++) {
            char c = ctype[i + j];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != p[j])
                break;
        }
        if (p[j] == '\0')
            return 0;
    }
    return 1;
}
