/*
 * sasl.h -- SASL client mechanisms as sans-I/O engines (RFC 4422), for
 * SMTP AUTH (RFC 4954).
 *
 * Mechanisms: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login),
 * CRAM-MD5 (RFC 2195), DIGEST-MD5 (RFC 2831; obsolete, RFC 6331, kept for
 * legacy servers), SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677;
 * without channel binding: gs2 header "n,,"), XOAUTH2 (Google's) and
 * OAUTHBEARER (RFC 7628).
 *
 * The engine only computes. Everything comes from the caller: the
 * credentials, the server name, and the client nonce (the engine never
 * draws random bytes: the binding takes them from smtp_random() and turns
 * them into nonce text with sasl_nonce_text()). It works on raw bytes: the
 * base64 of SMTP's "334" lines and of the AUTH initial response is the
 * caller's job. (SCRAM's own base64 fields -- salt, proof, signature -- are
 * handled inside.)
 *
 *     sasl_client c;                        // fixed size, no allocation
 *     sasl_client_init(&c, SASL_MECH_SCRAM_SHA_256, &params);
 *     sasl_client_start(&c, &out, &n);      // initial response, or out NULL
 *       AUTH SCRAM-SHA-256 base64(out)
 *     loop: server "334 base64(ch)":
 *         sasl_client_step(&c, ch, chlen, &out, &n)
 *           SASL_OK        send base64(out) (possibly the empty line)
 *           SASL_REFUSED   send base64(out); the server has said no (its
 *                          words: sasl_client_errtext); a failure reply follows
 *           < 0            -SMTP_E_SASL_...: cancel the exchange with "*"
 *     server "235": sasl_client_success(&c, NULL, 0)
 *           SASL_OK        authenticated (and, for SCRAM and DIGEST-MD5, the
 *                          server has proved that it knows the password)
 *           < 0            treat the session as compromised: do not go on
 *     sasl_client_clear(&c);                // always, whatever happened
 *
 * A client-first mechanism (PLAIN, SCRAM-*, XOAUTH2, OAUTHBEARER) always
 * has an initial response. A caller that sends "AUTH NAME" without it
 * answers the server's first, empty, 334 with the bytes start() gave (they
 * stay valid until the next call), not with step().
 *
 * Errors (STYLE.md 3): init() refuses bad credentials with a caller fault
 * and leaves the engine dead (sasl_client_field() names the field).
 * SMTP_E_SASL_BAD_STATE (a call out of order) changes nothing. Every other
 * error from step()/success() is sticky: the secrets are wiped at once and
 * every later call returns the same code. Secrets (password, token, salted
 * password, keys, proofs, the last response) live only inside the struct
 * and are wiped on success, on every failure and by clear().
 *
 * SASLprep (RFC 4013) is not applied: the user name and the password are
 * used as given (they should be UTF-8). That is what RFC 5802 asks of
 * ASCII credentials and what most servers store.
 *
 * Pointers never outlive the call: the input belongs to the caller; *out
 * points into the engine and is valid until its next call.
 */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>
#include "sasl_hash.h"
#include "sasl_mechs.h"
#include "base/smtp_config.h"
#include "base/smtp_errors.h"

/* ---- limits (STYLE.md 6; each can be overridden with -D) ---------------- */

/* User name and authorisation identity, password: SMTP_CRED_MAX bytes. */
/* Longest OAuth 2 bearer token. */
#ifndef SASL_TOKEN_MAX
#define SASL_TOKEN_MAX 8192
#endif
/* Server name (DIGEST-MD5 digest-uri, OAUTHBEARER host) and realm. */
#ifndef SASL_HOST_MAX
#define SASL_HOST_MAX 256
#endif
/* Service name of the DIGEST-MD5 digest-uri ("smtp"). */
#ifndef SASL_SERVICE_MAX
#define SASL_SERVICE_MAX 32
#endif
/* Client nonce text: SASL_NONCE_MIN..SASL_NONCE_MAX characters. */
#define SASL_NONCE_MIN 8
#ifndef SASL_NONCE_MAX
#define SASL_NONCE_MAX 128
#endif
/* Longest server challenge (decoded bytes) accepted. */
#ifndef SASL_CHALLENGE_MAX
#define SASL_CHALLENGE_MAX 4096
#endif
/* Longest response. Its base64 after "AUTH OAUTHBEARER " and before CRLF
 * must fit a command of SMTP_AUTH_CMD_MAX (12288): 9000 bytes -> 12000. */
#ifndef SASL_OUT_MAX
#define SASL_OUT_MAX 9000
#endif
/* Most bytes kept of a server's error text (SCRAM e=, OAuth JSON). */
#ifndef SASL_ERRTEXT_MAX
#define SASL_ERRTEXT_MAX 256
#endif
/* SCRAM iteration counts accepted: 1..SASL_SCRAM_ITER_MAX. RFC 7677 asks
 * servers for at least 4096, but a smaller positive count is only weaker
 * storage on the server's side, so it is accepted; 0 is malformed, and a
 * count above the maximum (seconds of CPU per attempt) is refused as an
 * attack on the client. */
#ifndef SASL_SCRAM_ITER_MAX
#define SASL_SCRAM_ITER_MAX 10000000UL
#endif

#define SASL_SECRET_MAX (SASL_TOKEN_MAX > SMTP_CRED_MAX ? SASL_TOKEN_MAX : SMTP_CRED_MAX)

/* ---- error codes ------------------------------------------------------- */

/* The codes are SMTP_E_SASL_* in the one list (base/smtp_errors.h): the
 * names users see are "ESASL_...", e.g. "ESASL_SERVER_PROOF"; the
 * caller-fault messages follow the field name (sasl_client_field):
 * "password is too long". Failures return the negated code. */

/* Positive results of sasl_client_step (errors are -SMTP_E_SASL_...). */
enum { SASL_OK = 0, SASL_REFUSED = 1 };

/* ---- mechanisms --------------------------------------------------------- */

/* The mechanisms: SASL_MECHS in sasl_mechs.h. */
typedef enum {
#define SASL_MECH_ENUM(id, name) SASL_MECH_##id,
    SASL_MECHS(SASL_MECH_ENUM)
#undef SASL_MECH_ENUM
    SASL_MECH__COUNT
} sasl_mech;

#define SASL_MECHBIT(id) (1u << SASL_MECH_##id)

/* The IANA name of a mechanism, NULL for anything else. */
const char *sasl_mech_name(int mech);
/* The mechanism called name[0..len) (case-insensitive), or -1. */
int sasl_mech_find(const char *name, size_t len);
/* Bits of the known mechanisms named in a list (separated by spaces, tabs
 * or commas, case-insensitive; unknown names are ignored), e.g. the
 * parameters of the EHLO "AUTH" line. */
unsigned sasl_mech_mask(const char *list, size_t len);

/* What the caller has to authenticate with. */
enum { SASL_HAVE_PASSWORD = 1, SASL_HAVE_TOKEN = 2 };

/* The mechanism to use, given the server's offer (mask bits) and what the
 * caller has. Returns a sasl_mech, or -SMTP_E_SASL_NO_MECH when there is none,
 * or -SMTP_E_SASL_BAD_MECH when forced names an unknown mechanism.
 *
 * Without forced (NULL or empty), the strongest offered one:
 *     with a password:  SCRAM-SHA-256 > SCRAM-SHA-1 > CRAM-MD5 > DIGEST-MD5
 *                       > PLAIN > LOGIN
 *     with a token and no password:  OAUTHBEARER > XOAUTH2
 * SCRAM proves the server too and keeps nothing replayable on it;
 * CRAM-MD5 and DIGEST-MD5 at least keep the password off the wire, and
 * DIGEST-MD5 comes after CRAM-MD5 because it is obsolete (RFC 6331) and
 * its servers are the least interoperable; PLAIN before LOGIN because it is
 * standard and takes one round trip. (Over TLS the plain-text ones are as
 * safe on the wire; the order still prefers the ones that do not hand the
 * password to the server.)
 *
 * With forced, a list as above: the first name in the caller's order that
 * the server offers and the caller can use (a password mechanism needs
 * SASL_HAVE_PASSWORD, XOAUTH2/OAUTHBEARER need SASL_HAVE_TOKEN). */
int sasl_choose(unsigned offered, const char *forced, size_t flen,
                unsigned have);

/* Client nonce text from n random bytes: base64 without padding (18 bytes
 * -> 24 characters, as in RFC 5802's example). Writes the text and a NUL
 * into out[cap]; returns the length, or 0 when the text does not fit in
 * cap - 1 or is longer than SASL_NONCE_MAX. */
size_t sasl_nonce_text(const unsigned char *rnd, size_t n, char *out,
                       size_t cap);

/* ---- the engine --------------------------------------------------------- */

/* Everything the mechanisms may need; unused fields are ignored. A NULL
 * pointer means absent (its length is then ignored); zero-initialise the
 * struct and fill in what you have. */
typedef struct {
    const char *user;       /* authentication identity */
    size_t userlen;
    const char *password;   /* PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-* */
    size_t passwordlen;
    const char *token;      /* XOAUTH2 OAUTHBEARER: the bearer token */
    size_t tokenlen;
    const char *authzid;    /* authorisation identity, optional (PLAIN,
                               DIGEST-MD5, SCRAM a=, OAUTHBEARER a=) */
    size_t authzidlen;
    const char *host;       /* server name: DIGEST-MD5 digest-uri (required),
                               OAUTHBEARER host= (optional) */
    size_t hostlen;
    const char *service;    /* DIGEST-MD5 digest-uri service; "smtp" if absent */
    size_t servicelen;
    const char *realm;      /* DIGEST-MD5 realm; absent: the first offered */
    size_t realmlen;
    unsigned port;          /* OAUTHBEARER port=; 0 leaves it out */
    const char *nonce;      /* client nonce text (DIGEST-MD5, SCRAM-*):
                               SASL_NONCE_MIN..MAX printable ASCII characters
                               without ',', '"' and '\\' (sasl_nonce_text) */
    size_t noncelen;
} sasl_params;

/* Requirements checked by init:
 *   PLAIN        user, password; no NUL in authzid, user, password
 *   LOGIN        user, password
 *   CRAM-MD5     user, password
 *   DIGEST-MD5   user, password, host, nonce; no control characters in
 *                user, authzid, realm, host, service
 *   SCRAM-*      user, password, nonce; no NUL in user, authzid
 *   XOAUTH2      user, token; no control characters in user
 *   OAUTHBEARER  token; no control characters in user/authzid or host
 * and a token of visible ASCII only (RFC 6750 b64token and the like). */

typedef struct {
    int state;              /* sasl.c; 0 is dead */
    int mech;
    int err;                /* the sticky error */
    const char *field;      /* field of a caller fault in init */
    sasl_hash_alg alg;      /* SCRAM's hash */
    unsigned round;         /* challenges answered */
    unsigned port;
    size_t userlen, secretlen, authzidlen, hostlen, servicelen, realmlen,
        noncelen, outlen, errtextlen, prooflen;
    unsigned char proof[SASL_HASH_MAX_LEN]; /* the server proof we expect */
    char user[SMTP_CRED_MAX];
    char authzid[SMTP_CRED_MAX];
    char secret[SASL_SECRET_MAX];           /* password or token */
    char host[SASL_HOST_MAX];
    char service[SASL_SERVICE_MAX];
    char realm[SASL_HOST_MAX];
    char nonce[SASL_NONCE_MAX];
    char errtext[SASL_ERRTEXT_MAX];
    char out[SASL_OUT_MAX];
} sasl_client;

/* Check and copy the parameters (p NULL: none), compute the initial
 * response. 0 or a negative caller-fault code (the engine is then dead;
 * see sasl_client_field). */
int sasl_client_init(sasl_client *c, int mech, const sasl_params *p);

/* The initial response: *out and *outlen, or *out NULL when the mechanism
 * speaks second (LOGIN, CRAM-MD5, DIGEST-MD5). Once, right after init. */
int sasl_client_start(sasl_client *c, const char **out, size_t *outlen);

/* One decoded server challenge in[0..inlen) -> the response (see above).
 * On an error *out is NULL and *outlen 0. */
int sasl_client_step(sasl_client *c, const char *in, size_t inlen,
                     const char **out, size_t *outlen);

/* The server said the authentication succeeded. add[0..addlen) is
 * additional data sent with the success (protocols other than SMTP; NULL
 * for none); SCRAM and DIGEST-MD5 check their server proof in it when they
 * have not had it yet. 0, or a sticky -SMTP_E_SASL_NO_SERVER_PROOF /
 * SERVER_PROOF / SERVER_ERROR / ... */
int sasl_client_success(sasl_client *c, const char *add, size_t addlen);

/* Wipe everything; the engine is dead until the next init. */
void sasl_client_clear(sasl_client *c);

/* The mechanism (SASL_MECH_*) c was initialised with. */
int sasl_client_mech(const sasl_client *c);
/* The sticky error (a positive SMTP_E_SASL_ code), 0 when there is none. */
int sasl_client_error(const sasl_client *c);
/* The parameter a caller fault of init is about ("user", "password",
 * "token", "authzid", "host", "service", "realm", "nonce", "port",
 * "mechanism", "response"), or NULL. */
const char *sasl_client_field(const sasl_client *c);
/* The server's own error text after SMTP_E_SASL_SERVER_ERROR or SASL_REFUSED
 * (SCRAM's e= value, the OAuth JSON), printable ASCII only (other bytes
 * become '?'), at most SASL_ERRTEXT_MAX - 1 bytes, NUL-terminated; "" when
 * there is none. */
const char *sasl_client_errtext(const sasl_client *c, size_t *len);

#endif
