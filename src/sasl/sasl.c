/* sasl.c -- SASL client mechanisms; see sasl.h. */
#include <string.h>
#include "mime/mime_enc.h"
#include "sasl.h"

/* ---- names -------------------------------------------------------------- */

static const char *const mech_names[] = {
#define SASL_MECH_NAME(id, name) name,
    SASL_MECHS(SASL_MECH_NAME)
#undef SASL_MECH_NAME
};

const char *sasl_mech_name(int mech)
{
    return mech >= 0 && mech < SASL_MECH__COUNT ? mech_names[mech] : NULL;
}

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

/* s[0..n) equals the NUL-terminated lit, ignoring ASCII case. */
static int ieq(const char *s, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (lit[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
            return 0;
    return lit[n] == '\0';
}

int sasl_mech_find(const char *name, size_t len)
{
    int m;
    for (m = 0; m < SASL_MECH__COUNT; m++)
        if (ieq(name, len, mech_names[m]))
            return m;
    return -1;
}

static int is_listsep(char ch) { return ch == ' ' || ch == '\t' || ch == ','; }

/* The next name of a list at *pos: its start, *n its length; NULL at the end. */
static const char *next_name(const char *list, size_t len, size_t *pos, size_t *n)
{
    size_t i = *pos, start;
    while (i < len && is_listsep(list[i]))
        i++;
    if (i >= len) {
        *pos = i;
        return NULL;
    }
    start = i;
    while (i < len && !is_listsep(list[i]))
        i++;
    *pos = i;
    *n = i - start;
    return list + start;
}

unsigned sasl_mech_mask(const char *list, size_t len)
{
    unsigned mask = 0;
    size_t pos = 0, n;
    const char *name;
    if (list == NULL)
        return 0;
    while ((name = next_name(list, len, &pos, &n)) != NULL) {
        int m = sasl_mech_find(name, n);
        if (m >= 0)
            mask |= 1u << m;
    }
    return mask;
}

static int is_token_mech(int m)
{
    return m == SASL_MECH_XOAUTH2 || m == SASL_MECH_OAUTHBEARER;
}

static int usable(int m, unsigned have)
{
    return is_token_mech(m) ? (have & SASL_HAVE_TOKEN) != 0
                            : (have & SASL_HAVE_PASSWORD) != 0;
}

int sasl_choose(unsigned offered, const char *forced, size_t flen, unsigned have)
{
    static const unsigned char by_password[] = {
        SASL_MECH_SCRAM_SHA_256, SASL_MECH_SCRAM_SHA_1, SASL_MECH_CRAM_MD5,
        SASL_MECH_DIGEST_MD5, SASL_MECH_PLAIN, SASL_MECH_LOGIN};
    static const unsigned char by_token[] = {SASL_MECH_OAUTHBEARER,
                                             SASL_MECH_XOAUTH2};
    size_t i;
    if (forced != NULL && flen > 0) {
        size_t pos = 0, n;
        const char *name;
        int found = -SMTP_E_SASL_NO_MECH;
        /* every name must be known, even after a usable one */
        while ((name = next_name(forced, flen, &pos, &n)) != NULL) {
            int m = sasl_mech_find(name, n);
            if (m < 0)
                return -SMTP_E_SASL_BAD_MECH;
            if (found < 0 && (offered & (1u << m)) && usable(m, have))
                found = m;
        }
        return found;
    }
    if (have & SASL_HAVE_PASSWORD) {
        for (i = 0; i < sizeof by_password; i++)
            if (offered & (1u << by_password[i]))
                return by_password[i];
    } else if (have & SASL_HAVE_TOKEN) {
        for (i = 0; i < sizeof by_token; i++)
            if (offered & (1u << by_token[i]))
                return by_token[i];
    }
    return -SMTP_E_SASL_NO_MECH;
}

/* ---- base64 (RFC 4648 4), for SCRAM's fields and nonces ----------------- */
/* mime_enc's encoder (padded) and strict decoder: one base64 for the
 * project. */

size_t sasl_nonce_text(const unsigned char *rnd, size_t n, char *out, size_t cap)
{
    size_t len;
    if (n > SASL_NONCE_MAX || (4 * n + 2) / 3 > SASL_NONCE_MAX ||
        (4 * n + 2) / 3 + 1 > cap)
        return 0;
    {
        char tmp[MIME_B64_LEN(SASL_NONCE_MAX)];
        len = mime_b64_encode(rnd, n, tmp);
        while (len > 0 && tmp[len - 1] == '=')
            len--; /* a nonce is text: no padding */
        memcpy(out, tmp, len);
    }
    out[len] = '\0';
    return len;
}

/* ---- output writer ------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int over; /* something did not fit */
} wbuf;

static void w_init(wbuf *w, sasl_client *c)
{
    w->p = c->out;
    w->len = 0;
    w->cap = sizeof c->out;
    w->over = 0;
}

static void w_put(wbuf *w, const void *s, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = 1;
        return;
    }
    if (n > 0)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void w_str(wbuf *w, const char *s) { w_put(w, s, strlen(s)); }

static void w_hex(wbuf *w, const unsigned char *d, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        char two[2];
        two[0] = hx[d[i] >> 4];
        two[1] = hx[d[i] & 15];
        w_put(w, two, 2);
    }
}

static void w_b64(wbuf *w, const unsigned char *d, size_t n)
{
    if (w->over || MIME_B64_LEN(n) > w->cap - w->len) {
        w->over = 1;
        return;
    }
    w->len += mime_b64_encode(d, n, w->p + w->len);
}

/* RFC 5802 saslname: '=' as "=3D", ',' as "=2C". */
static void w_saslname(wbuf *w, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == '=')
            w_put(w, "=3D", 3);
        else if (s[i] == ',')
            w_put(w, "=2C", 3);
        else
            w_put(w, s + i, 1);
    }
}

/* The inside of an RFC 2831 quoted-string: '"' and '\' escaped with '\'. */
static void w_qtext(wbuf *w, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            w_put(w, "\\", 1);
        w_put(w, s + i, 1);
    }
}

static void w_quoted(wbuf *w, const char *s, size_t n)
{
    w_put(w, "\"", 1);
    w_qtext(w, s, n);
    w_put(w, "\"", 1);
}

/* ---- states (STYLE.md 2) -------------------------------------------------
 *
 *   DEAD --init--> READY --start--> WAIT --step--> WAIT (more rounds)
 *   WAIT --step--> PROVEN (SCRAM v=, DIGEST-MD5 rspauth checked)
 *   WAIT --step--> REFUSED (OAuth error in band: ack sent)
 *   WAIT, PROVEN --success--> DONE
 *   any live state --peer fault--> ERROR (sticky)
 *   anything --clear--> DEAD
 */
enum {
    S_DEAD = 0,
    S_READY,
    S_WAIT,
    S_PROVEN,
    S_REFUSED,
    S_DONE,
    S_ERROR,
    S__COUNT
};

#define B(s) (1u << (s))
static const unsigned allowed[S__COUNT] = {
    /* DEAD    */ B(S_READY),
    /* READY   */ B(S_WAIT) | B(S_ERROR),
    /* WAIT    */ B(S_WAIT) | B(S_PROVEN) | B(S_REFUSED) | B(S_DONE) | B(S_ERROR),
    /* PROVEN  */ B(S_DONE) | B(S_ERROR),
    /* REFUSED */ B(S_ERROR),
    /* DONE    */ 0,
    /* ERROR   */ 0,
};
#undef B

/* Wipe everything secret: the password or token, the expected proof, the
 * last response. */
static void wipe_secrets(sasl_client *c)
{
    sasl_wipe(c->secret, sizeof c->secret);
    sasl_wipe(c->proof, sizeof c->proof);
    sasl_wipe(c->out, sizeof c->out);
    c->secretlen = c->prooflen = c->outlen = 0;
}

/* Enter an error state: wipe, remember the code, return it negated. */
static int fail(sasl_client *c, int err)
{
    wipe_secrets(c);
    c->state = S_ERROR;
    c->err = err;
    return -err;
}

/* The way to change state (fail() enters ERROR, init and clear start from
 * DEAD; nothing else writes c->state). A transition the table does not
 * allow is a bug in this file: it ends the exchange with BAD_STATE. */
static int set_state(sasl_client *c, int s)
{
    if (c->state < 0 || c->state >= S__COUNT || !(allowed[c->state] & (1u << s)))
        return fail(c, SMTP_E_SASL_BAD_STATE);
    c->state = s;
    if (s == S_DONE)
        wipe_secrets(c);
    return 0;
}

/* Keep the server's error text: printable ASCII, bounded. */
static void set_errtext(sasl_client *c, const char *s, size_t n)
{
    size_t i;
    if (n > sizeof c->errtext - 1)
        n = sizeof c->errtext - 1;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        c->errtext[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    c->errtext[n] = '\0';
    c->errtextlen = n;
}

/* ---- init --------------------------------------------------------------- */

enum {
    F_NUL = 1,   /* no NUL */
    F_CTL = 2,   /* no byte < 0x20 or 0x7f */
    F_VCHAR = 4, /* 0x21..0x7e only */
    F_NONCE = 8  /* 0x21..0x7e without , " \ */
};

/* A caller fault of init: wipe the struct, keep the code and the field. */
static int bad_arg(sasl_client *c, int err, const char *field)
{
    sasl_wipe(c, sizeof *c);
    c->state = S_DEAD;
    c->err = err;
    c->field = field;
    return -err;
}

static int chars_ok(const char *s, size_t n, int rules)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((rules & F_NUL) && ch == 0)
            return 0;
        if ((rules & F_CTL) && (ch < 0x20 || ch == 0x7f))
            return 0;
        if ((rules & (F_VCHAR | F_NONCE)) && (ch < 0x21 || ch > 0x7e))
            return 0;
        if ((rules & F_NONCE) && (ch == ',' || ch == '"' || ch == '\\'))
            return 0;
    }
    return 1;
}

/* Copy one parameter into dst[cap]: 0, or a negative error (already
 * recorded by bad_arg). Absent (NULL) is fine unless required; an empty
 * required one counts as missing. */
static int take(sasl_client *c, const char *field, const char *s, size_t n,
                int required, int rules, char *dst, size_t cap, size_t *len)
{
    if (s == NULL)
        n = 0;
    if (n == 0) {
        *len = 0;
        return required ? bad_arg(c, SMTP_E_SASL_MISSING, field) : 0;
    }
    if (n > cap)
        return bad_arg(c, SMTP_E_SASL_ARG_TOO_LONG, field);
    if (!chars_ok(s, n, rules))
        return bad_arg(c, (rules & F_NONCE) ? SMTP_E_SASL_ARG_NONCE : SMTP_E_SASL_ARG_CHARS,
                       field);
    memcpy(dst, s, n);
    *len = n;
    return 0;
}

/* Client-first messages, computed by init. */

static void gs2_header(wbuf *w, const char *a, size_t alen)
{
    w_put(w, "n,", 2);
    if (alen > 0) {
        w_put(w, "a=", 2);
        w_saslname(w, a, alen);
    }
    w_put(w, ",", 1);
}

static void first_plain(sasl_client *c, wbuf *w)
{
    w_put(w, c->authzid, c->authzidlen);
    w_put(w, "", 1);
    w_put(w, c->user, c->userlen);
    w_put(w, "", 1);
    w_put(w, c->secret, c->secretlen);
}

static void first_scram(sasl_client *c, wbuf *w)
{
    gs2_header(w, c->authzid, c->authzidlen);
    w_put(w, "n=", 2);
    w_saslname(w, c->user, c->userlen);
    w_put(w, ",r=", 3);
    w_put(w, c->nonce, c->noncelen);
}

static void first_xoauth2(sasl_client *c, wbuf *w)
{
    w_put(w, "user=", 5);
    w_put(w, c->user, c->userlen);
    w_put(w, "\001auth=Bearer ", 13);
    w_put(w, c->secret, c->secretlen);
    w_put(w, "\001\001", 2);
}

static void first_oauthbearer(sasl_client *c, wbuf *w)
{
    if (c->authzidlen > 0)
        gs2_header(w, c->authzid, c->authzidlen);
    else
        gs2_header(w, c->user, c->userlen);
    w_put(w, "\001", 1);
    if (c->hostlen > 0) {
        w_put(w, "host=", 5);
        w_put(w, c->host, c->hostlen);
        w_put(w, "\001", 1);
    }
    if (c->port > 0) {
        char num[8];
        size_t n = 0;
        unsigned v = c->port, div = 10000;
        while (div > v && div > 1)
            div /= 10;
        for (; div > 0; div /= 10)
            num[n++] = (char)('0' + v / div % 10);
        w_put(w, "port=", 5);
        w_put(w, num, n);
        w_put(w, "\001", 1);
    }
    w_put(w, "auth=Bearer ", 12);
    w_put(w, c->secret, c->secretlen);
    w_put(w, "\001\001", 2);
}

int sasl_client_init(sasl_client *c, int mech, const sasl_params *params)
{
    int m = mech, rc = 0, tokenmech, idrules = 0;
    sasl_params none;
    const sasl_params *p = params;
    wbuf w;
    if (p == NULL) {
        memset(&none, 0, sizeof none);
        p = &none;
    }
    sasl_wipe(c, sizeof *c);
    c->state = S_DEAD;
    if (m < 0 || m >= SASL_MECH__COUNT)
        return bad_arg(c, SMTP_E_SASL_BAD_MECH, "mechanism");
    tokenmech = is_token_mech(m);
    c->mech = m;
    switch (m) {
    case SASL_MECH_PLAIN:
    case SASL_MECH_SCRAM_SHA_1:
    case SASL_MECH_SCRAM_SHA_256: idrules = F_NUL; break;
    case SASL_MECH_DIGEST_MD5:
    case SASL_MECH_XOAUTH2:
    case SASL_MECH_OAUTHBEARER: idrules = F_CTL; break;
    default: idrules = 0; break;
    }
    rc = take(c, "user", p->user, p->userlen, m != SASL_MECH_OAUTHBEARER,
              idrules, c->user, sizeof c->user, &c->userlen);
    if (rc == 0 && m != SASL_MECH_LOGIN && m != SASL_MECH_CRAM_MD5 &&
        m != SASL_MECH_XOAUTH2)
        rc = take(c, "authzid", p->authzid, p->authzidlen, 0, idrules,
                  c->authzid, sizeof c->authzid, &c->authzidlen);
    if (rc == 0 && tokenmech)
        rc = take(c, "token", p->token, p->tokenlen, 1, F_VCHAR, c->secret,
                  SASL_TOKEN_MAX, &c->secretlen);
    if (rc == 0 && !tokenmech)
        rc = take(c, "password", p->password, p->passwordlen, 1,
                  m == SASL_MECH_PLAIN ? F_NUL : 0, c->secret, SMTP_CRED_MAX,
                  &c->secretlen);
    if (rc == 0 && (m == SASL_MECH_DIGEST_MD5 || m == SASL_MECH_OAUTHBEARER))
        rc = take(c, "host", p->host, p->hostlen, m == SASL_MECH_DIGEST_MD5,
                  F_CTL, c->host, sizeof c->host, &c->hostlen);
    if (rc == 0 && m == SASL_MECH_DIGEST_MD5) {
        rc = take(c, "service", p->service, p->servicelen, 0, F_CTL,
                  c->service, sizeof c->service, &c->servicelen);
        if (rc == 0 && c->servicelen == 0) {
            memcpy(c->service, "smtp", 4);
            c->servicelen = 4;
        }
        if (rc == 0)
            rc = take(c, "realm", p->realm, p->realmlen, 0, F_CTL, c->realm,
                      sizeof c->realm, &c->realmlen);
    }
    if (rc == 0 && (m == SASL_MECH_DIGEST_MD5 || m == SASL_MECH_SCRAM_SHA_1 ||
                    m == SASL_MECH_SCRAM_SHA_256)) {
        if (p->nonce != NULL && p->noncelen > 0 && p->noncelen < SASL_NONCE_MIN)
            rc = bad_arg(c, SMTP_E_SASL_ARG_NONCE, "nonce");
        else
            rc = take(c, "nonce", p->nonce, p->noncelen, 1, F_NONCE, c->nonce,
                      sizeof c->nonce, &c->noncelen);
    }
    if (rc == 0 && m == SASL_MECH_OAUTHBEARER) {
        if (p->port > 65535)
            rc = bad_arg(c, SMTP_E_SASL_ARG_TOO_LONG, "port");
        c->port = p->port;
    }
    if (rc != 0)
        return rc;
    c->alg = m == SASL_MECH_SCRAM_SHA_1 ? SASL_HASH_SHA1 : SASL_HASH_SHA256;

    w_init(&w, c);
    switch (m) {
    case SASL_MECH_PLAIN: first_plain(c, &w); break;
    case SASL_MECH_SCRAM_SHA_1:
    case SASL_MECH_SCRAM_SHA_256: first_scram(c, &w); break;
    case SASL_MECH_XOAUTH2: first_xoauth2(c, &w); break;
    case SASL_MECH_OAUTHBEARER: first_oauthbearer(c, &w); break;
    default: break;
    }
    if (w.over)
        return bad_arg(c, SMTP_E_SASL_RESPONSE_TOO_LONG, "response");
    c->outlen = w.len;
    /* the secret of a mechanism that has said everything is not kept */
    if (m == SASL_MECH_PLAIN || tokenmech) {
        sasl_wipe(c->secret, sizeof c->secret);
        c->secretlen = 0;
    }
    return set_state(c, S_READY);
}

static int has_first(int m)
{
    return m == SASL_MECH_PLAIN || m == SASL_MECH_SCRAM_SHA_1 ||
           m == SASL_MECH_SCRAM_SHA_256 || m == SASL_MECH_XOAUTH2 ||
           m == SASL_MECH_OAUTHBEARER;
}

int sasl_client_start(sasl_client *c, const char **out, size_t *outlen)
{
    int rc;
    *out = NULL;
    *outlen = 0;
    if (c->state == S_ERROR)
        return -c->err;
    if (c->state != S_READY)
        return -SMTP_E_SASL_BAD_STATE;
    if ((rc = set_state(c, S_WAIT)) != 0)
        return rc;
    if (has_first(c->mech)) {
        *out = c->out;
        *outlen = c->outlen;
    }
    return SASL_OK;
}

/* ---- LOGIN, CRAM-MD5 ---------------------------------------------------- */

/* Whatever the prompts say ("Username:", "Password:"), the first challenge
 * gets the user name and the second the password. */
static int step_login(sasl_client *c, wbuf *w)
{
    if (c->round == 0) {
        w_put(w, c->user, c->userlen);
    } else if (c->round == 1) {
        w_put(w, c->secret, c->secretlen);
        sasl_wipe(c->secret, sizeof c->secret);
        c->secretlen = 0;
    } else {
        return fail(c, SMTP_E_SASL_UNEXPECTED);
    }
    return 0;
}

/* RFC 2195 2: user SP hex(HMAC-MD5(password, challenge)). */
static int step_cram(sasl_client *c, const char *in, size_t n, wbuf *w)
{
    unsigned char d[SASL_MD5_LEN];
    if (c->round > 0)
        return fail(c, SMTP_E_SASL_UNEXPECTED);
    if (n == 0)
        return fail(c, SMTP_E_SASL_MALFORMED);
    sasl_hmac(SASL_HASH_MD5, c->secret, c->secretlen, in, n, d);
    sasl_wipe(c->secret, sizeof c->secret);
    c->secretlen = 0;
    w_put(w, c->user, c->userlen);
    w_put(w, " ", 1);
    w_hex(w, d, sizeof d);
    sasl_wipe(d, sizeof d);
    return 0;
}

/* ---- DIGEST-MD5 (RFC 2831) ---------------------------------------------- */

/* One directive: name[0..nlen) = val[0..vlen) (unquoted into scratch). */
typedef struct {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
} directive;

static int is_lws(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

/* RFC 2616 2.2 token characters. */
static int is_tokch(unsigned char ch)
{
    if (ch <= 0x20 || ch >= 0x7f)
        return 0;
    return strchr("()<>@,;:\\\"/[]?={}", ch) == NULL;
}

/* A character a quoted-string may hold: TEXT (RFC 2616 2.2) without the
 * line breaks of LWS folding, so no control character but tab. */
static int is_qdch(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Parse the next directive of in[0..n) from *pos. 1 with *d filled, 0 at
 * the end, -1 when malformed. Quoted values are unescaped into scratch
 * (*spos advances; scratch needs no more room than the input). Empty list
 * elements (",,") are skipped (RFC 2831 1.1 #rule). */
static int next_directive(const char *in, size_t n, size_t *pos, char *scratch,
                          size_t *spos, directive *d)
{
    size_t i = *pos;
    for (;;) {
        while (i < n && is_lws(in[i]))
            i++;
        if (i < n && in[i] == ',') {
            i++;
            continue;
        }
        break;
    }
    if (i >= n) {
        *pos = i;
        return 0;
    }
    d->name = in + i;
    while (i < n && is_tokch((unsigned char)in[i]))
        i++;
    d->nlen = (size_t)(in + i - d->name);
    if (d->nlen == 0)
        return -1;
    while (i < n && is_lws(in[i]))
        i++;
    if (i >= n || in[i] != '=')
        return -1;
    i++;
    while (i < n && is_lws(in[i]))
        i++;
    if (i < n && in[i] == '"') {
        char *v = scratch + *spos;
        size_t k = 0;
        i++;
        for (;;) {
            if (i >= n)
                return -1; /* no closing quote */
            if (in[i] == '"')
                break;
            if (in[i] == '\\') {
                if (++i >= n)
                    return -1;
            }
            if (!is_qdch((unsigned char)in[i]))
                return -1;
            v[k++] = in[i++];
        }
        i++;
        d->val = v;
        d->vlen = k;
        *spos += k;
    } else {
        d->val = in + i;
        while (i < n && is_tokch((unsigned char)in[i]))
            i++;
        d->vlen = (size_t)(in + i - d->val);
        if (d->vlen == 0)
            return -1;
    }
    while (i < n && is_lws(in[i]))
        i++;
    if (i < n && in[i] != ',')
        return -1;
    *pos = i;
    return 1;
}

/* s[0..n) is plain ASCII. */
static int ascii(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* Hash s[0..n) the way RFC 2831 2.1.2.1 asks under charset=utf-8: when
 * the UTF-8 text only holds characters of ISO 8859-1, hash those octets
 * instead (as Cyrus SASL does, for user, realm and password); otherwise
 * the UTF-8 as is. */
static void md5_8859(sasl_hash_ctx *h, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;
    for (i = 0; i < n; i++) {
        if (u[i] < 0x80)
            continue;
        if ((u[i] == 0xc2 || u[i] == 0xc3) && i + 1 < n &&
            (u[i + 1] & 0xc0) == 0x80) {
            i++;
            continue;
        }
        sasl_hash_update(h, s, n); /* not all Latin-1 (or not UTF-8) */
        return;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = u[i];
        if (ch >= 0x80) {
            ch = (unsigned char)(((u[i] & 3) << 6) | (u[i + 1] & 0x3f));
            i++;
        }
        sasl_hash_update(h, &ch, 1);
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)lower((unsigned char)ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
}

/* Does the quoted qop-options list v[0..n) hold the token "auth"? */
static int qop_has_auth(const char *v, size_t n)
{
    size_t pos = 0, len;
    const char *name;
    while ((name = next_name(v, n, &pos, &len)) != NULL)
        if (ieq(name, len, "auth"))
            return 1;
    return 0;
}

/* KD(HEX(H(A1)), nonce ":" nc ":" cnonce ":auth:" HEX(H(a2p a2))), hex
 * into out[32]. */
static void digest_kd(const sasl_client *c, const char *ha1, const char *nonce,
                      size_t noncelen, const char *a2p, unsigned char out[16])
{
    sasl_hash_ctx h;
    unsigned char d[SASL_MD5_LEN];
    char ha2[32];
    sasl_hash_init(&h, SASL_HASH_MD5);
    sasl_hash_update(&h, a2p, strlen(a2p));
    sasl_hash_update(&h, c->service, c->servicelen);
    sasl_hash_update(&h, "/", 1);
    sasl_hash_update(&h, c->host, c->hostlen);
    sasl_hash_final(&h, d);
    hex_of(d, sizeof d, ha2);
    sasl_hash_init(&h, SASL_HASH_MD5);
    sasl_hash_update(&h, ha1, 32);
    sasl_hash_update(&h, ":", 1);
    sasl_hash_update(&h, nonce, noncelen);
    sasl_hash_update(&h, ":00000001:", 10);
    sasl_hash_update(&h, c->nonce, c->noncelen);
    sasl_hash_update(&h, ":auth:", 6);
    sasl_hash_update(&h, ha2, 32);
    sasl_hash_final(&h, out);
}

static int digest_first(sasl_client *c, const char *in, size_t n, wbuf *w)
{
    char scratch[SASL_CHALLENGE_MAX];
    size_t pos = 0, spos = 0;
    directive d;
    const char *realm = NULL, *nonce = NULL;
    size_t realmlen = 0, noncelen = 0;
    int nnonce = 0, nqop = 0, ncharset = 0, nalg = 0, nmaxbuf = 0, nstale = 0;
    int auth = 1, utf8 = 0, rc;
    sasl_hash_ctx h;
    unsigned char d16[SASL_MD5_LEN], resp[SASL_MD5_LEN];
    char ha1[32];

    while ((rc = next_directive(in, n, &pos, scratch, &spos, &d)) == 1) {
        if (ieq(d.name, d.nlen, "realm")) {
            if (realm == NULL) {
                realm = d.val;
                realmlen = d.vlen;
            }
        } else if (ieq(d.name, d.nlen, "nonce")) {
            nnonce++;
            nonce = d.val;
            noncelen = d.vlen;
        } else if (ieq(d.name, d.nlen, "qop")) {
            nqop++;
            auth = qop_has_auth(d.val, d.vlen);
        } else if (ieq(d.name, d.nlen, "charset")) {
            ncharset++;
            if (!ieq(d.val, d.vlen, "utf-8"))
                return fail(c, SMTP_E_SASL_MALFORMED);
            utf8 = 1;
        } else if (ieq(d.name, d.nlen, "algorithm")) {
            nalg++;
            if (!ieq(d.val, d.vlen, "md5-sess"))
                return fail(c, SMTP_E_SASL_UNSUPPORTED);
        } else if (ieq(d.name, d.nlen, "maxbuf")) {
            nmaxbuf++;
        } else if (ieq(d.name, d.nlen, "stale")) {
            nstale++;
        } else if (ieq(d.name, d.nlen, "rspauth")) {
            return fail(c, SMTP_E_SASL_MALFORMED); /* a second challenge first */
        }
        /* cipher and unknown auth-params are ignored */
    }
    if (rc < 0 || nnonce != 1 || noncelen == 0 || nalg != 1 || nqop > 1 ||
        ncharset > 1 || nmaxbuf > 1 || nstale > 1)
        return fail(c, SMTP_E_SASL_MALFORMED);
    if (!auth)
        return fail(c, SMTP_E_SASL_UNSUPPORTED); /* only auth-int / auth-conf */
    if (c->realmlen > 0) {
        realm = c->realm;
        realmlen = c->realmlen;
    }
    /* without charset=utf-8 the values would have to be ISO 8859-1 */
    if (!utf8 && !(ascii(c->user, c->userlen) && ascii(c->secret, c->secretlen) &&
                   ascii(c->authzid, c->authzidlen) &&
                   (realm == NULL || ascii(realm, realmlen))))
        return fail(c, SMTP_E_SASL_UNSUPPORTED);

    /* A1 = H(user ":" realm ":" password) ":" nonce ":" cnonce [":" authzid] */
    sasl_hash_init(&h, SASL_HASH_MD5);
    md5_8859(&h, c->user, c->userlen);
    sasl_hash_update(&h, ":", 1);
    if (realm != NULL)
        md5_8859(&h, realm, realmlen);
    sasl_hash_update(&h, ":", 1);
    md5_8859(&h, c->secret, c->secretlen);
    sasl_hash_final(&h, d16);
    sasl_hash_init(&h, SASL_HASH_MD5);
    sasl_hash_update(&h, d16, sizeof d16);
    sasl_hash_update(&h, ":", 1);
    sasl_hash_update(&h, nonce, noncelen);
    sasl_hash_update(&h, ":", 1);
    sasl_hash_update(&h, c->nonce, c->noncelen);
    if (c->authzidlen > 0) {
        sasl_hash_update(&h, ":", 1);
        sasl_hash_update(&h, c->authzid, c->authzidlen);
    }
    sasl_hash_final(&h, d16);
    hex_of(d16, sizeof d16, ha1);

    digest_kd(c, ha1, nonce, noncelen, "AUTHENTICATE:", resp);
    digest_kd(c, ha1, nonce, noncelen, ":", c->proof); /* rspauth to expect */
    c->prooflen = SASL_MD5_LEN;
    sasl_wipe(d16, sizeof d16);
    sasl_wipe(ha1, sizeof ha1);
    sasl_wipe(c->secret, sizeof c->secret);
    c->secretlen = 0;

    if (utf8)
        w_str(w, "charset=utf-8,");
    w_str(w, "username=");
    w_quoted(w, c->user, c->userlen);
    if (realm != NULL) {
        w_str(w, ",realm=");
        w_quoted(w, realm, realmlen);
    }
    w_str(w, ",nonce=");
    w_quoted(w, nonce, noncelen);
    w_str(w, ",nc=00000001,cnonce=");
    w_quoted(w, c->nonce, c->noncelen);
    w_str(w, ",digest-uri=\"");
    w_qtext(w, c->service, c->servicelen);
    w_put(w, "/", 1);
    w_qtext(w, c->host, c->hostlen);
    w_str(w, "\",response=");
    w_hex(w, resp, sizeof resp);
    w_str(w, ",qop=auth");
    if (c->authzidlen > 0) {
        w_str(w, ",authzid=");
        w_quoted(w, c->authzid, c->authzidlen);
    }
    sasl_wipe(resp, sizeof resp);
    sasl_wipe(scratch, spos);
    return 0;
}

/* The second challenge: rspauth=<32 hex digits>, to match what we expect. */
static int digest_verify(sasl_client *c, const char *in, size_t n)
{
    char scratch[SASL_CHALLENGE_MAX];
    size_t pos = 0, spos = 0, i;
    directive d;
    const char *v = NULL;
    size_t vlen = 0;
    int rc, count = 0;
    unsigned char got[SASL_MD5_LEN];
    while ((rc = next_directive(in, n, &pos, scratch, &spos, &d)) == 1) {
        if (ieq(d.name, d.nlen, "rspauth")) {
            count++;
            v = d.val;
            vlen = d.vlen;
        }
    }
    if (rc < 0 || count != 1)
        return fail(c, SMTP_E_SASL_MALFORMED);
    if (vlen != 2 * SASL_MD5_LEN)
        return fail(c, SMTP_E_SASL_SERVER_PROOF);
    for (i = 0; i < SASL_MD5_LEN; i++) {
        int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return fail(c, SMTP_E_SASL_SERVER_PROOF);
        got[i] = (unsigned char)(hi << 4 | lo);
    }
    if (!sasl_memeq(got, c->proof, SASL_MD5_LEN))
        return fail(c, SMTP_E_SASL_SERVER_PROOF);
    return set_state(c, S_PROVEN);
}

static int step_digest(sasl_client *c, const char *in, size_t n, wbuf *w)
{
    if (c->round == 0)
        return digest_first(c, in, n, w);
    if (c->round == 1)
        return digest_verify(c, in, n); /* answered with an empty response */
    return fail(c, SMTP_E_SASL_UNEXPECTED);
}

/* ---- SCRAM (RFC 5802 3, 5, 7) ------------------------------------------- */

/* value-char / printable: 0x21..0x7e without ','. */
static int printable_value(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e || ch == ',')
            return 0;
    }
    return 1;
}

/* The attribute "X=" at in[*pos]: its value up to ',' or the end. */
static int attr(const char *in, size_t n, size_t *pos, char name,
                const char **v, size_t *vlen)
{
    size_t i = *pos, start;
    if (n - i < 2 || in[i] != name || in[i + 1] != '=')
        return 0;
    start = i + 2;
    i = start;
    while (i < n && in[i] != ',')
        i++;
    *v = in + start;
    *vlen = i - start;
    *pos = i;
    return 1;
}

/* Feed the AuthMessage into an HMAC: client-first-message-bare ","
 * server-first-message "," client-final-message-without-proof. */
static void auth_message(const sasl_client *c, sasl_hmac_ctx *h, const char *sf,
                         size_t sflen, const char *cf, size_t cflen)
{
    size_t i;
    sasl_hmac_update(h, "n=", 2);
    for (i = 0; i < c->userlen; i++) {
        if (c->user[i] == '=')
            sasl_hmac_update(h, "=3D", 3);
        else if (c->user[i] == ',')
            sasl_hmac_update(h, "=2C", 3);
        else
            sasl_hmac_update(h, c->user + i, 1);
    }
    sasl_hmac_update(h, ",r=", 3);
    sasl_hmac_update(h, c->nonce, c->noncelen);
    sasl_hmac_update(h, ",", 1);
    sasl_hmac_update(h, sf, sflen);
    sasl_hmac_update(h, ",", 1);
    sasl_hmac_update(h, cf, cflen);
}

static int scram_first(sasl_client *c, const char *in, size_t n, wbuf *w)
{
    unsigned char salt[SASL_CHALLENGE_MAX / 4 * 3];
    unsigned char sp[SASL_HASH_MAX_LEN], ck[SASL_HASH_MAX_LEN],
        sk[SASL_HASH_MAX_LEN], sig[SASL_HASH_MAX_LEN], srvk[SASL_HASH_MAX_LEN];
    const char *r, *s, *it;
    size_t rlen, slen, itlen, pos = 0, hlen = sasl_hash_len(c->alg), i;
    unsigned long iter = 0;
    long saltlen;
    sasl_hmac_ctx h;
    char gs2[SASL_OUT_MAX]; /* it fitted in client-first already */
    wbuf g;
    size_t cflen;

    if (n >= 2 && in[0] == 'm' && in[1] == '=')
        return fail(c, SMTP_E_SASL_UNSUPPORTED); /* a mandatory extension */
    if (!attr(in, n, &pos, 'r', &r, &rlen) || !printable_value(r, rlen))
        return fail(c, SMTP_E_SASL_MALFORMED);
    if (pos >= n || in[pos] != ',')
        return fail(c, SMTP_E_SASL_MALFORMED);
    pos++;
    if (!attr(in, n, &pos, 's', &s, &slen) || slen == 0)
        return fail(c, SMTP_E_SASL_MALFORMED);
    if (pos >= n || in[pos] != ',')
        return fail(c, SMTP_E_SASL_MALFORMED);
    pos++;
    if (!attr(in, n, &pos, 'i', &it, &itlen) || itlen == 0)
        return fail(c, SMTP_E_SASL_MALFORMED);
    if (pos < n) {
        /* extensions: ",x=..." each; their meaning is ignored */
        while (pos < n) {
            const char *v;
            size_t vlen;
            unsigned char a;
            if (in[pos] != ',' || pos + 1 >= n)
                return fail(c, SMTP_E_SASL_MALFORMED);
            pos++;
            a = (unsigned char)in[pos];
            if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')) ||
                !attr(in, n, &pos, (char)a, &v, &vlen))
                return fail(c, SMTP_E_SASL_MALFORMED);
        }
    }
    for (i = 0; i < itlen; i++) {
        if (it[i] < '0' || it[i] > '9')
            return fail(c, SMTP_E_SASL_MALFORMED);
        if (iter <= SASL_SCRAM_ITER_MAX)
            iter = iter * 10 + (unsigned long)(it[i] - '0');
    }
    if (iter == 0 || iter > SASL_SCRAM_ITER_MAX)
        return fail(c, SMTP_E_SASL_ITERATIONS);
    if (it[0] == '0')
        return fail(c, SMTP_E_SASL_MALFORMED); /* posit-number: no leading zero */
    if (rlen <= c->noncelen || memcmp(r, c->nonce, c->noncelen) != 0)
        return fail(c, SMTP_E_SASL_NONCE_MISMATCH);
    saltlen = mime_b64_decode(s, slen, salt);
    if (saltlen <= 0)
        return fail(c, SMTP_E_SASL_MALFORMED);

    /* client-final-message-without-proof = "c=" base64(gs2-header) ",r=" nonce */
    g.p = gs2;
    g.len = 0;
    g.cap = sizeof gs2;
    g.over = 0;
    gs2_header(&g, c->authzid, c->authzidlen);
    if (g.over)
        return fail(c, SMTP_E_SASL_RESPONSE_TOO_LONG);
    w_put(w, "c=", 2);
    w_b64(w, (const unsigned char *)gs2, g.len);
    w_put(w, ",r=", 3);
    w_put(w, r, rlen);
    if (w->over)
        return fail(c, SMTP_E_SASL_RESPONSE_TOO_LONG);
    cflen = w->len;

    /* SaltedPassword = Hi(password, salt, i); keys and signatures */
    sasl_pbkdf2(c->alg, c->secret, c->secretlen, salt, (size_t)saltlen, iter,
                sp, hlen);
    sasl_wipe(c->secret, sizeof c->secret);
    c->secretlen = 0;
    sasl_hmac(c->alg, sp, hlen, "Client Key", 10, ck);
    sasl_hash(c->alg, ck, hlen, sk);                   /* StoredKey */
    sasl_hmac_init(&h, c->alg, sk, hlen);
    auth_message(c, &h, in, n, w->p, cflen);
    sasl_hmac_final(&h, sig);                          /* ClientSignature */
    for (i = 0; i < hlen; i++)
        ck[i] ^= sig[i];                               /* ClientProof */
    sasl_hmac(c->alg, sp, hlen, "Server Key", 10, srvk);
    sasl_hmac_init(&h, c->alg, srvk, hlen);
    auth_message(c, &h, in, n, w->p, cflen);
    sasl_hmac_final(&h, c->proof);                     /* ServerSignature */
    c->prooflen = hlen;

    w_put(w, ",p=", 3);
    w_b64(w, ck, hlen);
    sasl_wipe(sp, sizeof sp);
    sasl_wipe(ck, sizeof ck);
    sasl_wipe(sk, sizeof sk);
    sasl_wipe(sig, sizeof sig);
    sasl_wipe(srvk, sizeof srvk);
    if (w->over)
        return fail(c, SMTP_E_SASL_RESPONSE_TOO_LONG);
    return 0;
}

/* server-final-message = ("e=" error / "v=" base64) ["," extensions] */
static int scram_final(sasl_client *c, const char *in, size_t n)
{
    unsigned char v[SASL_CHALLENGE_MAX / 4 * 3];
    const char *val;
    size_t vlen, pos = 0;
    long got;
    if (attr(in, n, &pos, 'e', &val, &vlen)) {
        set_errtext(c, val, vlen);
        return fail(c, SMTP_E_SASL_SERVER_ERROR);
    }
    if (!attr(in, n, &pos, 'v', &val, &vlen))
        return fail(c, SMTP_E_SASL_MALFORMED);
    got = mime_b64_decode(val, vlen, v);
    if (got < 0)
        return fail(c, SMTP_E_SASL_MALFORMED);
    if ((size_t)got != c->prooflen || !sasl_memeq(v, c->proof, c->prooflen))
        return fail(c, SMTP_E_SASL_SERVER_PROOF);
    return set_state(c, S_PROVEN);
}

/* Two rounds as in step_digest, and the server's proof is checked the same
 * way; kept per mechanism so that each one's exchange reads in one place. */
static int step_scram(sasl_client *c, const char *in, size_t n, wbuf *w)
{
    if (c->round == 0)
        return scram_first(c, in, n, w);
    if (c->round == 1)
        return scram_final(c, in, n); /* answered with an empty response */
    return fail(c, SMTP_E_SASL_UNEXPECTED);
}

/* ---- XOAUTH2, OAUTHBEARER ----------------------------------------------- */

/* A challenge after the initial response is the server's error (JSON).
 * RFC 7628 3.2.3: the client answers "\x01" and gets the failure reply;
 * XOAUTH2 (Google): an empty response. */
static int step_oauth(sasl_client *c, const char *in, size_t n, wbuf *w)
{
    int rc;
    if (c->round > 0)
        return fail(c, SMTP_E_SASL_UNEXPECTED);
    set_errtext(c, in, n);
    if (c->mech == SASL_MECH_OAUTHBEARER)
        w_put(w, "\001", 1);
    if ((rc = set_state(c, S_REFUSED)) != 0)
        return rc;
    return SASL_REFUSED;
}

/* ---- step, success ------------------------------------------------------ */

int sasl_client_step(sasl_client *c, const char *in, size_t inlen,
                     const char **out, size_t *outlen)
{
    wbuf w;
    int rc;
    *out = NULL;
    *outlen = 0;
    if (c->state == S_ERROR)
        return -c->err;
    if (c->state != S_WAIT && c->state != S_PROVEN && c->state != S_REFUSED)
        return -SMTP_E_SASL_BAD_STATE;
    if (in == NULL)
        inlen = 0;
    if (inlen > SASL_CHALLENGE_MAX)
        return fail(c, SMTP_E_SASL_CHALLENGE_TOO_LONG);
    if (c->state != S_WAIT)
        return fail(c, SMTP_E_SASL_UNEXPECTED); /* nothing may follow the end */
    /* the previous response may hold a secret: gone before the next one */
    sasl_wipe(c->out, c->outlen);
    c->outlen = 0;
    w_init(&w, c);
    switch (c->mech) {
    case SASL_MECH_LOGIN: rc = step_login(c, &w); break;
    case SASL_MECH_CRAM_MD5: rc = step_cram(c, in, inlen, &w); break;
    case SASL_MECH_DIGEST_MD5: rc = step_digest(c, in, inlen, &w); break;
    case SASL_MECH_SCRAM_SHA_1:
    case SASL_MECH_SCRAM_SHA_256: rc = step_scram(c, in, inlen, &w); break;
    case SASL_MECH_XOAUTH2:
    case SASL_MECH_OAUTHBEARER: rc = step_oauth(c, in, inlen, &w); break;
    default: rc = fail(c, SMTP_E_SASL_UNEXPECTED); break; /* PLAIN said it all */
    }
    if (rc < 0)
        return rc;
    if (w.over)
        return fail(c, SMTP_E_SASL_RESPONSE_TOO_LONG);
    c->round++;
    c->outlen = w.len;
    *out = c->out;
    *outlen = c->outlen;
    return rc;
}

static int needs_proof(int m)
{
    return m == SASL_MECH_DIGEST_MD5 || m == SASL_MECH_SCRAM_SHA_1 ||
           m == SASL_MECH_SCRAM_SHA_256;
}

int sasl_client_success(sasl_client *c, const char *add, size_t addlen)
{
    int rc;
    if (c->state == S_ERROR)
        return -c->err;
    if (c->state == S_REFUSED)
        return fail(c, SMTP_E_SASL_SERVER_ERROR); /* success after refusing */
    if (c->state != S_WAIT && c->state != S_PROVEN)
        return -SMTP_E_SASL_BAD_STATE;
    if (c->state == S_WAIT && needs_proof(c->mech)) {
        /* the proof may come with the success, where the protocol allows */
        if (add == NULL || c->round != 1)
            return fail(c, SMTP_E_SASL_NO_SERVER_PROOF);
        if (addlen > SASL_CHALLENGE_MAX)
            return fail(c, SMTP_E_SASL_CHALLENGE_TOO_LONG);
        rc = c->mech == SASL_MECH_DIGEST_MD5 ? digest_verify(c, add, addlen)
                                             : scram_final(c, add, addlen);
        if (rc < 0)
            return rc;
    }
    return set_state(c, S_DONE);
}

void sasl_client_clear(sasl_client *c)
{
    sasl_wipe(c, sizeof *c);
    c->state = S_DEAD;
}

int sasl_client_error(const sasl_client *c)
{
    return c->state == S_ERROR || c->state == S_DEAD ? c->err : 0;
}

int sasl_client_mech(const sasl_client *c) { return c->mech; }

const char *sasl_client_field(const sasl_client *c)
{
    return c->state == S_DEAD ? c->field : NULL;
}

const char *sasl_client_errtext(const sasl_client *c, size_t *len)
{
    if (len != NULL)
        *len = c->errtextlen;
    return c->errtext;
}
