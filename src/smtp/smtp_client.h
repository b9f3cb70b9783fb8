/*
 * smtp_client.h -- the SMTP client state machine, sans I/O.
 *
 * The engine never touches a socket and never calls back: the caller queues
 * commands (smtp_client_greeting, _ehlo, _mail, ...), then asks
 * smtp_client_next() what to do and does it: WRITE these bytes, READ at
 * most this many bytes and feed them (smtp_client_feed), or take the REPLY
 * to a queued command. Message content is filtered by smtp_client_body
 * (CRLF normalisation and dot-stuffing) and ended by smtp_client_body_end.
 *
 * Pipelining (RFC 2920): when the server offers PIPELINING, MAIL, RCPT and
 * RSET may be queued without waiting; EHLO, HELO, AUTH, DATA, NOOP and QUIT
 * end a group. Without PIPELINING every command waits for its reply.
 * Queuing what is not allowed now returns -SMTP_E_BAD_STATE, or
 * -SMTP_E_BUSY when it would be allowed once the queued replies are read.
 *
 * Errors (base/smtp_errors.h: a failure returns the negated code): queue
 * functions return 0 or a negated caller-fault code and change nothing on
 * failure (or the negated sticky error, when the server sent data that
 * nothing asked for). Peer faults are sticky: smtp_client_next() returns
 * SMTP_ACT_ERROR with the same (positive) code in ev->err from then on.
 */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H

#include <stddef.h>
#include "base/smtp_config.h"
#include "base/smtp_errors.h"
#include "smtp_reply.h"
#include "smtp_caps.h"
#include "mime/mime_body.h"

/* Session states. Every transition is a row of the tables in
 * smtp_client.c: transitions (a command queued), reply_moves (a reply
 * corrects the state) and event_moves (init, tls_done, a peer fault). */
#define SMTP_STATES(X)                                                  \
    X(DEAD, "dead")           /* zero value: not initialised */         \
    X(CONNECTED, "connected") /* greeting not read yet */               \
    X(GREETED, "greeted")     /* greeting read; EHLO/HELO not done */   \
    X(READY, "ready")         /* session open, no mail transaction */   \
    X(MAIL, "mail")           /* in a transaction: RCPT, DATA next */   \
    X(DATA, "data")           /* DATA sent, waiting for 354 */          \
    X(BODY, "body")           /* message content being sent */          \
    X(TLS, "tls")             /* STARTTLS accepted: handshake due */    \
    X(CLOSED, "closed")       /* QUIT sent */                           \
    X(FAILED, "failed")       /* a peer fault: sticky error */         \
    X(LOST, "lost")           /* a write failed: the last reply only */

/* What a reply answers. */
#define SMTP_CMDS(X)              \
    X(GREETING, "greeting")       \
    X(EHLO, "ehlo")               \
    X(HELO, "helo")               \
    X(AUTH, "auth")               \
    X(STARTTLS, "starttls")       \
    X(MAIL, "mail")               \
    X(RCPT, "rcpt")               \
    X(DATA, "data")               \
    X(EOD, "eod")                 \
    X(RSET, "rset")               \
    X(NOOP, "noop")               \
    X(QUIT, "quit")               \
    X(EOD_ABORT, "eod_abort")     /* hidden: "." after a pointless 354 */ \
    X(LAST, "last")               /* the server's last reply (smtp_client_lost) */ \
    X(SKIPPED, "skipped")         /* after smtp_client_lost: a reply below 400, not the last word */

typedef enum {
#define SMTP_STATE_ENUM(id, name) SMTP_S_##id,
    SMTP_STATES(SMTP_STATE_ENUM)
#undef SMTP_STATE_ENUM
    SMTP_S__COUNT
} smtp_state;
enum {
#define SMTP_CMD_ENUM(id, name) SMTP_C_##id,
    SMTP_CMDS(SMTP_CMD_ENUM)
#undef SMTP_CMD_ENUM
    SMTP_C__COUNT
};

typedef enum {
    SMTP_ACT_IDLE = 0, /* nothing to do: queue a command (or body) */
    SMTP_ACT_WRITE,    /* write ev->data[0..ev->len) */
    SMTP_ACT_READ,     /* read at most ev->want bytes, then feed them */
    SMTP_ACT_REPLY,    /* ev->reply answers ev->cmd; ev->ok if positive */
    SMTP_ACT_ERROR,    /* ev->err: sticky */
    SMTP_ACT_CHALLENGE /* a 334 to smtp_client_auth: ev->data[0..len) is the
                          challenge as sent (base64); answer it with
                          smtp_client_auth_response or _auth_cancel */
} smtp_act;

typedef struct {
    const char *data;         /* WRITE, CHALLENGE: valid until the next engine call */
    size_t len;
    size_t want;              /* READ */
    size_t secret;            /* WRITE: data[0..secret) holds credentials
                                 (a transcript must not show them) */
    int cmd;                  /* REPLY: SMTP_C_* */
    int ok;                   /* REPLY: the reply is the positive one */
    const smtp_reply *reply;  /* REPLY: valid until the next engine call */
    int err;                  /* ERROR: smtp_err */
} smtp_event;

typedef struct {
    smtp_state state;        /* as if every queued command succeeds */
    int err;                 /* sticky peer fault, 0 if none */
    int eof;                 /* the peer closed */
    int reply_taken;         /* reply was delivered: reset before parsing */
    int mail_ok;             /* the server accepted MAIL */
    unsigned rcpt_ok;        /* recipients accepted in this transaction */
    unsigned phead, pcount;  /* queue of commands waiting for a reply */
    unsigned skip_left;      /* LOST: replies below 400 still passed over */
    unsigned char pend[SMTP_PIPELINE_MAX];
    smtp_reply reply;        /* the reply being read or just delivered */
    smtp_caps caps;          /* from the last EHLO reply */
    mime_body body;          /* DATA-stage filter state */
    size_t inpos, inlen;     /* bytes read, not parsed yet */
    char in[SMTP_IN_MAX];
    size_t outlen;           /* bytes to write */
    size_t secret;           /* out[0..secret) holds credentials */
    size_t wipe;             /* written bytes that held credentials */
    char out[SMTP_OUT_MAX];
    size_t authlen, authpos; /* AUTH LOGIN lines waiting for their 334 */
    char auth[SMTP_AUTH_CMD_MAX];
    int sasl;                /* the AUTH at the head shows its 334s (smtp_client_auth) */
    int challenge;           /* a 334 was shown and waits for its answer */
    size_t discarded;        /* bytes dropped after a STARTTLS 220 */
    int helo_fallback;       /* answer a 5xx to EHLO with HELO */
    size_t domainlen;        /* EHLO argument, kept for the HELO fallback */
    char domain[256];
} smtp_client;

/* Ready for a new connection (the greeting is not read yet). */
void smtp_client_init(smtp_client *c);

/* Queue commands. Each returns 0 or -SMTP_E_... (nothing queued). */
int smtp_client_greeting(smtp_client *c);
int smtp_client_ehlo(smtp_client *c, const char *domain, size_t len,
                     int helo_fallback);
int smtp_client_helo(smtp_client *c, const char *domain, size_t len);
/* MAIL/RCPT: the address as smtp_cmd_path takes it (no parameters in it:
 * -SMTP_E_ARG_ADDRESS); ESMTP parameters ("SIZE=10 BODY=8BITMIME") only in
 * params, sent after a space when plen > 0. */
int smtp_client_mail(smtp_client *c, const char *from, size_t len,
                     const char *params, size_t plen);
int smtp_client_rcpt(smtp_client *c, const char *to, size_t len,
                     const char *params, size_t plen);
/* DATA, RSET, NOOP, QUIT: no argument; alike in shape with the calls
 * above and below, one a command. */
int smtp_client_data(smtp_client *c);
int smtp_client_rset(smtp_client *c);
int smtp_client_noop(smtp_client *c);
int smtp_client_quit(smtp_client *c);
int smtp_client_auth_plain(smtp_client *c, const char *user, size_t ulen,
                           const char *pass, size_t plen);
int smtp_client_auth_login(smtp_client *c, const char *user, size_t ulen,
                           const char *pass, size_t plen);

/* STARTTLS (RFC 3207). Its 220 moves to state TLS and drops every byte
 * the server sent after it (the STARTTLS response injection defence):
 * the caller then performs the TLS handshake and calls
 * smtp_client_tls_done, which forgets the capabilities and input and moves
 * to GREETED: EHLO must be sent again. Any other reply is a refusal
 * (state READY). In state TLS nothing may be queued. */
int smtp_client_starttls(smtp_client *c);
int smtp_client_tls_done(smtp_client *c);

/* AUTH with any SASL mechanism (RFC 4954): "AUTH mech", with the initial
 * response ir[0..irlen) base64-encoded when has_ir ("=" when empty). Each
 * 334 reply is shown as SMTP_ACT_CHALLENGE and must be answered, before
 * anything else, with smtp_client_auth_response (raw bytes, sent
 * base64-encoded) or smtp_client_auth_cancel ("*"); 235 ends it (REPLY,
 * ok), anything else refuses it. Lines holding credentials are wiped once
 * written. mech: 1 to 20 of A-Z 0-9 - _ (RFC 4422 3.1). */
int smtp_client_auth(smtp_client *c, const char *mech, size_t mlen,
                     const unsigned char *ir, size_t irlen, int has_ir);
int smtp_client_auth_response(smtp_client *c, const unsigned char *data,
                              size_t len);
int smtp_client_auth_cancel(smtp_client *c);

/* In state BODY: filter message content into the output block. Returns
 * the input bytes taken; fewer than n when the block is full, and then
 * smtp_client_next() gives a WRITE to make room. The last bytes stay in
 * the block so that they leave together with the end-of-data marker.
 * Also fewer than n when a line of the content would go over 998 octets
 * (mime_body.h: counted before dot-stuffing, RFC 5321 4.5.3.1.6) or a NUL
 * comes (RFC 5322 3.5): then smtp_client_body_error says so, and from
 * then on nothing is taken. */
size_t smtp_client_body(smtp_client *c, const char *in, size_t n);
/* The content's error, as a (positive) code: 0, or SMTP_E_LINE_TOO_LONG
 * once a line of the content went over the
 * limit; *linelen (if not NULL): that line's length as far as it was
 * seen, *open (if not NULL): 1 when the line did not end in the input of
 * the failing smtp_client_body call (its length is then a lower bound).
 * Or SMTP_E_CONTENT_NUL once a NUL came: *linelen is then the NUL's
 * position in the content, counted from 1, and *open 0.
 * Such content can never be ended: smtp_client_body_end refuses with the
 * same code, and the caller must close the connection without the
 * end-of-data marker, so that the server drops the message. */
int smtp_client_body_error(const smtp_client *c, size_t *linelen, int *open);

/* The message for smtp_client_body_error's failure, naming the octet or
 * the line's length and the limit, into buf (n bytes, NUL-terminated;
 * SMTP_BODY_ERROR_TEXT_MAX is room enough); "" when there is none.
 * Returns its length, as snprintf does. */
#define SMTP_BODY_ERROR_TEXT_MAX 160
size_t smtp_client_body_error_text(const smtp_client *c, char *buf, size_t n);
/* End the content: append the end-of-data marker and wait for its reply.
 * -SMTP_E_BUSY when the block has no room left for it (WRITE first);
 * -SMTP_E_LINE_TOO_LONG after a too long line, -SMTP_E_CONTENT_NUL after a
 * NUL (nothing appended). */
int smtp_client_body_end(smtp_client *c);

/* A write failed: the server gave up and closed (Exim's "421 ... SMTP
 * incoming data timeout", OpenSMTPD's "500 5.0.0 Line too long"). What
 * was queued and not written is dropped; the replies still due will not
 * come. The next complete reply read with a code of 400 or more is the
 * server's last word: it is delivered as a REPLY to SMTP_C_LAST, never
 * ok. A positive reply (2xx, 3xx) cannot be why the connection broke (it
 * answers a command written before, or is a lie): it is delivered as a
 * REPLY to SMTP_C_SKIPPED, never ok, and the engine reads on. At most
 * the replies that were due plus SMTP_LOST_SKIP_MAX are passed over; one
 * more is SMTP_E_UNEXPECTED_DATA. EOF before the last word is
 * SMTP_E_PEER_CLOSED. Then nothing can be queued (state LOST). */
#ifndef SMTP_LOST_SKIP_MAX
#define SMTP_LOST_SKIP_MAX 4
#endif
int smtp_client_lost(smtp_client *c);

/* Bytes read from the transport; len 0 means the peer closed. Never more
 * than the last READ's want. Returns 0 or the negated (sticky) error. */
int smtp_client_feed(smtp_client *c, const char *buf, size_t len);

/* What to do next. */
smtp_act smtp_client_next(smtp_client *c, smtp_event *ev);

/* Queued commands without a reply yet. */
unsigned smtp_client_pending(const smtp_client *c);

/* Read-only views for the binding, which never reads the struct: the state
 * (SMTP_S_*), the capabilities of the last EHLO, the bytes dropped after
 * a STARTTLS 220, and the output not handed out yet (*len bytes; a command
 * just queued is its tail, CRLF included). */
int smtp_client_state(const smtp_client *c);
const smtp_caps *smtp_client_caps(const smtp_client *c);
size_t smtp_client_discarded(const smtp_client *c);
const char *smtp_client_output(const smtp_client *c, size_t *len);

/* Names for traces and errors. */
const char *smtp_client_state_name(int state);
const char *smtp_client_cmd_name(int cmd);

#endif
