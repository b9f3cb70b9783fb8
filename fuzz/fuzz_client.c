/*
 * fuzz_client.c -- libFuzzer target for smtp_client (the session engine).
 *
 * Input: byte 0 = session flags (HELO fallback, AUTH PLAIN/LOGIN, RSET
 * first, second recipient, large body, second message); bytes 1..8 = the
 * sizes in which the server's bytes are fed (cycled; 0 means "as much as
 * the READ wants"); the rest = everything the server sends.
 *
 * A small client drives a whole session (greeting, EHLO, AUTH, MAIL, RCPT,
 * DATA, body, QUIT), deciding from each REPLY what to queue next, queueing
 * ahead when PIPELINING is offered, and answering every READ from the
 * server's bytes (then EOF).
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
 * The session is run twice, fed in the input's pieces and byte by byte;
 * the two transcripts are equal, except that fed in larger pieces the
 * engine may see a reply nobody asked for and stop with UNEXPECTED_DATA,
 * where the byte-by-byte run goes on with the same events before it.
 */
#include "fuzz_common.h"
#include "smtp_client.h"

enum {
    F_FALLBACK = 1, F_PLAIN = 2, F_LOGIN = 4, F_RSET = 8, F_RCPT2 = 16,
    F_BIGBODY = 32, F_TWICE = 64
};

enum { I_GREETING, I_EHLO, I_AUTH, I_RSET, I_MAIL, I_RCPT1, I_RCPT2, I_DATA, I_BODY,
       I_EOD, I_QUIT };

typedef struct {
    int type; /* 'W' write, 'R' reply, 'E' error, 'Q' queue result */
    int a, b, c;
    uint64_t h;
} event;

typedef struct {
    smtp_client *c;
    const uint8_t *srv;
    size_t srv_len, srv_pos;
    const uint8_t *pattern;
    size_t pi;
    int bytewise, eof_fed;
    int flags;
    int intents[32];
    int nint;
    size_t body_off;
    int messages;
    event *ev;
    size_t nev, maxev;
} session;

static const char body_unit[] = "Subject: fuzz\n\n.\r\n..\rline\n.\nend\r\n.";
static char big_body[20000];

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

/* Queue intents[0]; 1 when done with it, 0 to wait (BUSY or block full),
 * -1 when the engine returned a sticky error. */
static int issue(session *s)
{
    smtp_client *c = s->c;
    int rc;
    switch (s->intents[0]) {
    case I_GREETING: rc = smtp_client_greeting(c); break;
    case I_EHLO: rc = smtp_client_ehlo(c, "client.example", 14, s->flags & F_FALLBACK); break;
    case I_AUTH:
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
    if (rc == SMTP_E_BUSY)
        return 0; /* not recorded: how often it is retried depends on feeding */
    record(s, 'Q', s->intents[0], rc, 0, 0);
    if (rc != 0 && !SMTP_ERR_IS_CALLER(rc)) {
        CHECK(rc == c->err);
        return -1;
    }
    /* a refusal must be one of the documented caller faults */
    CHECK(rc == 0 || rc == SMTP_E_BAD_STATE);
    return 1;
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
        else if (s->flags & (F_PLAIN | F_LOGIN))
            intend(s, I_AUTH);
        else
            mail_sequence(s);
        break;
    case SMTP_C_AUTH:
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

static void check_sticky(smtp_client *c, int err)
{
    smtp_event ev;
    CHECK(smtp_client_next(c, &ev) == SMTP_ACT_ERROR && ev.err == err);
    CHECK(smtp_client_feed(c, "250 ok\r\n", 8) == err);
    CHECK(smtp_client_feed(c, "", 0) == err);
    CHECK(smtp_client_greeting(c) == err);
    CHECK(smtp_client_ehlo(c, "x.example", 9, 1) == err);
    CHECK(smtp_client_mail(c, "a@b", 3, "", 0) == err);
    CHECK(smtp_client_rcpt(c, "c@d", 3, "", 0) == err);
    CHECK(smtp_client_data(c) == err);
    CHECK(smtp_client_quit(c) == err);
    CHECK(smtp_client_auth_plain(c, "u", 1, "p", 1) == err);
    CHECK(smtp_client_body_end(c) == err);
    CHECK(smtp_client_body(c, "x", 1) == 0);
    CHECK(smtp_client_next(c, &ev) == SMTP_ACT_ERROR && ev.err == err);
    CHECK(c->state == SMTP_S_FAILED);
}

static void check_bounds(const smtp_client *c)
{
    CHECK(c->state > SMTP_S_DEAD && c->state < SMTP_S__COUNT);
    CHECK(c->pcount <= SMTP_PIPELINE_MAX);
    CHECK(c->inpos <= c->inlen && c->inlen <= SMTP_IN_MAX);
    CHECK(c->outlen <= SMTP_OUT_MAX);
    CHECK(c->authpos <= c->authlen && c->authlen <= SMTP_AUTH_CMD_MAX);
    CHECK(c->caps.len < SMTP_CAPS_MAX);
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
    if (ev->ok) {
        if (ev->cmd == SMTP_C_DATA)
            CHECK(r->code == 354);
        else if (ev->cmd == SMTP_C_AUTH)
            CHECK(r->code == 235);
        else
            CHECK(r->code / 100 == 2);
    }
}

static void run(session *s)
{
    size_t iter, limit = 64 + 16 * s->srv_len + 4 * sizeof big_body;
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
        if (a == SMTP_ACT_WRITE) {
            check_write(&ev);
            record(s, 'W', (int)ev.len, 0, 0, fnv(ev.data, ev.len, 14695981039346656037ULL));
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
                       fnv(ev.reply->text, ev.reply->len, 14695981039346656037ULL)));
            decide(s, &ev);
        } else if (a == SMTP_ACT_ERROR) {
            CHECK(ev.err > 0 && ev.err < SMTP_E__COUNT && !SMTP_ERR_IS_CALLER(ev.err));
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
    session a, b;
    size_t i, maxev;
    if (size < 9)
        return 0;
    if (big_body[0] == '\0') {
        for (i = 0; i < sizeof big_body; i++)
            big_body[i] = body_unit[i % (sizeof body_unit - 1)];
    }
    maxev = 256 + 4 * size;
    memset(&a, 0, sizeof a);
    a.flags = data[0];
    a.pattern = data + 1;
    a.srv = data + 9;
    a.srv_len = size - 9;
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
