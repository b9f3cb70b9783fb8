/* smtp_client.c -- the SMTP client state machine; see smtp_client.h. */
#include <stdio.h>
#include <string.h>
#include "smtp_client.h"
#include "smtp_cmd.h"
#include "mime/mime_enc.h"

/* The output block must hold the longest AUTH line. */
typedef char smtp_out_holds_auth[(SMTP_OUT_MAX >= SMTP_AUTH_CMD_MAX) ? 1 : -1];

/* Name tables from the X-macro lists, as smtp_caps.c builds its own from
 * SMTP_EXTS and SMTP_MECHS: the same idiom on other lists. */
static const char *const state_names[] = {
#define SMTP_STATE_NAME(id, name) name,
    SMTP_STATES(SMTP_STATE_NAME)
#undef SMTP_STATE_NAME
};
static const char *const cmd_names[] = {
#define SMTP_CMD_NAME(id, name) name,
    SMTP_CMDS(SMTP_CMD_NAME)
#undef SMTP_CMD_NAME
};

const char *smtp_client_state_name(int state)
{
    return (state >= 0 && state < SMTP_S__COUNT) ? state_names[state] : "?";
}

const char *smtp_client_cmd_name(int cmd)
{
    return (cmd >= 0 && cmd < SMTP_C__COUNT) ? cmd_names[cmd] : "?";
}

/*
 * The state machine is the three tables below and nothing else: every
 * change of state goes through set_state() with a state read from one of
 * them, and doc/gen_states.py draws doc/design.md's diagram from them.
 *
 * transitions: the state a command leads to when queued in a state (as
 * if it succeeds), 0 (DEAD) where it is not allowed.
 */
#define S(x) SMTP_S_##x
typedef char smtp_states_fit_a_byte[(SMTP_S__COUNT < 255) ? 1 : -1];
static const unsigned char transitions[SMTP_C__COUNT][SMTP_S__COUNT] = {
    /*              DEAD CONNECTED GREETED    READY    MAIL     DATA BODY TLS CLOSED FAILED LOST */
    [SMTP_C_GREETING] = {0, S(GREETED), 0,         0,       0,       0, 0, 0, 0, 0},
    [SMTP_C_EHLO]     = {0, 0,          S(READY),  S(READY), 0,      0, 0, 0, 0, 0},
    [SMTP_C_HELO]     = {0, 0,          S(READY),  S(READY), 0,      0, 0, 0, 0, 0},
    [SMTP_C_AUTH]     = {0, 0,          0,         S(READY), 0,      0, 0, 0, 0, 0},
    [SMTP_C_STARTTLS] = {0, 0,          0,         S(TLS),  0,       0, 0, 0, 0, 0},
    [SMTP_C_MAIL]     = {0, 0,          0,         S(MAIL), 0,       0, 0, 0, 0, 0},
    [SMTP_C_RCPT]     = {0, 0,          0,         0,       S(MAIL), 0, 0, 0, 0, 0},
    [SMTP_C_DATA]     = {0, 0,          0,         0,       S(DATA), 0, 0, 0, 0, 0},
    [SMTP_C_EOD]      = {0, 0,          0,         0,       0,       0, S(READY), 0, 0, 0},
    [SMTP_C_RSET]     = {0, 0,          S(GREETED), S(READY), S(READY), 0, 0, 0, 0, 0},
    [SMTP_C_NOOP]     = {0, 0,          S(GREETED), S(READY), S(MAIL), 0, 0, 0, 0, 0},
    [SMTP_C_QUIT]     = {0, 0,          S(CLOSED), S(CLOSED), S(CLOSED), 0, 0, 0, 0, 0},
    [SMTP_C_EOD_ABORT] = {0},
    /* smtp_client_lost: from any live state */
    [SMTP_C_LAST]     = {0, S(LOST), S(LOST), S(LOST), S(LOST), S(LOST), S(LOST), S(LOST), S(LOST), 0, 0},
    [SMTP_C_SKIPPED]  = {0}, /* never queued: a reply in LOST (on_reply) */
};

/* A row of reply_moves or event_moves: in state `from` (ANY: in every
 * state), `what` happening moves to state `to`. The first row that
 * matches counts; none matching leaves the state as it is. */
#define ANY SMTP_S__COUNT
typedef struct {
    unsigned char what, from, to;
} smtp_move;

/* What a reply to a command says, as far as the state goes (on_reply);
 * the text labels the diagram. */
#define SMTP_REPLY_CLASSES(X)                                                 \
    X(OK, "positive")        /* the command's positive reply (LAST: below 400) */ \
    X(REFUSED, "refused")    /* any other */                                  \
    X(OK_EMPTY, "positive, nothing to send") /* DATA: 354, MAIL or every RCPT failed */ \
    X(REFUSED_TXN, "refused, MAIL accepted") /* DATA refused, the transaction stands */
enum {
#define SMTP_REPLY_CLASS_ENUM(id, label) R_##id,
    SMTP_REPLY_CLASSES(SMTP_REPLY_CLASS_ENUM)
#undef SMTP_REPLY_CLASS_ENUM
    R__COUNT
};
#define R(cmd, klass) (SMTP_C_##cmd * R__COUNT + R_##klass)

/* reply_moves: how a reply corrects the state queuing its command set. */
static const smtp_move reply_moves[] = {
    /* command, reply class   in state  -> state */
    {R(EHLO, REFUSED),        ANY,      S(GREETED)}, /* unless answered with HELO */
    {R(HELO, REFUSED),        ANY,      S(GREETED)},
    {R(STARTTLS, REFUSED),    S(TLS),   S(READY)},
    {R(MAIL, REFUSED),        S(MAIL),  S(READY)}, /* (pipelined on: DATA's reply says) */
    {R(DATA, OK),             ANY,      S(BODY)},
    {R(DATA, OK_EMPTY),       ANY,      S(READY)}, /* "." is sent, its reply hidden */
    {R(DATA, REFUSED_TXN),    ANY,      S(MAIL)},
    {R(DATA, REFUSED),        ANY,      S(READY)},
    {R(LAST, OK),             S(LOST),  S(LOST)},  /* SKIPPED: not the last word */
};
typedef char smtp_reply_moves_fit_a_byte[(SMTP_C__COUNT * R__COUNT < 256) ? 1 : -1];

/* What else moves the engine; the text labels the diagram. */
#define SMTP_EVENTS(X)                                                        \
    X(INIT, "init")                                                           \
    X(TLS_DONE, "tls_done (after the handshake)")                             \
    X(PEER_FAULT, "peer fault")
enum {
#define SMTP_EVENT_ENUM(id, label) EV_##id,
    SMTP_EVENTS(SMTP_EVENT_ENUM)
#undef SMTP_EVENT_ENUM
    EV__COUNT
};

/* event_moves: the transitions that are neither a command nor a reply. */
static const smtp_move event_moves[] = {
    /* event        in state  -> state */
    {EV_INIT,       ANY,      S(CONNECTED)},
    {EV_TLS_DONE,   S(TLS),   S(GREETED)},
    {EV_PEER_FAULT, ANY,      S(FAILED)}, /* sticky: nothing leaves FAILED */
};
#undef S

/* The row of moves[0..n) for `what` in state, or NULL. */
static const smtp_move *find_move(const smtp_move *moves, size_t n, int what, int state)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (moves[i].what == what && (moves[i].from == ANY || moves[i].from == state))
            return &moves[i];
    return NULL;
}
#define FIND_MOVE(table, what, state) \
    find_move(table, sizeof table / sizeof table[0], what, state)

/* Commands that may be followed by others before their reply (RFC 2920
 * 3.1); every other command ends a group. */
static int pipelinable(int cmd)
{
    return cmd == SMTP_C_MAIL || cmd == SMTP_C_RCPT || cmd == SMTP_C_RSET;
}

/* The one way to change state (traces can hook here). */
static void set_state(smtp_client *c, int state) { c->state = (smtp_state)state; }

/* Apply the event's row; 0, or -1 (nothing changed) when it has none. */
static int event(smtp_client *c, int ev)
{
    const smtp_move *m = FIND_MOVE(event_moves, ev, c->state);
    if (m == NULL)
        return -1;
    set_state(c, m->to);
    return 0;
}

/* Apply the row for a reply of class klass to cmd, if there is one. */
static void reply_move(smtp_client *c, int cmd, int klass)
{
    const smtp_move *m = FIND_MOVE(reply_moves, cmd * R__COUNT + klass, c->state);
    if (m != NULL)
        set_state(c, m->to);
}

/* Zero memory that held credentials; the volatile stores cannot be
 * optimised away as a memset before the end of a lifetime can. */
static void burn(void *p, size_t n)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n-- > 0)
        *v++ = 0;
}

/* Credentials leave the engine once: our copy is wiped on the first call
 * after the WRITE that handed it out (every public function starts with
 * it, whatever it then decides). */
static void wipe(smtp_client *c)
{
    if (c->wipe > 0) {
        burn(c->out, c->wipe);
        c->wipe = 0;
    }
}

static void wipe_auth(smtp_client *c)
{
    burn(c->auth, c->authlen);
    c->authlen = c->authpos = 0;
}

/* A sticky error: nothing will be written any more, so no credential may
 * stay behind (queued AUTH lines, an AUTH PLAIN line not yet written). */
static int fail(smtp_client *c, int err)
{
    if (c->err == 0)
        c->err = err;
    event(c, EV_PEER_FAULT);
    wipe_auth(c);
    if (c->secret > 0) {
        burn(c->out, c->secret);
        c->secret = 0;
    }
    return -c->err;
}

void smtp_client_init(smtp_client *c)
{
    memset(c, 0, offsetof(smtp_client, reply));
    smtp_reply_init(&c->reply);
    smtp_caps_init(&c->caps);
    mime_body_init(&c->body);
    c->inpos = c->inlen = c->outlen = c->wipe = c->secret = 0;
    c->authlen = c->authpos = 0;
    c->sasl = c->challenge = 0;
    c->discarded = 0;
    c->helo_fallback = 0;
    c->domainlen = 0;
    event(c, EV_INIT);
}

unsigned smtp_client_pending(const smtp_client *c) { return c->pcount; }
int smtp_client_state(const smtp_client *c) { return c->state; }
const smtp_caps *smtp_client_caps(const smtp_client *c) { return &c->caps; }
size_t smtp_client_discarded(const smtp_client *c) { return c->discarded; }

const char *smtp_client_output(const smtp_client *c, size_t *len)
{
    *len = c->outlen;
    return c->out;
}

static int head(const smtp_client *c) { return c->pend[c->phead]; }

static void pop(smtp_client *c)
{
    c->phead = (c->phead + 1) % SMTP_PIPELINE_MAX;
    c->pcount--;
}

static void push(smtp_client *c, int cmd)
{
    c->pend[(c->phead + c->pcount) % SMTP_PIPELINE_MAX] = (unsigned char)cmd;
    c->pcount++;
}

/* May cmd be queued now? 0, -SMTP_E_BAD_STATE or -SMTP_E_BUSY. */
static int admit(smtp_client *c, int cmd)
{
    int last;
    wipe(c);
    if (c->err)
        return -c->err;
    if (c->challenge)
        return -SMTP_E_BAD_STATE; /* the 334 is answered first */
    if (c->state < 0 || c->state >= SMTP_S__COUNT ||
        transitions[cmd][c->state] == 0)
        return -SMTP_E_BAD_STATE;
    if (c->pcount == 0) {
        /* Nothing was asked: bytes from the server now are an injection
         * attempt or a broken server, never a reply to what comes next. */
        if (c->inlen > c->inpos)
            return fail(c, SMTP_E_UNEXPECTED_DATA);
        return 0;
    }
    last = c->pend[(c->phead + c->pcount - 1) % SMTP_PIPELINE_MAX];
    if (!(c->caps.ext & SMTP_EXT(PIPELINING)) || !pipelinable(last) ||
        c->pcount >= SMTP_PIPELINE_MAX)
        return -SMTP_E_BUSY;
    return 0;
}

/* Format a command, queue its reply and move to the next state. */
static int queue(smtp_client *c, int cmd, const smtp_piece *pieces, int n,
                 size_t max)
{
    int rc = admit(c, cmd);
    if (rc != 0)
        return rc;
    if (n > 0 &&
        (rc = smtp_cmd_format(c->out, sizeof c->out, &c->outlen, pieces, n, max)) != 0)
        return rc;
    push(c, cmd);
    set_state(c, transitions[cmd][c->state]);
    return 0;
}

int smtp_client_greeting(smtp_client *c)
{
    return queue(c, SMTP_C_GREETING, NULL, 0, 0);
}

static int greet(smtp_client *c, int cmd, const char *domain, size_t len)
{
    static const char *const verbs[] = {"EHLO ", "HELO "};
    smtp_piece p[2];
    int rc;
    wipe(c);
    rc = c->err ? -c->err : smtp_cmd_domain(domain, len);
    if (rc != 0)
        return rc;
    p[0].p = verbs[cmd == SMTP_C_HELO];
    p[0].n = 5;
    p[1].p = domain;
    p[1].n = len;
    if ((rc = queue(c, cmd, p, 2, SMTP_CMD_MAX)) != 0)
        return rc;
    memcpy(c->domain, domain, len);
    c->domainlen = len;
    return 0;
}

int smtp_client_ehlo(smtp_client *c, const char *domain, size_t len,
                     int helo_fallback)
{
    int rc = greet(c, SMTP_C_EHLO, domain, len);
    if (rc == 0)
        c->helo_fallback = helo_fallback;
    return rc;
}

int smtp_client_helo(smtp_client *c, const char *domain, size_t len)
{
    return greet(c, SMTP_C_HELO, domain, len);
}

static int envelope(smtp_client *c, int cmd, const char *addr, size_t len,
                    const char *params, size_t plen)
{
    smtp_piece p[SMTP_ENVELOPE_PIECES];
    int k, rc;
    wipe(c);
    if (c->err)
        return -c->err;
    rc = smtp_cmd_envelope(p, &k, cmd == SMTP_C_MAIL, addr, len, params, plen);
    if (rc != 0)
        return rc;
    if ((rc = queue(c, cmd, p, k, SMTP_CMD_MAX)) != 0)
        return rc;
    if (cmd == SMTP_C_MAIL) {
        c->mail_ok = 0;
        c->rcpt_ok = 0;
    }
    return 0;
}

int smtp_client_mail(smtp_client *c, const char *from, size_t len,
                     const char *params, size_t plen)
{
    return envelope(c, SMTP_C_MAIL, from, len, params, plen);
}

int smtp_client_rcpt(smtp_client *c, const char *to, size_t len,
                     const char *params, size_t plen)
{
    return envelope(c, SMTP_C_RCPT, to, len, params, plen);
}

static int simple(smtp_client *c, int cmd, const char *verb)
{
    smtp_piece p;
    p.p = verb;
    p.n = strlen(verb);
    return queue(c, cmd, &p, 1, SMTP_CMD_MAX);
}

int smtp_client_data(smtp_client *c) { return simple(c, SMTP_C_DATA, "DATA"); }
int smtp_client_rset(smtp_client *c) { return simple(c, SMTP_C_RSET, "RSET"); }
int smtp_client_noop(smtp_client *c) { return simple(c, SMTP_C_NOOP, "NOOP"); }
int smtp_client_quit(smtp_client *c) { return simple(c, SMTP_C_QUIT, "QUIT"); }

/* The start of AUTH PLAIN and AUTH LOGIN: the old secrets wiped, then 0,
 * the sticky error, or what is wrong with the credentials. */
static int auth_start(smtp_client *c, const char *user, size_t ulen, const char *pass,
                      size_t plen)
{
    int rc;
    wipe(c);
    if (c->err)
        return -c->err;
    if (ulen == 0)
        return -SMTP_E_ARG_EMPTY;
    if ((rc = smtp_cmd_check(user, ulen)) != 0)
        return rc;
    if (ulen > SMTP_CRED_MAX || plen > SMTP_CRED_MAX)
        return -SMTP_E_ARG_TOO_LONG;
    if (memchr(pass, '\0', plen) != NULL)
        return -SMTP_E_ARG_NUL;
    return 0;
}

/* AUTH PLAIN with the initial response (RFC 4616, RFC 4954 4). */
int smtp_client_auth_plain(smtp_client *c, const char *user, size_t ulen,
                           const char *pass, size_t plen)
{
    unsigned char msg[2 * SMTP_CRED_MAX + 2];
    char b64[MIME_B64_LEN(sizeof msg)];
    smtp_piece p[2];
    size_t n;
    int rc;
    if ((rc = auth_start(c, user, ulen, pass, plen)) != 0)
        return rc;
    msg[0] = '\0';
    memcpy(msg + 1, user, ulen);
    msg[1 + ulen] = '\0';
    memcpy(msg + 2 + ulen, pass, plen);
    n = mime_b64_encode(msg, 2 + ulen + plen, b64);
    p[0].p = "AUTH PLAIN ";
    p[0].n = 11;
    p[1].p = b64;
    p[1].n = n;
    rc = queue(c, SMTP_C_AUTH, p, 2, SMTP_AUTH_CMD_MAX);
    if (rc == 0)
        c->secret = c->outlen;
    burn(msg, 2 + ulen + plen);
    burn(b64, n);
    return rc;
}

/* AUTH LOGIN: user and password each answer a 334 challenge. */
int smtp_client_auth_login(smtp_client *c, const char *user, size_t ulen,
                           const char *pass, size_t plen)
{
    char b64[MIME_B64_LEN(SMTP_CRED_MAX)];
    smtp_piece p;
    size_t n;
    int rc;
    if ((rc = auth_start(c, user, ulen, pass, plen)) != 0)
        return rc;
    if ((rc = admit(c, SMTP_C_AUTH)) != 0)
        return rc;
    p.p = b64;
    p.n = n = mime_b64_encode((const unsigned char *)user, ulen, b64);
    c->authlen = c->authpos = 0;
    rc = smtp_cmd_format(c->auth, sizeof c->auth, &c->authlen, &p, 1,
                         SMTP_AUTH_CMD_MAX);
    burn(b64, n);
    p.n = n = mime_b64_encode((const unsigned char *)pass, plen, b64);
    if (rc == 0)
        rc = smtp_cmd_format(c->auth, sizeof c->auth, &c->authlen, &p, 1,
                             SMTP_AUTH_CMD_MAX);
    burn(b64, n);
    if (rc == 0)
        rc = simple(c, SMTP_C_AUTH, "AUTH LOGIN");
    if (rc != 0)
        wipe_auth(c);
    return rc;
}

int smtp_client_starttls(smtp_client *c)
{
    return simple(c, SMTP_C_STARTTLS, "STARTTLS");
}

int smtp_client_tls_done(smtp_client *c)
{
    wipe(c);
    if (c->err)
        return -c->err;
    if (FIND_MOVE(event_moves, EV_TLS_DONE, c->state) == NULL)
        return -SMTP_E_BAD_STATE;
    /* nothing from before the handshake is trusted: not a byte of input,
     * not a capability */
    c->inpos = c->inlen = 0;
    smtp_caps_init(&c->caps);
    event(c, EV_TLS_DONE);
    return 0;
}

static int answer(smtp_client *c, const char *line, size_t n, int secret);

/* RFC 4422 3.1: SASL mechanism names. */
static int check_mech(const char *mech, size_t n)
{
    size_t i;
    if (n == 0)
        return -SMTP_E_ARG_EMPTY;
    if (n > 20)
        return -SMTP_E_ARG_TOO_LONG;
    for (i = 0; i < n; i++) {
        char ch = mech[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return -SMTP_E_ARG_SYNTAX;
    }
    return 0;
}

int smtp_client_auth(smtp_client *c, const char *mech, size_t mlen,
                     const unsigned char *ir, size_t irlen, int has_ir)
{
    char b64[MIME_B64_LEN(SMTP_CRED_MAX * 2)];
    smtp_piece p[4];
    size_t n = 0;
    int rc, k = 0;
    wipe(c);
    rc = c->err ? -c->err : check_mech(mech, mlen);
    if (rc != 0)
        return rc;
    if (has_ir && irlen > SMTP_CRED_MAX * 2)
        return -SMTP_E_ARG_TOO_LONG;
    p[k].p = "AUTH ";
    p[k++].n = 5;
    p[k].p = mech;
    p[k++].n = mlen;
    if (has_ir) {
        n = irlen > 0 ? mime_b64_encode(ir, irlen, b64) : 0;
        p[k].p = " ";
        p[k++].n = 1;
        p[k].p = irlen > 0 ? b64 : "=";
        p[k++].n = irlen > 0 ? n : 1;
    }
    rc = queue(c, SMTP_C_AUTH, p, k, SMTP_AUTH_CMD_MAX);
    if (rc == 0) {
        c->sasl = 1;
        if (has_ir)
            c->secret = c->outlen;
    }
    burn(b64, n);
    return rc;
}

int smtp_client_auth_response(smtp_client *c, const unsigned char *data,
                              size_t len)
{
    char b64[MIME_B64_LEN(SMTP_CRED_MAX * 2)];
    size_t n;
    wipe(c);
    if (c->err)
        return -c->err;
    if (!c->challenge)
        return -SMTP_E_BAD_STATE;
    if (len > SMTP_CRED_MAX * 2 || c->outlen + MIME_B64_LEN(len) + 2 > sizeof c->out)
        return -SMTP_E_ARG_TOO_LONG;
    n = mime_b64_encode(data, len, b64);
    answer(c, b64, n, 1); /* fits: checked above */
    burn(b64, n);
    c->challenge = 0;
    return 0;
}

int smtp_client_auth_cancel(smtp_client *c)
{
    wipe(c);
    if (c->err)
        return -c->err;
    if (!c->challenge)
        return -SMTP_E_BAD_STATE;
    answer(c, "*", 1, 0);
    c->challenge = 0;
    return 0;
}

size_t smtp_client_body(smtp_client *c, const char *in, size_t n)
{
    size_t used = 0, room;
    wipe(c);
    if (c->state != SMTP_S_BODY)
        return 0;
    /* keep room for the end-of-data marker */
    room = SMTP_OUT_MAX - 5 - c->outlen;
    c->outlen += mime_body_update(&c->body, in, n, &used, c->out + c->outlen, room);
    return used;
}

int smtp_client_body_error(const smtp_client *c, size_t *linelen, int *open)
{
    if (c->state != SMTP_S_BODY)
        return 0;
    if (mime_body_nul(&c->body) != 0) {
        if (linelen != NULL)
            *linelen = mime_body_nul(&c->body);
        if (open != NULL)
            *open = 0;
        return SMTP_E_CONTENT_NUL;
    }
    if (mime_body_over(&c->body) == 0)
        return 0;
    if (linelen != NULL)
        *linelen = mime_body_over(&c->body);
    if (open != NULL)
        *open = mime_body_over_open(&c->body);
    return SMTP_E_LINE_TOO_LONG;
}

size_t smtp_client_body_error_text(const smtp_client *c, char *buf, size_t n)
{
    size_t len = 0;
    int open = 0, rc = smtp_client_body_error(c, &len, &open), w;
    if (rc == SMTP_E_CONTENT_NUL)
        w = snprintf(buf, n, "message content has a NUL byte at octet %lu (RFC 5322 3.5; "
                     "send binary data encoded, e.g. encoding = \"base64\")", (unsigned long)len);
    else if (rc == SMTP_E_LINE_TOO_LONG)
        w = snprintf(buf, n, "message content has a line of %s%lu octets, over the limit of "
                     "%d (RFC 5321 4.5.3.1.6)", open ? "at least " : "", (unsigned long)len,
                     MIME_BODY_LINE_MAX);
    else
        w = snprintf(buf, n, "%s", "");
    return w < 0 ? 0 : (size_t)w;
}

int smtp_client_body_end(smtp_client *c)
{
    int rc = smtp_client_body_error(c, NULL, NULL);
    if (rc != 0)
        return -rc; /* such content is never ended: close the connection */
    rc = admit(c, SMTP_C_EOD);
    if (rc != 0)
        return rc;
    c->outlen += mime_body_finish(&c->body, c->out + c->outlen,
                                  SMTP_OUT_MAX - c->outlen);
    push(c, SMTP_C_EOD);
    set_state(c, transitions[SMTP_C_EOD][c->state]);
    return 0;
}

int smtp_client_lost(smtp_client *c)
{
    wipe(c);
    if (c->err)
        return -c->err;
    if (c->state < 0 || c->state >= SMTP_S__COUNT ||
        transitions[SMTP_C_LAST][c->state] == 0)
        return -SMTP_E_BAD_STATE;
    /* nothing more will be written: no credential may stay behind */
    wipe_auth(c);
    burn(c->out, c->outlen);
    c->outlen = c->secret = 0;
    c->sasl = c->challenge = 0;
    /* positive replies to what was written may still come first */
    c->skip_left = c->pcount + SMTP_LOST_SKIP_MAX;
    c->phead = c->pcount = 0;
    push(c, SMTP_C_LAST);
    set_state(c, transitions[SMTP_C_LAST][c->state]);
    return 0;
}

int smtp_client_feed(smtp_client *c, const char *buf, size_t len)
{
    wipe(c);
    if (c->err)
        return -c->err;
    if (len == 0) {
        c->eof = 1;
        return 0;
    }
    if (c->inpos > 0) {
        memmove(c->in, c->in + c->inpos, c->inlen - c->inpos);
        c->inlen -= c->inpos;
        c->inpos = 0;
    }
    if (len > SMTP_IN_MAX - c->inlen)
        return fail(c, SMTP_E_INPUT_OVERFLOW);
    memcpy(c->in + c->inlen, buf, len);
    c->inlen += len;
    return 0;
}

/* Write a line we answer a reply with (AUTH steps, the "." after a
 * pointless 354), line[0..n) without its CRLF, through the one formatter.
 * The output is empty when a reply is read, and auth_response checks the
 * room it needs, so it always fits. secret: the line holds credentials. */
static int answer(smtp_client *c, const char *line, size_t n, int secret)
{
    smtp_piece p;
    int rc;
    p.p = line;
    p.n = n;
    rc = smtp_cmd_format(c->out, sizeof c->out, &c->outlen, &p, 1, SMTP_AUTH_CMD_MAX);
    if (rc == 0 && secret)
        c->secret = c->outlen;
    return rc;
}

enum {
    DELIVER,   /* the caller sees the reply */
    ANSWER,    /* answered for the same command: its reply is still to come */
    HIDE,      /* a reply to something the caller did not ask for */
    CHALLENGE, /* a 334 the caller answers: its command stays at the head */
    SKIP       /* shown as SKIPPED: its command stays at the head */
};

/* A complete reply to the command at the head of the queue: correct the
 * state, answer it if the protocol says so, and say whether the caller
 * sees it. */
static int on_reply(smtp_client *c, int *ok)
{
    int cmd = head(c), code = c->reply.code, klass = code / 100;
    *ok = (klass == 2);
    switch (cmd) {
    case SMTP_C_GREETING:
        break;
    case SMTP_C_EHLO:
        if (klass == 2) {
            smtp_caps_parse(&c->caps, c->reply.text, c->reply.len);
        } else if (klass == 5 && c->helo_fallback) {
            /* RFC 5321 3.2: an old server; try HELO instead */
            smtp_piece p[2];
            p[0].p = "HELO ";
            p[0].n = 5;
            p[1].p = c->domain;
            p[1].n = c->domainlen;
            smtp_cmd_format(c->out, sizeof c->out, &c->outlen, p, 2, SMTP_CMD_MAX);
            c->pend[c->phead] = SMTP_C_HELO;
            return ANSWER;
        }
        break;
    case SMTP_C_HELO:
        if (klass == 2)
            smtp_caps_init(&c->caps);
        break;
    case SMTP_C_AUTH:
        if (code == 334 && c->sasl)
            return c->reply.nlines == 1 ? CHALLENGE : (fail(c, SMTP_E_REPLY_SYNTAX), HIDE);
        if (code == 334) {
            const char *line = c->auth + c->authpos, *end = c->auth + c->authlen;
            const char *nl = memchr(line, '\n', (size_t)(end - line));
            if (nl != NULL) {
                /* a line formatted by auth_login: sent without its CRLF,
                 * which the formatter puts back */
                answer(c, line, (size_t)(nl - 1 - line), 1);
                c->authpos += (size_t)(nl + 1 - line);
            } else {
                answer(c, "*", 1, 0); /* nothing left to say: cancel */
            }
            return ANSWER;
        }
        *ok = (code == 235);
        c->sasl = 0;
        wipe_auth(c);
        break;
    case SMTP_C_STARTTLS:
        *ok = (code == 220);
        if (*ok) {
            /* RFC 3207 5: whatever came after the 220 was sent in clear
             * text before the handshake; it is dropped, never parsed */
            c->discarded += c->inlen - c->inpos;
            c->inpos = c->inlen;
        }
        break;
    case SMTP_C_MAIL:
        c->mail_ok = *ok;
        break;
    case SMTP_C_RCPT:
        if (*ok)
            c->rcpt_ok++;
        break;
    case SMTP_C_DATA:
        *ok = (code == 354);
        if (*ok && (!c->mail_ok || c->rcpt_ok == 0)) {
            /* RFC 2920 3.1: a 354 after MAIL or every RCPT failed (they
             * were pipelined) is answered with an empty message. */
            answer(c, ".", 1, 0);
            push(c, SMTP_C_EOD_ABORT); /* its reply is not shown */
            reply_move(c, cmd, R_OK_EMPTY);
            *ok = 0;
            return DELIVER;
        }
        if (*ok) {
            mime_body_init(&c->body);
        } else if (c->mail_ok) {
            reply_move(c, cmd, R_REFUSED_TXN);
            return DELIVER;
        }
        break;
    case SMTP_C_EOD:
    case SMTP_C_RSET:
        c->mail_ok = 0;
        c->rcpt_ok = 0;
        break;
    case SMTP_C_EOD_ABORT:
        return HIDE;
    case SMTP_C_LAST:
        *ok = 0; /* the connection is gone, whatever the code */
        if (code < 400) {
            /* a positive reply is not why it broke: not the last word */
            if (c->skip_left == 0) {
                fail(c, SMTP_E_UNEXPECTED_DATA); /* a stream of them */
                return HIDE;
            }
            c->skip_left--;
            reply_move(c, cmd, R_OK);
            return SKIP;
        }
        break;
    case SMTP_C_QUIT:
    case SMTP_C_NOOP:
    default:
        break;
    }
    reply_move(c, cmd, *ok ? R_OK : R_REFUSED);
    return DELIVER;
}

smtp_act smtp_client_next(smtp_client *c, smtp_event *ev)
{
    wipe(c);
    for (;;) {
        size_t used;
        int rc, ok, what;
        if (c->err) {
            ev->err = c->err;
            return SMTP_ACT_ERROR;
        }
        if (c->outlen > 0) {
            ev->data = c->out;
            ev->len = c->outlen;
            c->outlen = 0;
            ev->secret = c->secret; /* for transcripts: what to hide */
            /* wiped at the next call, once the caller has copied it */
            c->wipe = c->secret > 0 ? ev->len : 0;
            c->secret = 0;
            return SMTP_ACT_WRITE;
        }
        if (c->pcount == 0 || c->challenge)
            return SMTP_ACT_IDLE; /* (a challenge waits for its answer) */
        if (c->reply_taken) {
            smtp_reply_init(&c->reply);
            c->reply_taken = 0;
        }
        if (c->inpos == c->inlen) {
            if (c->eof) {
                fail(c, SMTP_E_PEER_CLOSED);
                continue;
            }
            c->inpos = c->inlen = 0;
            ev->want = SMTP_IN_MAX;
            return SMTP_ACT_READ;
        }
        rc = smtp_reply_parse(&c->reply, c->in + c->inpos, c->inlen - c->inpos, &used);
        if (rc < 0) {
            fail(c, -rc);
            continue;
        }
        c->inpos += used;
        if (rc == SMTP_REPLY_MORE)
            continue; /* all input taken: READ next time round */
        c->reply_taken = 1;
        what = on_reply(c, &ok);
        if (what == ANSWER)
            continue; /* same command, answered: WRITE, then READ */
        if (c->err)
            continue;
        if (what == CHALLENGE) {
            /* "334 text": the text; "334" alone: an empty challenge */
            c->challenge = 1;
            ev->cmd = SMTP_C_AUTH;
            ev->reply = &c->reply;
            ev->data = c->reply.len > 4 ? c->reply.text + 4 : "";
            ev->len = c->reply.len > 4 ? c->reply.len - 4 : 0;
            return SMTP_ACT_CHALLENGE;
        }
        if (what == SKIP) {
            ev->cmd = SMTP_C_SKIPPED; /* LAST stays at the head */
            ev->ok = ok;
            ev->reply = &c->reply;
            return SMTP_ACT_REPLY;
        }
        ev->cmd = head(c);
        pop(c);
        if (what != DELIVER)
            continue; /* a hidden reply */
        ev->ok = ok;
        ev->reply = &c->reply;
        return SMTP_ACT_REPLY;
    }
}
