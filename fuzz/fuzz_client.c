/*
 * fuzz_client.c -- libFuzzer target for smtp_client (the session engine).
 *
 * Input: byte 0 = session flags (below); bytes 1..8 = the sizes in which
 * the server's bytes are fed (cycled; 0 means "as much as the READ
 * wants"); with F_SASL, byte 9 = the length S of a client script and
 * bytes 10..10+S = the script; the rest = everything the server sends.
 *
 * Flags: 1 HELO fallback; 2 AUTH PLAIN; 4 AUTH LOGIN; 2|4 = F_SASL:
 * smtp_client_auth with a mechanism, initial response and answers to
 * each challenge taken from the script; 8 RSET first; 16 second
 * recipient; 32 large body; 64 second message; 128 STARTTLS after the
 * first successful EHLO/HELO (always sent, offered or not, so that
 * refusals are exercised too).
 *
 * Script (F_SASL; a byte past its end reads as 0): at AUTH one byte m:
 * m&7 picks the mechanism (0..6 a valid name from a table, 7 = raw: a
 * length byte % 23 and that many script bytes, valid or not), m&8 sends
 * an initial response: m&32 the longest one allowed (SMTP_CRED_MAX*2
 * bytes of every value), else m&64 an empty one, else a length byte and
 * that many script bytes; m&16 first tries an over-long one. At each
 * challenge one byte r: r&7 == 7 cancels; else r&8 first tries an
 * over-long answer, and the answer is r&16 the longest one allowed, else
 * a length byte and that many script bytes (CR, LF, NUL included).
 *
 * Lost connection: an input that ends with "\0LOST" and a byte k has those
 * 6 bytes cut from the server's stream, and the write number k (from 0)
 * "fails": right after it the client calls smtp_client_lost() and queues
 * nothing more. Then no WRITE comes, no queue call is allowed, every
 * REPLY is SKIPPED (code below 400) or LAST (400 or more), never ok, at
 * most the replies due plus SMTP_LOST_SKIP_MAX are SKIPPED, and after LAST
 * the engine is IDLE for good (or it stops with a sticky error).
 *
 * STARTTLS handshake: on the 220 the client checks state TLS, nothing
 * pending, all input consumed (what was buffered counts in discarded),
 * next() IDLE and every queue call refused with nothing changed. The
 * server stream then goes on after the first "\0TLS\0" marker found
 * after the end of the 220 (or right after the 220 when there is none):
 * what lies before it was "sent in clear text before the handshake" and
 * is never fed again. tls_done must return 0, leave state GREETED, no
 * capabilities and no input, and EHLO is sent again; the next thing after
 * its WRITE must be a READ, so no REPLY can come from bytes the engine held
 * at the 220. Both runs resume at the same stream offset: the pieces run
 * may have read past the 220 (and past the marker), and the engine
 * dropped all of it, so the feeding rewinds to that offset. The end of the
 * 220 that the engine implies (bytes fed minus discarded; byte by byte
 * discarded must be 0) and the resume offset are recorded, so the engine's
 * discarded count is compared between runs through them, not directly.
 *
 * A small client drives a whole session (greeting, EHLO, STARTTLS, AUTH,
 * MAIL, RCPT, DATA, body, QUIT), deciding from each REPLY what to queue
 * next, queueing ahead when PIPELINING is offered, and answering every
 * READ from the server's bytes (then EOF).
 *
 * Invariant: whatever the server sends, the engine never WRITEs a bare CR
 * or LF (so nothing the server says can make it inject a command or end
 * the data early) nor a NUL (none is in what this client passes), every
 * WRITE is 1..SMTP_OUT_MAX bytes, every READ wants
 * 1..SMTP_IN_MAX, every REPLY is well-formed (cmd is a command the caller
 * sent, code 200..599, text bounded and CR-free, ok only for a positive
 * code), every counter stays in bounds, the session ends (no endless
 * loop), and an ERROR is a peer/driver fault that is sticky: next(), feed()
 * and every queue call return it from then on -- never a crash, UB or
 * growth past the bounds.
 * AUTH: the AUTH line, STARTTLS and every answer to a 334 are exactly the
 * bytes expected (responses base64-encoded by an independent encoder, "*"
 * for a cancel; LOGIN's user and password lines, then "*"); a WRITE holds
 * credentials (the engine arms its wipe) exactly when it is the AUTH PLAIN
 * line, an AUTH line with an initial response, or an answer that is not
 * "*"; at the next engine call those bytes of the output block are zero
 * (that call is, alternately, next() -- minus what a new WRITE put there
 * -- and auth_cancel()/tls_done() refused for the state); after an ERROR
 * no credential waits to be written. A CHALLENGE comes only for
 * smtp_client_auth, from a one-line 334, its data is the reply text after
 * "334 " (no CR or LF); while it waits next() is IDLE and every queue
 * call returns -SMTP_E_BAD_STATE and changes nothing; answers without a
 * challenge and over-long arguments are refused and change nothing; a bad
 * mechanism name is refused with ARG_EMPTY, ARG_TOO_LONG or ARG_SYNTAX.
 * The session is run twice, fed in the input's pieces and byte by byte;
 * the two transcripts are equal, except that fed in larger pieces the
 * engine may see a reply nobody asked for and stop with UNEXPECTED_DATA,
 * where the byte-by-byte run goes on with the same events before it.
 */
#include "fuzz_common.h"
#include "smtp/smtp_client.h"

enum {
    F_FALLBACK = 1, F_PLAIN = 2, F_LOGIN = 4, F_RSET = 8, F_RCPT2 = 16,
    F_BIGBODY = 32, F_TWICE = 64, F_STARTTLS = 128
};
#define F_SASL (F_PLAIN | F_LOGIN)

enum { I_GREETING, I_EHLO, I_STARTTLS, I_AUTH, I_RSET, I_MAIL, I_RCPT1, I_RCPT2, I_DATA,
       I_BODY, I_EOD, I_QUIT, I_RESP, I_CANCEL };

/* "\0TLS\0": where the stream goes on after the simulated handshake */
static const char tls_marker[5] = {'\0', 'T', 'L', 'S', '\0'};

#define B64LEN(n) ((((n) + 2) / 3) * 4)
#define BIG_CRED (SMTP_CRED_MAX * 2) /* the longest IR or answer allowed */
/* the longest WRITE the client predicts: "AUTH " mech(20) " " b64 CRLF */
#define EXPECT_MAX (5 + 20 + 1 + B64LEN(BIG_CRED) + 2)
/* smtp_client_auth must accept the longest initial response */
typedef char fuzz_auth_fits[(EXPECT_MAX <= SMTP_AUTH_CMD_MAX) ? 1 : -1];

typedef struct {
    int type; /* 'W' write, 'R' reply, 'E' error, 'Q' queue result,
               * 'C' challenge, 'T' TLS handshake */
    int a, b, c;
    uint64_t h;
} event;

typedef struct {
    smtp_client *c;
    const uint8_t *srv;
    size_t srv_len, srv_pos;
    const uint8_t *pattern;
    size_t pi;
    const uint8_t *script;
    size_t script_len, script_pos;
    int bytewise, eof_fed;
    int flags;
    int intents[32];
    int nint;
    size_t body_off;
    int messages;
    int tls_tried;        /* STARTTLS was sent (once per session) */
    int after_tls;        /* tls_done: the next non-WRITE must be a READ */
    int lost_at;          /* lost() after WRITE number lost_at; -1: never */
    int writes;           /* WRITEs so far */
    int lost;             /* lost() was called */
    int last_seen;        /* the LAST reply came */
    unsigned skip_max, skipped;
    size_t discarded0;    /* c->discarded when STARTTLS was queued */
    int in_auth;          /* AUTH queued, its final reply not seen yet */
    int auth_cmd;         /* the AUTH line itself is not written yet */
    int login_step;       /* PLAIN/LOGIN: answers the engine wrote */
    size_t cred_len;      /* the last WRITE held credentials: to be wiped */
    unsigned ncred;       /* credential WRITEs (parity: how the wipe is checked) */
    int expect_set, expect_secret;
    size_t expect_len;
    char expect[EXPECT_MAX];
    event *ev;
    size_t nev, maxev;
} session;

static const char body_unit[] = "Subject: fuzz\n\n.\r\n..\rline\n.\nend\r\n.";
static char big_body[20000];
static unsigned char big_cred[BIG_CRED + 1];
static smtp_client snap; /* the engine before calls that must change nothing */

static const char *const mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256",
                                    "XOAUTH2", "X-FUZZ_0", "ABCDEFGHIJ0123456789"};

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define FNV0 14695981039346656037ULL

/* An encoder independent of mime_enc.c (RFC 4648, padded). */
static size_t b64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = t[(v >> 6) & 63];
        out[o++] = t[v & 63];
    }
    if (n - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = t[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

/* FUZZ_CLIENT_TRACE=1 build/fuzz/fuzz_client <file> prints both runs */
static int trace = -1;

static void record(session *s, int type, int a, int b, int c, uint64_t h)
{
    if (trace < 0)
        trace = getenv("FUZZ_CLIENT_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "[%s] %c %d %d %d %016llx\n", s->bytewise ? "byte" : "pieces", type,
                a, b, c, (unsigned long long)h);
    if (s->nev < s->maxev) {
        event *e = &s->ev[s->nev++];
        e->type = type;
        e->a = a;
        e->b = b;
        e->c = c;
        e->h = h;
    }
}

static void intend(session *s, int what)
{
    if (s->nint < (int)(sizeof s->intents / sizeof s->intents[0]))
        s->intents[s->nint++] = what;
}

static unsigned script_byte(session *s)
{
    return s->script_pos < s->script_len ? s->script[s->script_pos++] : 0;
}

/* Up to *n script bytes (fewer at its end); never NULL. */
static const unsigned char *script_take(session *s, size_t *n)
{
    const unsigned char *p = s->script != NULL ? s->script + s->script_pos : big_cred;
    if (*n > s->script_len - s->script_pos)
        *n = s->script_len - s->script_pos;
    s->script_pos += *n;
    return p;
}

/* The next WRITE must be exactly these bytes (pieces joined), holding
 * credentials or not. Set only with nothing else in the output block. */
static void expect(session *s, int secret, const char *p1, size_t n1, const unsigned char *enc,
                   size_t nenc, int eq, const char *p3, size_t n3)
{
    size_t n = 0;
    memcpy(s->expect, p1, n1);
    n += n1;
    if (eq) {
        s->expect[n++] = '=';
    } else if (enc != NULL) {
        n += b64(enc, nenc, s->expect + n);
    }
    memcpy(s->expect + n, p3, n3);
    n += n3;
    s->expect_len = n;
    s->expect_set = 1;
    s->expect_secret = secret;
    /* the line just queued is all the block holds */
    CHECK(s->c->outlen == n);
}

/* Take a picture of the engine before a call that must change nothing;
 * every call first wipes what the last WRITE's credentials left, so the
 * picture does too. */
static void snap_take(const smtp_client *c)
{
    memcpy(&snap, c, sizeof snap);
    if (snap.wipe > 0) {
        memset(snap.out, 0, snap.wipe);
        snap.wipe = 0;
    }
}

static void snap_same(const smtp_client *c)
{
    CHECK(memcmp(&snap, c, sizeof snap) == 0);
}

static void mail_sequence(session *s)
{
    if (s->flags & F_RSET)
        intend(s, I_RSET);
    intend(s, I_MAIL);
    intend(s, I_RCPT1);
    if (s->flags & F_RCPT2)
        intend(s, I_RCPT2);
    intend(s, I_DATA);
}

/* After a successful EHLO/HELO, or a refused STARTTLS. */
static void after_hello(session *s)
{
    if ((s->flags & F_STARTTLS) && !s->tls_tried)
        intend(s, I_STARTTLS);
    else if (s->flags & (F_PLAIN | F_LOGIN))
        intend(s, I_AUTH);
    else
        mail_sequence(s);
}

static void body_source(session *s, const char **p, size_t *n)
{
    if (s->flags & F_BIGBODY) {
        *p = big_body;
        *n = sizeof big_body;
    } else {
        *p = body_unit;
        *n = sizeof body_unit - 1;
    }
}

/* RFC 4422 3.1, as smtp_client.h states it: 1 to 20 of A-Z 0-9 - _. */
static int mech_rc(const char *m, size_t n)
{
    size_t i;
    if (n == 0)
        return -SMTP_E_ARG_EMPTY;
    if (n > 20)
        return -SMTP_E_ARG_TOO_LONG;
    for (i = 0; i < n; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= '0' && m[i] <= '9') || m[i] == '-' ||
              m[i] == '_'))
            return -SMTP_E_ARG_SYNTAX;
    return 0;
}

/* Answers without a challenge are refused and change nothing. */
static void check_no_answer(smtp_client *c)
{
    snap_take(c);
    CHECK(smtp_client_auth_response(c, (const unsigned char *)"x", 1) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_auth_cancel(c) == -SMTP_E_BAD_STATE);
    snap_same(c);
}

/* In state TLS or while a challenge waits: next() is IDLE and every queue
 * call is refused, changing nothing. */
static void check_refused(smtp_client *c, int in_tls)
{
    smtp_event ev;
    snap_take(c);
    memset(&ev, 0, sizeof ev);
    CHECK(smtp_client_next(c, &ev) == SMTP_ACT_IDLE);
    CHECK(smtp_client_greeting(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_ehlo(c, "x.example", 9, 1) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_helo(c, "x.example", 9) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_mail(c, "a@b", 3, "", 0) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_rcpt(c, "c@d", 3, "", 0) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_data(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_rset(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_noop(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_quit(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_auth_plain(c, "u", 1, "p", 1) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_auth_login(c, "u", 1, "p", 1) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_auth(c, "PLAIN", 5, (const unsigned char *)"\0u\0p", 4, 1) ==
          -SMTP_E_BAD_STATE);
    CHECK(smtp_client_starttls(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_body_end(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_body(c, "x", 1) == 0);
    if (in_tls) {
        CHECK(smtp_client_auth_response(c, (const unsigned char *)"x", 1) == -SMTP_E_BAD_STATE);
        CHECK(smtp_client_auth_cancel(c) == -SMTP_E_BAD_STATE);
    } else {
        CHECK(smtp_client_tls_done(c) == -SMTP_E_BAD_STATE);
    }
    CHECK(smtp_client_next(c, &ev) == SMTP_ACT_IDLE);
    snap_same(c);
}

/* The AUTH line was queued: its reply ends the exchange. */
static void auth_queued(session *s)
{
    s->in_auth = 1;
    s->auth_cmd = 1;
    s->login_step = 0;
}

/* smtp_client_auth with a mechanism and initial response from the script. */
static int issue_sasl(session *s)
{
    smtp_client *c = s->c;
    unsigned m = script_byte(s);
    const char *mech;
    size_t mlen;
    const unsigned char *ir = NULL;
    size_t irlen = 0;
    int has_ir = (m & 8) != 0, want, rc;
    if ((m & 7) == 7) {
        mlen = script_byte(s) % 23;
        mech = (const char *)script_take(s, &mlen);
    } else {
        mech = mechs[m & 7];
        mlen = strlen(mech);
    }
    if (has_ir) {
        if (m & 32) {
            ir = big_cred;
            irlen = BIG_CRED;
        } else if (m & 64) {
            ir = (const unsigned char *)"";
        } else {
            irlen = script_byte(s);
            ir = script_take(s, &irlen);
        }
    }
    want = mech_rc(mech, mlen);
    CHECK(c->outlen == 0); /* nothing queued behind an EHLO reply */
    if (want == 0 && (m & 16)) {
        snap_take(c);
        rc = smtp_client_auth(c, mech, mlen, big_cred, BIG_CRED + 1, 1);
        record(s, 'Q', I_AUTH, rc, 1, 0);
        CHECK(rc == -SMTP_E_ARG_TOO_LONG);
        snap_same(c);
    }
    snap_take(c);
    rc = smtp_client_auth(c, mech, mlen, ir, irlen, has_ir);
    record(s, 'Q', I_AUTH, rc, (int)mlen, fnv(ir, irlen, fnv(mech, mlen, FNV0)));
    if (want != 0) {
        CHECK(rc == want);
        snap_same(c);
        mail_sequence(s); /* no AUTH after all: go on without */
        return 1;
    }
    if (rc != 0) {
        /* only the sticky error of data nobody asked for */
        CHECK(!smtp_err_is_caller(-rc) && rc == -c->err);
        return -1;
    }
    CHECK(c->sasl == 1 && c->challenge == 0);
    {
        char head[5 + 20 + 1];
        memcpy(head, "AUTH ", 5);
        memcpy(head + 5, mech, mlen);
        head[5 + mlen] = ' ';
        if (has_ir)
            expect(s, 1, head, 6 + mlen, irlen > 0 ? ir : NULL, irlen, irlen == 0, "\r\n", 2);
        else
            expect(s, 0, head, 5 + mlen, NULL, 0, 0, "\r\n", 2);
    }
    auth_queued(s);
    check_no_answer(c); /* nothing to answer yet */
    return 1;
}

/* Queue intents[0]; 1 when done with it, 0 to wait (BUSY or block full),
 * -1 when the engine returned a sticky error. */
static int issue(session *s)
{
    smtp_client *c = s->c;
    int rc, was_empty = c->outlen == 0;
    switch (s->intents[0]) {
    case I_GREETING: rc = smtp_client_greeting(c); break;
    case I_EHLO: rc = smtp_client_ehlo(c, "client.example", 14, s->flags & F_FALLBACK); break;
    case I_STARTTLS:
        rc = smtp_client_starttls(c);
        s->tls_tried = 1;
        break;
    case I_AUTH:
        if ((s->flags & F_SASL) == F_SASL)
            return issue_sasl(s);
        rc = (s->flags & F_LOGIN) ? smtp_client_auth_login(c, "user", 4, "pass\r\nRSET", 10)
                                  : smtp_client_auth_plain(c, "user", 4, "pass", 4);
        break;
    case I_RSET: rc = smtp_client_rset(c); break;
    case I_MAIL: rc = smtp_client_mail(c, "Alice <a@example.com>", 21, "", 0); break;
    case I_RCPT1: rc = smtp_client_rcpt(c, "b@example.net", 13, "", 0); break;
    case I_RCPT2: rc = smtp_client_rcpt(c, "<c@example.net>", 15, "NOTIFY=NEVER", 12); break;
    case I_DATA: rc = smtp_client_data(c); break;
    case I_BODY: {
        const char *p;
        size_t n, taken;
        if (c->state != SMTP_S_BODY)
            return 1; /* DATA was refused after all */
        body_source(s, &p, &n);
        taken = smtp_client_body(c, p + s->body_off, n - s->body_off);
        s->body_off += taken;
        return s->body_off == n;
    }
    case I_EOD: rc = smtp_client_body_end(c); break;
    case I_QUIT: rc = smtp_client_quit(c); break;
    default: return 1;
    }
    if (rc == -SMTP_E_BUSY)
        return 0; /* not recorded: how often it is retried depends on feeding */
    record(s, 'Q', s->intents[0], rc, 0, 0);
    if (rc != 0 && !smtp_err_is_caller(-rc)) {
        CHECK(rc == -c->err);
        return -1;
    }
    /* a refusal must be one of the documented caller faults */
    CHECK(rc == 0 || rc == -SMTP_E_BAD_STATE);
    if (rc == 0 && s->intents[0] == I_STARTTLS) {
        CHECK(was_empty && c->state == SMTP_S_TLS);
        s->discarded0 = c->discarded;
        expect(s, 0, "STARTTLS\r\n", 10, NULL, 0, 0, "", 0);
    } else if (rc == 0 && s->intents[0] == I_AUTH) {
        static const unsigned char plain[] = "\0user\0pass";
        CHECK(was_empty);
        if (s->flags & F_LOGIN)
            expect(s, 0, "AUTH LOGIN\r\n", 12, NULL, 0, 0, "", 0);
        else
            expect(s, 1, "AUTH PLAIN ", 11, plain, sizeof plain - 1, 0, "\r\n", 2);
        auth_queued(s);
    }
    return 1;
}

static void check_zero(const char *p, size_t from, size_t to);

/* The write number lost_at "failed": the server closed. */
static void lose(session *s)
{
    smtp_client *c = s->c;
    unsigned due = smtp_client_pending(c);
    size_t held = c->outlen; /* queued, not written: dropped and wiped */
    int rc = smtp_client_lost(c);
    record(s, 'L', rc, (int)due, 0, 0);
    if (rc != 0) {
        CHECK(rc == -c->err && !smtp_err_is_caller(-rc));
        return;
    }
    s->lost = 1;
    s->nint = 0; /* nothing more is queued */
    s->expect_set = 0;
    s->skip_max = due + SMTP_LOST_SKIP_MAX;
    CHECK(c->state == SMTP_S_LOST && smtp_client_pending(c) == 1);
    CHECK(c->outlen == 0 && c->secret == 0 && c->authlen == 0 && c->challenge == 0);
    check_zero(c->out, 0, held);
    snap_take(c);
    CHECK(smtp_client_mail(c, "a@b", 3, "", 0) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_quit(c) == -SMTP_E_BAD_STATE);
    CHECK(smtp_client_lost(c) == -SMTP_E_BAD_STATE);
    snap_same(c);
}

/* A REPLY after lost(): SKIPPED below 400, LAST from 400, never ok. */
static void lost_reply(session *s, const smtp_event *ev)
{
    CHECK(!s->last_seen && !ev->ok);
    if (ev->cmd == SMTP_C_SKIPPED) {
        CHECK(ev->reply->code < 400);
        CHECK(++s->skipped <= s->skip_max);
    } else {
        CHECK(ev->cmd == SMTP_C_LAST && ev->reply->code >= 400);
        s->last_seen = 1;
    }
}

/* The 220 to STARTTLS: check the TLS state, simulate the handshake, and
 * resume the stream after the marker (see the header comment). */
static void tls_handshake(session *s)
{
    smtp_client *c = s->c;
    size_t dropped = c->discarded - s->discarded0, end, resume, i;
    CHECK(c->state == SMTP_S_TLS && smtp_client_pending(c) == 0);
    CHECK(c->inpos == c->inlen); /* nothing left to parse */
    CHECK(!s->eof_fed);
    CHECK(dropped <= s->srv_pos);
    if (s->bytewise)
        CHECK(dropped == 0); /* fed a byte at a time, nothing was read ahead */
    end = s->srv_pos - dropped;
    CHECK(end > 0 && s->srv[end - 1] == '\n'); /* where the 220 ended */
    check_refused(c, 1);
    resume = end;
    for (i = end; i + sizeof tls_marker <= s->srv_len; i++) {
        if (memcmp(s->srv + i, tls_marker, sizeof tls_marker) == 0) {
            resume = i + sizeof tls_marker;
            break;
        }
    }
    s->srv_pos = resume;
    CHECK(smtp_client_tls_done(c) == 0);
    CHECK(c->state == SMTP_S_GREETED && smtp_client_pending(c) == 0);
    CHECK(c->caps.ext == 0 && c->caps.mechs == 0 && c->caps.len == 0);
    CHECK(c->inlen == 0 && c->inpos == 0);
    CHECK(smtp_client_tls_done(c) == -SMTP_E_BAD_STATE);
    record(s, 'T', (int)end, (int)resume, 0, 0);
    s->after_tls = 1;
    intend(s, I_EHLO);
}

static void decide(session *s, const smtp_event *ev)
{
    switch (ev->cmd) {
    case SMTP_C_GREETING:
        intend(s, ev->ok ? I_EHLO : I_QUIT);
        break;
    case SMTP_C_EHLO:
    case SMTP_C_HELO:
        if (!ev->ok)
            intend(s, I_QUIT);
        else
            after_hello(s);
        break;
    case SMTP_C_STARTTLS:
        if (ev->ok) {
            tls_handshake(s);
        } else {
            CHECK(s->c->state == SMTP_S_READY);
            CHECK(smtp_client_tls_done(s->c) == -SMTP_E_BAD_STATE);
            after_hello(s);
        }
        break;
    case SMTP_C_AUTH:
        CHECK(s->in_auth && !s->auth_cmd);
        s->in_auth = 0;
        CHECK(s->c->sasl == 0 && s->c->challenge == 0 && s->c->authlen == 0);
        mail_sequence(s);
        break;
    case SMTP_C_MAIL:
        if (!ev->ok)
            intend(s, I_QUIT);
        break;
    case SMTP_C_DATA:
        if (ev->ok) {
            s->body_off = 0;
            intend(s, I_BODY);
            intend(s, I_EOD);
        } else {
            intend(s, I_QUIT);
        }
        break;
    case SMTP_C_EOD:
        if ((s->flags & F_TWICE) && ++s->messages < 2)
            mail_sequence(s);
        else
            intend(s, I_QUIT);
        break;
    default:
        break;
    }
}

/* A 334 to smtp_client_auth: check it, then answer from the script. */
static void on_challenge(session *s, const smtp_event *ev)
{
    smtp_client *c = s->c;
    const smtp_reply *r = ev->reply;
    unsigned b;
    int rc;
    CHECK((s->flags & F_SASL) == F_SASL && s->in_auth && !s->auth_cmd);
    CHECK(ev->cmd == SMTP_C_AUTH);
    CHECK(r != NULL && r == &c->reply && r->code == 334 && r->nlines == 1);
    CHECK(r->len < SMTP_REPLY_MAX && r->text[r->len] == '\0');
    CHECK(c->challenge == 1 && c->sasl == 1 && c->outlen == 0);
    CHECK(c->pcount >= 1 && c->pend[c->phead] == SMTP_C_AUTH);
    if (ev->len > 0)
        CHECK(r->len > 4 && ev->data == r->text + 4 && ev->len == r->len - 4);
    else
        CHECK(r->len <= 4 && ev->data != NULL);
    CHECK(memchr(ev->data, '\r', ev->len) == NULL && memchr(ev->data, '\n', ev->len) == NULL);
    record(s, 'C', (int)ev->len, 0, 0, fnv(ev->data, ev->len, FNV0));
    check_refused(c, 0);

    b = script_byte(s);
    if ((b & 7) == 7) {
        rc = smtp_client_auth_cancel(c);
        record(s, 'Q', I_CANCEL, rc, 0, 0);
        CHECK(rc == 0);
        expect(s, 0, "*\r\n", 3, NULL, 0, 0, "", 0);
    } else {
        const unsigned char *p;
        size_t n;
        if (b & 8) {
            snap_take(c);
            rc = smtp_client_auth_response(c, big_cred, BIG_CRED + 1);
            record(s, 'Q', I_RESP, rc, BIG_CRED + 1, 0);
            CHECK(rc == -SMTP_E_ARG_TOO_LONG);
            snap_same(c);
        }
        if (b & 16) {
            p = big_cred;
            n = BIG_CRED;
        } else {
            n = script_byte(s);
            p = script_take(s, &n);
        }
        rc = smtp_client_auth_response(c, p, n);
        record(s, 'Q', I_RESP, rc, (int)n, fnv(p, n, FNV0));
        CHECK(rc == 0);
        expect(s, 1, "", 0, n > 0 ? p : NULL, n, 0, "\r\n", 2);
    }
    CHECK(c->challenge == 0);
    check_no_answer(c); /* answered once */
}

/* Check a WRITE against what the client expects, and whether the engine
 * armed the wipe for exactly the WRITEs that hold credentials. */
static int on_write(session *s, const smtp_event *ev)
{
    smtp_client *c = s->c;
    int secret = 0;
    if (s->expect_set) {
        CHECK(ev->len == s->expect_len && memcmp(ev->data, s->expect, ev->len) == 0);
        secret = s->expect_secret;
        s->expect_set = 0;
        s->auth_cmd = 0;
    } else if (s->in_auth) {
        /* the engine answered a 334 to AUTH PLAIN or LOGIN itself; a
         * CHALLENGE (F_SASL) is answered by the client, which expects */
        static const unsigned char pass[] = "pass\r\nRSET";
        char line[64];
        size_t n;
        CHECK(!s->auth_cmd && (s->flags & F_SASL) != F_SASL);
        if ((s->flags & F_LOGIN) && s->login_step < 2) {
            n = s->login_step == 0 ? b64((const unsigned char *)"user", 4, line)
                                   : b64(pass, sizeof pass - 1, line);
            memcpy(line + n, "\r\n", 2);
            n += 2;
            secret = 1;
        } else {
            memcpy(line, "*\r\n", 3);
            n = 3;
        }
        s->login_step++;
        CHECK(ev->len == n && memcmp(ev->data, line, n) == 0);
    }
    CHECK(c->wipe == (secret ? ev->len : 0));
    return secret;
}

static void check_sticky(smtp_client *c, int err)
{
    smtp_event ev;
    CHECK(smtp_client_next(c, &ev) == SMTP_ACT_ERROR && ev.err == err);
    CHECK(smtp_client_feed(c, "250 ok\r\n", 8) == -err);
    CHECK(smtp_client_feed(c, "", 0) == -err);
    CHECK(smtp_client_greeting(c) == -err);
    CHECK(smtp_client_ehlo(c, "x.example", 9, 1) == -err);
    CHECK(smtp_client_mail(c, "a@b", 3, "", 0) == -err);
    CHECK(smtp_client_rcpt(c, "c@d", 3, "", 0) == -err);
    CHECK(smtp_client_data(c) == -err);
    CHECK(smtp_client_quit(c) == -err);
    CHECK(smtp_client_auth_plain(c, "u", 1, "p", 1) == -err);
    CHECK(smtp_client_auth_login(c, "u", 1, "p", 1) == -err);
    CHECK(smtp_client_auth(c, "PLAIN", 5, (const unsigned char *)"\0u\0p", 4, 1) == -err);
    CHECK(smtp_client_auth_response(c, (const unsigned char *)"x", 1) == -err);
    CHECK(smtp_client_auth_cancel(c) == -err);
    CHECK(smtp_client_starttls(c) == -err);
    CHECK(smtp_client_tls_done(c) == -err);
    CHECK(smtp_client_body_end(c) == -err);
    CHECK(smtp_client_body(c, "x", 1) == 0);
    CHECK(smtp_client_next(c, &ev) == SMTP_ACT_ERROR && ev.err == err);
    CHECK(c->state == SMTP_S_FAILED);
    /* nothing will be written any more: no credential waits for it */
    CHECK(c->secret == 0 && c->authlen == 0 && c->authpos == 0);
}

static void check_bounds(const smtp_client *c)
{
    CHECK(c->state > SMTP_S_DEAD && c->state < SMTP_S__COUNT);
    CHECK(c->pcount <= SMTP_PIPELINE_MAX);
    CHECK(c->inpos <= c->inlen && c->inlen <= SMTP_IN_MAX);
    CHECK(c->outlen <= SMTP_OUT_MAX);
    CHECK(c->authpos <= c->authlen && c->authlen <= SMTP_AUTH_CMD_MAX);
    CHECK(c->caps.len < SMTP_CAPS_MAX);
    CHECK(c->wipe <= SMTP_OUT_MAX && c->secret <= c->outlen);
    CHECK(c->challenge == 0 || c->challenge == 1);
    CHECK(c->sasl == 0 || c->sasl == 1);
    if (c->state == SMTP_S_TLS)
        CHECK(c->pcount == 0 || (c->pcount == 1 && c->pend[c->phead] == SMTP_C_STARTTLS));
}

static void check_write(const smtp_event *ev)
{
    size_t i;
    CHECK(ev->len >= 1 && ev->len <= SMTP_OUT_MAX);
    for (i = 0; i < ev->len; i++) {
        /* no argument, credential or body byte this client passes is NUL */
        CHECK(ev->data[i] != '\0');
        if (ev->data[i] == '\r')
            CHECK(i + 1 < ev->len && ev->data[i + 1] == '\n');
        if (ev->data[i] == '\n')
            CHECK(i > 0 && ev->data[i - 1] == '\r');
    }
}

static void check_reply(const smtp_event *ev)
{
    const smtp_reply *r = ev->reply;
    CHECK(r != NULL);
    CHECK(ev->cmd >= 0 && ev->cmd < SMTP_C__COUNT && ev->cmd != SMTP_C_EOD_ABORT);
    CHECK(r->code >= 200 && r->code <= 599);
    CHECK(r->len < SMTP_REPLY_MAX && r->text[r->len] == '\0');
    CHECK(memchr(r->text, '\r', r->len) == NULL);
    CHECK(ev->ok == 0 || ev->ok == 1);
    if (ev->cmd == SMTP_C_AUTH)
        CHECK(r->code != 334); /* answered by the engine, or a CHALLENGE */
    if (ev->ok) {
        if (ev->cmd == SMTP_C_DATA)
            CHECK(r->code == 354);
        else if (ev->cmd == SMTP_C_AUTH)
            CHECK(r->code == 235);
        else if (ev->cmd == SMTP_C_STARTTLS)
            CHECK(r->code == 220);
        else
            CHECK(r->code / 100 == 2);
    }
}

static void check_zero(const char *p, size_t from, size_t to)
{
    for (; from < to; from++)
        CHECK(p[from] == 0);
}

static void run(session *s)
{
    size_t iter, limit = 64 + 32 * s->srv_len + 4 * sizeof big_body;
    smtp_event ev;
    s->c = malloc(sizeof *s->c);
    memset(s->c, 0xA5, sizeof *s->c);
    smtp_client_init(s->c);
    intend(s, I_GREETING);
    for (iter = 0; iter < limit; iter++) {
        smtp_act a;
        int r = 1;
        while (s->nint > 0 && (r = issue(s)) == 1) {
            memmove(s->intents, s->intents + 1, (size_t)(s->nint - 1) * sizeof s->intents[0]);
            s->nint--;
        }
        if (r < 0) {
            record(s, 'E', s->c->err, 0, 0, 0);
            check_sticky(s->c, s->c->err);
            break;
        }
        check_bounds(s->c);
        memset(&ev, 0, sizeof ev);
        a = smtp_client_next(s->c, &ev);
        if (s->cred_len > 0) {
            /* credentials written last time: wiped by this call, except
             * what a new WRITE has put in the block since */
            check_zero(s->c->out, a == SMTP_ACT_WRITE ? ev.len : 0, s->cred_len);
            if (a != SMTP_ACT_WRITE)
                CHECK(s->c->wipe == 0);
            s->cred_len = 0;
        }
        if (s->after_tls && a != SMTP_ACT_WRITE) {
            /* after the handshake the engine holds no input: it reads */
            CHECK(a == SMTP_ACT_READ);
            s->after_tls = 0;
        }
        if (s->lost)
            CHECK(a != SMTP_ACT_WRITE && a != SMTP_ACT_CHALLENGE);
        if (s->last_seen)
            CHECK(a == SMTP_ACT_IDLE);
        if (a == SMTP_ACT_WRITE) {
            check_write(&ev);
            record(s, 'W', (int)ev.len, 0, 0, fnv(ev.data, ev.len, FNV0));
            if (on_write(s, &ev)) {
                if ((s->ncred++ & 1) == 0) {
                    /* wiped at the next call, whichever it is: a refused one */
                    int rc = (s->ncred & 2) ? smtp_client_auth_cancel(s->c)
                                            : smtp_client_tls_done(s->c);
                    CHECK(rc == -SMTP_E_BAD_STATE);
                    CHECK(s->c->wipe == 0);
                    check_zero(s->c->out, 0, ev.len);
                } else {
                    s->cred_len = ev.len;
                }
            }
            if (s->writes++ == s->lost_at)
                lose(s);
        } else if (a == SMTP_ACT_READ) {
            CHECK(ev.want >= 1 && ev.want <= SMTP_IN_MAX);
            if (s->srv_pos < s->srv_len) {
                size_t n = s->bytewise ? 1 : s->pattern[s->pi++ % 8];
                char *chunk;
                if (n == 0 || n > ev.want)
                    n = ev.want;
                if (n > s->srv_len - s->srv_pos)
                    n = s->srv_len - s->srv_pos;
                chunk = malloc(n);
                memcpy(chunk, s->srv + s->srv_pos, n);
                CHECK(smtp_client_feed(s->c, chunk, n) == 0);
                free(chunk);
                s->srv_pos += n;
            } else {
                CHECK(!s->eof_fed); /* after EOF the engine must not READ again */
                CHECK(smtp_client_feed(s->c, "", 0) == 0);
                s->eof_fed = 1;
            }
        } else if (a == SMTP_ACT_REPLY) {
            check_reply(&ev);
            record(s, 'R', ev.cmd, ev.ok, ev.reply->code,
                   fnv(ev.reply->enhanced, strlen(ev.reply->enhanced),
                       fnv(ev.reply->text, ev.reply->len, FNV0)));
            if (s->lost) {
                lost_reply(s, &ev);
            } else {
                CHECK(ev.cmd != SMTP_C_LAST && ev.cmd != SMTP_C_SKIPPED);
                decide(s, &ev);
            }
        } else if (a == SMTP_ACT_CHALLENGE) {
            on_challenge(s, &ev);
        } else if (a == SMTP_ACT_ERROR) {
            CHECK(ev.err > 0 && ev.err < SMTP_E__COUNT && !smtp_err_is_caller(ev.err));
            record(s, 'E', ev.err, 0, 0, 0);
            check_sticky(s->c, ev.err);
            break;
        } else {
            CHECK(a == SMTP_ACT_IDLE);
            CHECK(smtp_client_pending(s->c) == 0);
            if (s->nint == 0)
                break;
            /* an intent waited (BUSY behind a hidden reply, or the body
             * waiting for room): nothing is pending now, so the next
             * round must move it; if it never does, the limit trips */
        }
    }
    CHECK(iter < limit); /* the session ended */
    free(s->c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static session a, b;
    size_t i, maxev, start = 9;
    if (size < 9)
        return 0;
    if (big_body[0] == '\0') {
        for (i = 0; i < sizeof big_body; i++)
            big_body[i] = body_unit[i % (sizeof body_unit - 1)];
        for (i = 0; i < sizeof big_cred; i++)
            big_cred[i] = (unsigned char)(i ^ (i >> 8)); /* every octet, CR LF NUL too */
    }
    maxev = 256 + 8 * size;
    memset(&a, 0, sizeof a);
    a.flags = data[0];
    a.pattern = data + 1;
    if ((a.flags & F_SASL) == F_SASL && size > 9) {
        a.script = data + 10;
        a.script_len = data[9] < size - 10 ? data[9] : size - 10;
        start = 10 + a.script_len;
    }
    a.srv = data + start;
    a.srv_len = size - start;
    a.lost_at = -1;
    if (a.srv_len >= 6 && memcmp(a.srv + a.srv_len - 6, "\0LOST", 5) == 0) {
        a.lost_at = a.srv[a.srv_len - 1];
        a.srv_len -= 6;
    }
    a.maxev = maxev;
    a.ev = malloc(maxev * sizeof *a.ev);
    b = a;
    b.bytewise = 1;
    b.ev = malloc(maxev * sizeof *b.ev);
    run(&a);
    run(&b);
    /* same transcript, or the pieces run stopped early on extra data */
    if (a.nev == b.nev && memcmp(a.ev, b.ev, a.nev * sizeof *a.ev) == 0) {
        /* equal */
    } else {
        CHECK(a.nev >= 1 && a.ev[a.nev - 1].type == 'E' &&
              a.ev[a.nev - 1].a == SMTP_E_UNEXPECTED_DATA);
        /* the events before the failing queue call (recorded as 'Q' with
         * the error) happened the same way byte by byte */
        for (i = 0; i + 2 < a.nev; i++)
            CHECK(i < b.nev && memcmp(&a.ev[i], &b.ev[i], sizeof a.ev[i]) == 0);
    }
    free(a.ev);
    free(b.ev);
    return 0;
}
