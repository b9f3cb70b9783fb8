/*
 * mime_msg.c -- the message policy (mime_msg.h).
 */
#include <stdint.h>
#include <string.h>
#include "mime_body.h"
#include "mime_msg.h"
#include "base/smtp_errors.h"

static const char *const order[] = {
#define MIME_MSG_ORDER_NAME(id, name) name,
    MIME_MSG_ORDER(MIME_MSG_ORDER_NAME)
#undef MIME_MSG_ORDER_NAME
    NULL
};

static const int defaults[] = {
#define MIME_MSG_DEFAULT_RANK(id) MIME_MSG_H_##id,
    MIME_MSG_DEFAULTS(MIME_MSG_DEFAULT_RANK)
#undef MIME_MSG_DEFAULT_RANK
    -1
};

/* The line cache's hash of a value's address (Knuth's multiplicative
 * hash); the name cache's is mime_msg_name_slot. */
#define ADDR_HASH(p) (((size_t)(uintptr_t)(p) >> 3) * 2654435761u)

void mime_msg_init(mime_msg *m)
{
    /* what the fields of a part need is set by mime_msg_part_begin */
    m->nnames = 0;
    memset(m->names, 0, sizeof m->names);
    m->n = m->nspill = m->listed = m->at = 0;
    m->failed = -1;
    mime_msg_restart(m);
}

void mime_msg_restart(mime_msg *m)
{
    m->depth = m->nopen = m->clash = 0;
    memset(m->lines, 0, sizeof m->lines);
}

/* ---- where we are -------------------------------------------------------- */

const char *mime_msg_path(const mime_msg *m, char *out, size_t cap)
{
    static const char top[] = "mesgt";
    size_t at = sizeof top - 1;
    int d;
    if (cap < sizeof top) {
        if (cap > 0)
            out[0] = '\0';
        return out;
    }
    memcpy(out, top, sizeof top);
    for (d = 1; d <= m->depth && at + 24 < cap; d++) {
        /* ".body[" digits "]": at most 6 + 11 + 1 octets */
        char num[16];
        int v = m->index[d], k = 0;
        unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
        do {
            num[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (v < 0)
            num[k++] = '-';
        memcpy(out + at, ".body[", 6);
        at += 6;
        while (k > 0)
            out[at++] = num[--k];
        out[at++] = ']';
        out[at] = '\0';
    }
    return out;
}

/* ---- the name cache ------------------------------------------------------ */

int mime_msg_rank(const char *lname)
{
    int i;
    for (i = 0; order[i] != NULL; i++)
        if (order[i][0] == lname[0] && strcmp(order[i], lname) == 0)
            return i;
    return MIME_MSG_H_OTHER;
}

const char *mime_msg_known(int rank)
{
    return rank >= 0 && rank < MIME_MSG_H__COUNT ? order[rank] : NULL;
}

static void prepare_name(mime_msg_name *e, const char *p, size_t n)
{
    size_t i;
    e->ptr = p;
    e->len = n;
    if (n < sizeof e->lname) {
        for (i = 0; i < n; i++) {
            char c = p[i];
            e->lname[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        e->lname[n] = '\0';
    } else {
        e->lname[0] = '\0'; /* too long to be one we know */
    }
    e->rank = mime_msg_rank(e->lname);
    e->rc = -mime_hdr_name_init(&e->hn, p, n); /* kept positive */
}

/* The prepared form of the name p[0..n); *added when it entered the
 * cache (the caller anchors the string). */
const mime_msg_name *mime_msg_name_of(mime_msg *m, const char *p, size_t n, int *added)
{
    unsigned i = mime_msg_name_slot(p);
    mime_msg_name *e;
    *added = 0;
    for (;;) {
        e = &m->names[i];
        if (e->ptr == p && e->len == n)
            return e;
        if (e->ptr == NULL)
            break;
        i = (i + 1) & (MIME_MSG_NAME_SLOTS - 1);
    }
    if (m->nnames >= MIME_MSG_NAME_SLOTS * 3 / 4) {
        /* the cache is full: prepared for this part only (a part makes at
         * most one name a field, and fewer fields than spill holds) */
        if (m->nspill >= (int)(sizeof m->spill / sizeof m->spill[0]))
            m->nspill = 0; /* cannot happen: a part has a bounded number of fields */
        e = &m->spill[m->nspill++];
    } else {
        m->nnames++;
        *added = 1;
    }
    prepare_name(e, p, n);
    return e;
}

/* ---- a part's fields ----------------------------------------------------- */

/* The index of the first field of that rank, or -1. */
static int find(const mime_msg *m, int rank)
{
    int i;
    for (i = 0; i < m->n; i++)
        if (m->hs[i].k->rank == rank)
            return i;
    return -1;
}

int mime_msg_has(const mime_msg *m, int rank)
{
    return find(m, rank) >= 0;
}

const char *mime_msg_value(const mime_msg *m, int rank, size_t *vlen)
{
    int i = find(m, rank);
    if (i < 0) {
        *vlen = 0;
        return NULL;
    }
    *vlen = m->hs[i].vlen;
    return m->hs[i].value;
}

void mime_msg_set(mime_msg *m, int rank, const char *value, size_t vlen, int replace)
{
    int i = find(m, rank);
    mime_msg_field *h = i >= 0 ? &m->hs[i] : NULL;
    if (h != NULL && !replace)
        return;
    if (h == NULL) {
        const char *lname = mime_msg_known(rank); /* static: the cache's key */
        int added;
        if (lname == NULL || m->n >= MIME_MSG_HEADERS_MAX + MIME_MSG_GEN_HEADERS)
            return; /* cannot happen: a known rank, room for each */
        h = &m->hs[m->n];
        h->name = lname;
        h->nlen = strlen(lname);
        h->k = mime_msg_name_of(m, lname, h->nlen, &added);
        h->seq = m->n + 100000; /* after the caller's, in a list */
        m->n++;
    }
    h->value = value;
    h->vlen = vlen;
}

void mime_msg_drop(mime_msg *m, int rank)
{
    int i, j = 0;
    for (i = 0; i < m->n; i++)
        if (m->hs[i].k->rank != rank)
            m->hs[j++] = m->hs[i];
    m->n = j;
}

int mime_msg_default_rank(int i)
{
    return i >= 0 && i < (int)(sizeof defaults / sizeof defaults[0]) ? defaults[i] : -1;
}

void mime_msg_top(mime_msg *m, const char *const *vals, const size_t *lens)
{
    int i;
    for (i = 0; defaults[i] >= 0; i++)
        if (vals[i] != NULL)
            mime_msg_set(m, defaults[i], vals[i], lens[i], 0);
    mime_msg_drop(m, MIME_MSG_H_MIME_VERSION);
    mime_msg_set(m, MIME_MSG_H_MIME_VERSION, "1.0", 3, 1);
}

/* ---- multipart bodies ---------------------------------------------------- */

void mime_msg_boundary(const unsigned char *rnd, char *out)
{
    static const char hexd[] = "0123456789abcdef";
    size_t i;
    out[0] = '=';
    out[1] = '_';
    for (i = 0; i < MIME_MSG_BOUNDARY_RANDOM; i++) {
        out[2 + 2 * i] = hexd[rnd[i] >> 4];
        out[3 + 2 * i] = hexd[rnd[i] & 15];
    }
}

size_t mime_msg_multipart_type(const mime_msg *m, const char *bd, size_t blen,
                               char *out, size_t cap)
{
    static const char mid[] = "; boundary=\"";
    size_t tlen, need;
    /* made by length: a NUL in the caller's type reaches the header
     * writer, which refuses it as in any header */
    const char *t = mime_msg_value(m, MIME_MSG_H_CONTENT_TYPE, &tlen);
    if (t == NULL) {
        t = MIME_MSG_MULTIPART_TYPE;
        tlen = sizeof MIME_MSG_MULTIPART_TYPE - 1;
    }
    if (tlen > (size_t)-1 - blen - sizeof mid)
        return (size_t)-1;
    need = tlen + (sizeof mid - 1) + blen + 1;
    if (out != NULL && cap >= need) {
        memcpy(out, t, tlen);
        memcpy(out + tlen, mid, sizeof mid - 1);
        memcpy(out + tlen + sizeof mid - 1, bd, blen);
        out[need - 1] = '"';
    }
    return need;
}

void mime_msg_open(mime_msg *m, const char *bd, size_t blen)
{
    if (m->nopen >= MIME_GEN_MAX_DEPTH + 2)
        return; /* cannot happen: the depth is checked first */
    m->open[m->nopen] = bd;
    m->openlen[m->nopen++] = blen;
}

void mime_msg_close(mime_msg *m)
{
    if (m->nopen > 0)
        m->nopen--;
}

/* mime_msg_contains, inlined where the leaves are checked. */
static int contains(const char *s, size_t n, const char *bd, size_t blen)
{
    const char *p = s, *end = s + n;
    if (blen == 0)
        return 1;
    while ((size_t)(end - p) >= blen) {
        p = memchr(p, bd[0], (size_t)(end - p) - blen + 1);
        if (p == NULL)
            return 0;
        if (memcmp(p, bd, blen) == 0)
            return 1;
        p++;
    }
    return 0;
}

int mime_msg_contains(const char *s, size_t n, const char *bd, size_t blen)
{
    return contains(s, n, bd, blen);
}

void mime_msg_check(mime_msg *m, const char *s, size_t n)
{
    int i;
    for (i = 0; i < m->nopen; i++)
        if (contains(s, n, m->open[i], m->openlen[i]))
            m->clash = 1;
}

int mime_msg_text(mime_msg *m, const char *s, size_t n, size_t *at)
{
    /* sent as given, it cannot be encoded: a NUL (RFC 5322 3.5) or a long
     * line is refused, before anything is sent (RFC 5321 4.5.3.1.6) */
    if ((*at = mime_body_text_nul(s, n)) != 0)
        return -SMTP_E_CONTENT_NUL;
    if ((*at = mime_gen_line_over(s, n)) != 0)
        return -SMTP_E_LINE_TOO_LONG;
    mime_msg_check(m, s, n);
    return 0;
}

/* ---- leaves -------------------------------------------------------------- */

size_t mime_msg_disposition(const char *name, size_t nl, const char *path, size_t pl,
                            char *out, size_t cap)
{
    static const char head[] = "attachment; filename=\"";
    size_t i, need, at;
    if (name == NULL) {
        /* the last segment of the path */
        size_t i0 = pl;
        while (i0 > 0 && path[i0 - 1] != '/')
            i0--;
        name = path + i0;
        nl = pl - i0;
    }
    need = sizeof head - 1 + nl + 1;
    for (i = 0; i < nl; i++)
        if (name[i] == '"' || name[i] == '\\')
            need++;
    if (out == NULL || cap < need)
        return need;
    memcpy(out, head, sizeof head - 1);
    at = sizeof head - 1;
    for (i = 0; i < nl; i++) {
        if (name[i] == '"' || name[i] == '\\')
            out[at++] = '\\';
        out[at++] = name[i];
    }
    out[at++] = '"';
    return need;
}

void mime_msg_file(mime_msg *m, const char *ctype, size_t ctlen, const char *disp,
                   size_t dlen)
{
    if (ctype != NULL)
        mime_msg_set(m, MIME_MSG_H_CONTENT_TYPE, ctype, ctlen, 0);
    if (disp != NULL)
        mime_msg_set(m, MIME_MSG_H_CONTENT_DISPOSITION, disp, dlen, 0);
    mime_msg_set(m, MIME_MSG_H_CONTENT_TYPE, MIME_MSG_FILE_TYPE,
                 sizeof MIME_MSG_FILE_TYPE - 1, 0);
}

int mime_msg_scan(mime_cte_scan *s, const void *buf, size_t n)
{
    mime_cte_scan_update(s, (const unsigned char *)buf, n);
    return !s->nul; /* a NUL makes it base64, whatever follows */
}

int mime_msg_auto_file(const mime_cte_scan *s, int *recheck)
{
    int cte = mime_cte_scan_result(s);
    *recheck = cte == MIME_CTE_7BIT;
    return cte;
}

int mime_msg_recheck(mime_cte_scan *s, const void *buf, size_t n)
{
    mime_cte_scan_update(s, (const unsigned char *)buf, n);
    return mime_cte_scan_result(s) == MIME_CTE_7BIT ? 0 : -SMTP_E_CONTENT_NUL;
}

int mime_msg_leaf(mime_msg *m, int kind, const char *s, size_t n, int cte, int has_enc)
{
    /* the part's first Content-Type, and whether it has a
     * Content-Transfer-Encoding, in one pass (every leaf comes here) */
    const mime_msg_field *ct = NULL;
    int i, te = 0;
    for (i = m->n - 1; i >= 0; i--) {
        int rank = m->hs[i].k->rank;
        if (rank == MIME_MSG_H_CONTENT_TYPE)
            ct = &m->hs[i];
        else if (rank == MIME_MSG_H_CTE)
            te = 1;
    }
    if (kind != MIME_MSG_FILE && ct == NULL) {
        mime_msg_set(m, MIME_MSG_H_CONTENT_TYPE, MIME_MSG_LEAF_TYPE,
                     sizeof MIME_MSG_LEAF_TYPE - 1, 0);
        if (m->n > 0 && m->hs[m->n - 1].k->rank == MIME_MSG_H_CONTENT_TYPE)
            ct = &m->hs[m->n - 1]; /* added last */
    }
    if (kind == MIME_MSG_STRING && m->nopen > 0)
        mime_msg_check(m, s, n);
    if (kind == MIME_MSG_STRING || kind == MIME_MSG_NONE) {
        if (kind == MIME_MSG_NONE) {
            s = "";
            n = 0;
        }
        if (cte == MIME_GEN_AUTO) {
            cte = mime_cte_choose((const unsigned char *)s, n);
        } else if (!has_enc && kind == MIME_MSG_STRING && !te) {
            size_t tlen = ct != NULL ? ct->vlen : 0;
            const char *t = ct != NULL ? ct->value : NULL;
            if (t == NULL || mime_gen_encodable(t, tlen)) {
                /* sent as given (LuaSocket) unless it holds a NUL or a
                 * line over 998 octets: then encoded as "auto" would (RFC
                 * 5321 4.5.3.1.6), with its header; never a composite
                 * type (RFC 2045 6.4) */
                cte = mime_gen_cte_plain(s, n);
                has_enc = cte != MIME_GEN_RAW;
            }
        }
    }
    if (has_enc) {
        mime_msg_drop(m, MIME_MSG_H_CTE);
        if (cte != MIME_GEN_AUTO) {
            const char *name = mime_gen_cte_name(cte);
            mime_msg_set(m, MIME_MSG_H_CTE, name, strlen(name), 1);
        }
    }
    return cte;
}

/* ---- writing ------------------------------------------------------------- */

static int by_rank(const mime_msg_field *x, const mime_msg_field *y)
{
    int c;
    if (x->k->rank != y->k->rank)
        return x->k->rank < y->k->rank ? -1 : 1;
    c = strcmp(x->k->lname, y->k->lname);
    if (c != 0)
        return c;
    return x->seq - y->seq;
}

/* Few fields a part: an insertion sort (stable, no call per compare); a
 * field already after its predecessor is not moved. */
static void sort_fields(mime_msg_field *hs, int n)
{
    int i, j;
    for (i = 1; i < n; i++) {
        mime_msg_field t;
        if (by_rank(&hs[i - 1], &hs[i]) <= 0)
            continue;
        t = hs[i];
        for (j = i; j > 0 && by_rank(&hs[j - 1], &t) > 0; j--)
            hs[j] = hs[j - 1];
        hs[j] = t;
    }
}

int mime_msg_emit(mime_msg *m, mime_gen *g, unsigned auto_id)
{
    int rc, i = m->at, n = m->n;
    if (i == 0 && !m->listed)
        sort_fields(m->hs, n);
    for (; i < n; i++) {
        const mime_msg_field *h = &m->hs[i];
        const mime_msg_name *k = h->k;
        const char *v = h->value;
        size_t vlen = h->vlen, start = g->textlen;
        mime_msg_line *c;
        if (k->rc != 0) {
            m->at = m->failed = i;
            return -k->rc;
        }
        c = &m->lines[(ADDR_HASH(v) >> 9) & (MIME_MSG_LINE_SLOTS - 1)];
        if (c->k == k && c->vlen == vlen && c->len == k->hn.len + vlen + 4 &&
            c->off + c->len <= start &&
            memcmp(g->text + c->off + k->hn.len + 2, v, vlen) == 0) {
            /* written before in this message, as it is: copied (the
             * same name, ": ", the same value bytes, CRLF) */
            rc = mime_gen_text(g, g->text + c->off, c->len);
            if (rc < 0) {
                m->at = i;
                return rc;
            }
            continue;
        }
        rc = mime_gen_header_named(g, &k->hn, v, vlen, 0);
        if (rc < 0) {
            m->at = i;
            if (rc != -SMTP_E_BUSY)
                m->failed = i;
            return rc;
        }
        if (k < m->names || k >= m->names + MIME_MSG_NAME_SLOTS)
            continue; /* a spill entry: another name in the next part */
        c->k = k;
        c->vlen = vlen;
        c->off = start;
        c->len = g->textlen - start;
    }
    m->at = i;
    /* an encoding chosen at run time: its header comes last */
    if (m->at == n && auto_id > 0) {
        rc = mime_gen_cte_auto(g, auto_id);
        if (rc < 0)
            return rc;
    }
    if (m->at == n)
        m->at++;
    rc = mime_gen_end_headers(g);
    if (rc < 0)
        return rc;
    m->at = 0;
    return 0;
}

const char *mime_msg_failed_name(const mime_msg *m, size_t *nlen)
{
    if (m->failed < 0 || m->failed >= m->n) {
        *nlen = 0;
        return NULL;
    }
    *nlen = m->hs[m->failed].nlen;
    return m->hs[m->failed].name;
}
