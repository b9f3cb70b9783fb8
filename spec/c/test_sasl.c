/*
 * test_sasl.c -- sasl: the client mechanisms and the mechanism choice.
 *
 * Each mechanism passes its RFC's published exchange byte for byte: RFC
 * 2195 (CRAM-MD5, tim/tanstaaftanstaaf), RFC 2831 4 (DIGEST-MD5,
 * chris/secret, service imap), RFC 5802 5 (SCRAM-SHA-1, user/pencil), RFC
 * 7677 3 (SCRAM-SHA-256), RFC 7628 4.1 and 4.3 (OAUTHBEARER), Google's
 * XOAUTH2 example; exchanges no RFC publishes are checked against values
 * from spec/c/ref_sasl.py (Python's hashlib/hmac). Then the hostile
 * server: wrong server signature or rspauth, success without proof, a
 * nonce that does not extend ours, e=, iteration counts 0 and huge,
 * malformed attributes and directives, oversized challenges, every
 * truncation of the challenges, challenges where none may come -- each one
 * a defined, sticky error that wipes the secrets. And the caller: every
 * refused parameter names its field; calls out of order change nothing.
 *
 * Every challenge is handed over against a guard page.
 *
 * Engines: sasl.c sasl_hash.c smtp_caps.c (for the mechanism bit order, and
 * the choice from parsed capabilities)
 */
#include "guard.h"
#include "tap.h"
#include "oracle.h"
#include "sasl/sasl.h"
#include "smtp/smtp_caps.h"

#define STR(s) s, sizeof(s) - 1

static guard g;
static sasl_client *C; /* heap: ASan sees overruns of the struct */

/* ---- helpers ------------------------------------------------------------ */

static int step(const char *in, size_t n, const char **out, size_t *outlen)
{
    return sasl_client_step(C, guard_put(&g, in, n), n, out, outlen);
}

/* Zero bytes in p[0..n)? */
static int all_zero(const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] != 0)
            return 0;
    return 1;
}

/* needle occurs in p[0..n)? */
static int has(const char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle), i;
    for (i = 0; p != NULL && i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return 1;
    return 0;
}

/* Nothing secret is left in the engine. */
static int wiped(void)
{
    return all_zero(C->secret, sizeof C->secret) &&
           all_zero(C->proof, sizeof C->proof) && all_zero(C->out, sizeof C->out);
}

static sasl_params P_user_pw(const char *user, const char *pw)
{
    sasl_params p;
    memset(&p, 0, sizeof p);
    p.user = user;
    p.userlen = strlen(user);
    p.password = pw;
    p.passwordlen = strlen(pw);
    return p;
}

static int init(int mech, const sasl_params *p)
{
    return sasl_client_init(C, mech, p);
}

/* init + start, expecting success; returns the initial response. */
static void start_ok(int mech, const sasl_params *p, const char **out,
                     size_t *outlen, const char *what)
{
    int rc = init(mech, p);
    if (!is_int(rc, 0, "%s: init", what))
        diag("%s %s", smtp_errname(-rc), sasl_client_field(C) ? sasl_client_field(C) : "");
    is_int(sasl_client_start(C, out, outlen), 0, "%s: start", what);
}

/* A step that must fail with err, stickily, and wipe the secrets. */
static void step_fails(const char *in, size_t n, int err, const char *what)
{
    const char *out = (const char *)1;
    size_t outlen = 1;
    int rc = step(in, n, &out, &outlen);
    if (!is_int(rc, -err, "%s: %s", what, smtp_errname(err)))
        diag("got %s", rc < 0 ? smtp_errname(-rc) : "a response");
    ok(out == NULL && outlen == 0, "%s: no response", what);
    ok(wiped(), "%s: secrets wiped", what);
    is_int(sasl_client_error(C), err, "%s: sasl_client_error", what);
    is_int(step(STR("again"), &out, &outlen), -err, "%s: sticky (step)", what);
    is_int(sasl_client_success(C, NULL, 0), -err, "%s: sticky (success)", what);
}

/* ---- names and choice ---------------------------------------------------- */

static void test_names(void)
{
    int m;
    for (m = 0; m < SASL_MECH__COUNT; m++) {
        const char *name = sasl_mech_name(m);
        is_str(name, smtp_caps_mech_name(m), "mechanism %d: same name and bit as smtp_caps", m);
        is_int(sasl_mech_find(name, strlen(name)), m, "find %s", name);
    }
    ok(smtp_caps_mech_name(SASL_MECH__COUNT) == NULL, "smtp_caps has no more mechanisms");
    ok(sasl_mech_name(-1) == NULL && sasl_mech_name(SASL_MECH__COUNT) == NULL,
       "no name out of range");
    is_int(sasl_mech_find(STR("scram-sha-256")), SASL_MECH_SCRAM_SHA_256,
           "find is case-insensitive");
    is_int(sasl_mech_find(STR("SCRAM-SHA-256-PLUS")), -1, "SCRAM-SHA-256-PLUS is not ours");
    is_int(sasl_mech_find(STR("SCRAM-SHA")), -1, "no prefix match");
    is_int(sasl_mech_find(STR("")), -1, "empty name");
    is_int(sasl_mech_mask(STR("PLAIN LOGIN cram-md5 GSSAPI  NTLM\tXOAUTH2,")),
           SASL_MECHBIT(PLAIN) | SASL_MECHBIT(LOGIN) | SASL_MECHBIT(CRAM_MD5) |
               SASL_MECHBIT(XOAUTH2),
           "mask of an AUTH line: known names, any case, unknown ignored");
    is_int(sasl_mech_mask(NULL, 5), 0, "mask of NULL");
    is_str(smtp_errname(SMTP_E_SASL_SERVER_PROOF), "ESASL_SERVER_PROOF", "errname");
    is_str(smtp_errname(SMTP_E_SASL_NONCE_MISMATCH), "ESASL_NONCE_MISMATCH", "errname");
    is_str(smtp_errname(999), "EUNKNOWN", "errname out of range");
    is_str(smtp_errmsg(SMTP_E_SASL_NO_SERVER_PROOF),
           "server reported success without proving that it knows the password", "errmsg");
    is_str(smtp_errmsg(-999), "unknown error", "errmsg out of range");
}

static void test_choose(void)
{
    unsigned all = (1u << SASL_MECH__COUNT) - 1;
    unsigned pw = SASL_HAVE_PASSWORD, tok = SASL_HAVE_TOKEN;
    unsigned legacy = sasl_mech_mask(STR("LOGIN PLAIN DIGEST-MD5 CRAM-MD5"));
    is_int(sasl_choose(all, NULL, 0, pw), SASL_MECH_SCRAM_SHA_256, "all offered: SCRAM-SHA-256");
    is_int(sasl_choose(all & ~SASL_MECHBIT(SCRAM_SHA_256), NULL, 0, pw),
           SASL_MECH_SCRAM_SHA_1, "then SCRAM-SHA-1");
    is_int(sasl_choose(legacy, NULL, 0, pw), SASL_MECH_CRAM_MD5, "then CRAM-MD5");
    is_int(sasl_choose(legacy & ~SASL_MECHBIT(CRAM_MD5), NULL, 0, pw),
           SASL_MECH_DIGEST_MD5, "then DIGEST-MD5");
    is_int(sasl_choose(sasl_mech_mask(STR("LOGIN PLAIN")), NULL, 0, pw), SASL_MECH_PLAIN,
           "then PLAIN");
    is_int(sasl_choose(sasl_mech_mask(STR("LOGIN XOAUTH2")), NULL, 0, pw), SASL_MECH_LOGIN,
           "then LOGIN; never a token mechanism with a password");
    is_int(sasl_choose(all, NULL, 0, pw | tok), SASL_MECH_SCRAM_SHA_256,
           "password and token: the password mechanisms");
    is_int(sasl_choose(SASL_MECHBIT(XOAUTH2) | SASL_MECHBIT(OAUTHBEARER), NULL, 0, pw | tok),
           -SMTP_E_SASL_NO_MECH, "password and token, only OAuth offered: none (force it)");
    is_int(sasl_choose(all, NULL, 0, tok), SASL_MECH_OAUTHBEARER, "token: OAUTHBEARER");
    is_int(sasl_choose(sasl_mech_mask(STR("PLAIN XOAUTH2")), NULL, 0, tok), SASL_MECH_XOAUTH2,
           "token: then XOAUTH2");
    is_int(sasl_choose(SASL_MECHBIT(PLAIN), NULL, 0, tok), -SMTP_E_SASL_NO_MECH,
           "token only, PLAIN offered: none");
    is_int(sasl_choose(all, NULL, 0, 0), -SMTP_E_SASL_NO_MECH, "no credentials: none");
    is_int(sasl_choose(0, NULL, 0, pw), -SMTP_E_SASL_NO_MECH, "nothing offered: none");
    is_int(sasl_choose(all, STR("PLAIN"), pw), SASL_MECH_PLAIN, "forced PLAIN");
    is_int(sasl_choose(all, STR("login, plain"), pw), SASL_MECH_LOGIN,
           "forced list: the caller's order");
    is_int(sasl_choose(SASL_MECHBIT(PLAIN), STR("LOGIN PLAIN"), pw), SASL_MECH_PLAIN,
           "forced list: the first one offered");
    is_int(sasl_choose(SASL_MECHBIT(LOGIN), STR("PLAIN"), pw), -SMTP_E_SASL_NO_MECH,
           "forced, not offered: none");
    is_int(sasl_choose(all, STR("XOAUTH2 PLAIN"), pw), SASL_MECH_PLAIN,
           "forced list: a token mechanism needs a token");
    is_int(sasl_choose(all, STR("XOAUTH2"), pw | tok), SASL_MECH_XOAUTH2,
           "forced XOAUTH2 with password and token");
    is_int(sasl_choose(all, STR("PLAIN NTLM"), pw), -SMTP_E_SASL_BAD_MECH,
           "forced list with an unknown name");
    is_int(sasl_choose(all, STR(" , "), pw), -SMTP_E_SASL_NO_MECH, "forced list of separators");
    is_int(sasl_choose(all, "", 0, pw), SASL_MECH_SCRAM_SHA_256, "empty forced: automatic");
}

/* The choice from the parsed capabilities (what c:sasl_choose does): for
 * one AUTH line, the SMTP engine's mechanism bits are the SASL engine's
 * mask of the offer, so the choice is the same as from the offer text. */
static void test_choose_caps(void)
{
    static const char *const offers[] = {
        "PLAIN LOGIN", "LOGIN PLAIN DIGEST-MD5 CRAM-MD5", "plain login cram-md5",
        "PLAIN LOGIN cram-md5 GSSAPI  NTLM\tXOAUTH2,", "PLAIN,LOGIN", "XOAUTH2 OAUTHBEARER",
        "SCRAM-SHA-1 SCRAM-SHA-256 PLAIN", "GSSAPI NTLM", "", "SCRAM-SHA-256-PLUS PLAINX",
    };
    static const struct {
        const char *forced;
        unsigned have;
    } asks[] = {
        {NULL, SASL_HAVE_PASSWORD}, {NULL, SASL_HAVE_TOKEN},
        {NULL, SASL_HAVE_PASSWORD | SASL_HAVE_TOKEN}, {NULL, 0},
        {"LOGIN", SASL_HAVE_PASSWORD}, {"XOAUTH2 PLAIN", SASL_HAVE_PASSWORD},
        {"cram-md5,login", SASL_HAVE_PASSWORD}, {"NTLM", SASL_HAVE_PASSWORD},
    };
    smtp_caps *caps = (smtp_caps *)malloc(sizeof *caps);
    char text[256];
    size_t i, k;
    for (i = 0; i < sizeof offers / sizeof offers[0]; i++) {
        unsigned mask = sasl_mech_mask(offers[i], strlen(offers[i]));
        int n = snprintf(text, sizeof text, "250-mx.example\n250 AUTH %s", offers[i]);
        smtp_caps_parse(caps, text, (size_t)n);
        is_int(smtp_caps_mechs(caps), mask, "caps of AUTH \"%s\": the SASL mask", offers[i]);
        for (k = 0; k < sizeof asks / sizeof asks[0]; k++) {
            const char *f = asks[k].forced;
            size_t fn = f != NULL ? strlen(f) : 0;
            is_int(sasl_choose(smtp_caps_mechs(caps), f, fn, asks[k].have),
                   sasl_choose(mask, f, fn, asks[k].have),
                   "choose from caps of AUTH \"%s\" (forced %s, have %u): as from the text",
                   offers[i], f != NULL ? f : "none", asks[k].have);
        }
    }
    /* every AUTH line counts: "AUTH LOGIN" then "AUTH=PLAIN" offers both */
    {
        static const char two[] = "250-mx.example\n250-AUTH LOGIN\n250 AUTH=PLAIN";
        smtp_caps_parse(caps, two, sizeof two - 1);
        is_int(sasl_choose(smtp_caps_mechs(caps), NULL, 0, SASL_HAVE_PASSWORD), SASL_MECH_PLAIN,
               "two AUTH lines: PLAIN (the second) is chosen over LOGIN");
        is_int(sasl_choose(smtp_caps_mechs(caps), STR("LOGIN"), SASL_HAVE_PASSWORD),
               SASL_MECH_LOGIN, "two AUTH lines: LOGIN (the first) can be forced");
    }
    free(caps);
}

static void test_nonce_text(void)
{
    /* RFC 5802's nonce is base64 of 18 bytes */
    unsigned char raw[18];
    char text[64];
    long n = oracle_b64_decode("fyko+d2lbbFgONRv9qkxdawL", 24, raw);
    is_int(n, 18, "RFC 5802 nonce decodes to 18 bytes");
    is_int(sasl_nonce_text(raw, 18, text, sizeof text), 24, "18 bytes -> 24 characters");
    is_mem(text, strlen(text), STR("fyko+d2lbbFgONRv9qkxdawL"), "and they are RFC 5802's nonce");
    is_int(sasl_nonce_text(raw, 2, text, sizeof text), 3, "2 bytes -> 3 characters, no padding");
    is_int(sasl_nonce_text(raw, 18, text, 24), 0, "no room for the NUL: 0");
    is_int(sasl_nonce_text(raw, 18, text, 25), 24, "exact room");
    {
        unsigned char many[100];
        char t2[200];
        memset(many, 0xfb, sizeof many);
        is_int(sasl_nonce_text(many, 96, t2, sizeof t2), 128, "96 bytes -> SASL_NONCE_MAX");
        is_int(sasl_nonce_text(many, 97, t2, sizeof t2), 0, "97 bytes: too long a nonce");
        is_int(sasl_nonce_text(many, 0, t2, sizeof t2), 0, "0 bytes: empty text");
    }
}

/* ---- PLAIN, LOGIN ------------------------------------------------------- */

static void test_plain(void)
{
    sasl_params p = P_user_pw("tim", "tanstaaftanstaaf");
    const char *out;
    size_t n;
    start_ok(SASL_MECH_PLAIN, &p, &out, &n, "PLAIN");
    is_mem(out, n, STR("\0tim\0tanstaaftanstaaf"), "PLAIN: initial response");
    ok(all_zero(C->secret, sizeof C->secret), "PLAIN: the password is not kept past init");
    is_int(sasl_client_success(C, NULL, 0), 0, "PLAIN: success");
    ok(wiped(), "PLAIN: wiped on success");
    is_int(step(STR(""), &out, &n), -SMTP_E_SASL_BAD_STATE, "PLAIN: step after success");
    sasl_client_clear(C);
    ok(all_zero(C, sizeof *C), "clear wipes the whole struct");

    p.authzid = "admin";
    p.authzidlen = 5;
    start_ok(SASL_MECH_PLAIN, &p, &out, &n, "PLAIN with authzid");
    is_mem(out, n, STR("admin\0tim\0tanstaaftanstaaf"), "PLAIN with authzid: initial response");
    step_fails(STR(""), SMTP_E_SASL_UNEXPECTED, "PLAIN: a challenge after the initial response");
    sasl_client_clear(C);
}

static void test_login(void)
{
    sasl_params p = P_user_pw("tim", "tanstaaf\0x");
    const char *out;
    size_t n;
    p.passwordlen = 10; /* LOGIN carries any bytes */
    start_ok(SASL_MECH_LOGIN, &p, &out, &n, "LOGIN");
    ok(out == NULL && n == 0, "LOGIN: no initial response");
    is_int(step(STR("Username:"), &out, &n), 0, "LOGIN: first challenge");
    is_mem(out, n, STR("tim"), "LOGIN: user name");
    is_int(step(STR("Password:"), &out, &n), 0, "LOGIN: second challenge");
    is_mem(out, n, STR("tanstaaf\0x"), "LOGIN: password");
    ok(all_zero(C->secret, sizeof C->secret), "LOGIN: password copy wiped once sent");
    is_int(sasl_client_success(C, NULL, 0), 0, "LOGIN: success");
    ok(wiped(), "LOGIN: the response holding the password is wiped on success");
    sasl_client_clear(C);

    start_ok(SASL_MECH_LOGIN, &p, &out, &n, "LOGIN, third challenge");
    step(STR("VXNlcm5hbWU6"), &out, &n);
    step(STR("UGFzc3dvcmQ6"), &out, &n);
    step_fails(STR("more?"), SMTP_E_SASL_UNEXPECTED, "LOGIN: third challenge");
    sasl_client_clear(C);
}

/* ---- CRAM-MD5 ----------------------------------------------------------- */

static void test_cram(void)
{
    sasl_params p = P_user_pw("tim", "tanstaaftanstaaf");
    const char *out;
    size_t n;
    start_ok(SASL_MECH_CRAM_MD5, &p, &out, &n, "CRAM-MD5");
    ok(out == NULL, "CRAM-MD5: no initial response");
    is_int(step(STR("<1896.697170952@postoffice.reston.mci.net>"), &out, &n), 0,
           "CRAM-MD5 RFC 2195: challenge");
    is_mem(out, n, STR("tim b913a602c7eda7a495b4e6e7334d3890"), "CRAM-MD5 RFC 2195: response");
    ok(all_zero(C->secret, sizeof C->secret), "CRAM-MD5: password wiped once used");
    is_int(sasl_client_success(C, NULL, 0), 0, "CRAM-MD5: success");
    sasl_client_clear(C);

    start_ok(SASL_MECH_CRAM_MD5, &p, &out, &n, "CRAM-MD5 empty");
    step_fails(STR(""), SMTP_E_SASL_MALFORMED, "CRAM-MD5: empty challenge");
    sasl_client_clear(C);

    start_ok(SASL_MECH_CRAM_MD5, &p, &out, &n, "CRAM-MD5 twice");
    step(STR("<1.2@x>"), &out, &n);
    step_fails(STR("<1.3@x>"), SMTP_E_SASL_UNEXPECTED, "CRAM-MD5: second challenge");
    sasl_client_clear(C);
}

/* ---- DIGEST-MD5 --------------------------------------------------------- */

static const char rfc2831_challenge[] =
    "realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\","
    "algorithm=md5-sess,charset=utf-8";
static const char rfc2831_response[] =
    "charset=utf-8,username=\"chris\",realm=\"elwood.innosoft.com\","
    "nonce=\"OA6MG9tEQGm2hh\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\","
    "digest-uri=\"imap/elwood.innosoft.com\","
    "response=d388dad90d4bbd760a152321f2143af7,qop=auth";

static sasl_params digest_params(void)
{
    sasl_params p = P_user_pw("chris", "secret");
    p.host = "elwood.innosoft.com";
    p.hostlen = strlen(p.host);
    p.service = "imap";
    p.servicelen = 4;
    p.nonce = "OA6MHXh6VqTrRk";
    p.noncelen = 14;
    return p;
}

static void digest_start(const sasl_params *p, const char *what)
{
    const char *out;
    size_t n;
    start_ok(SASL_MECH_DIGEST_MD5, p, &out, &n, what);
}

static void test_digest(void)
{
    sasl_params p = digest_params();
    const char *out;
    size_t n;
    size_t cut;

    start_ok(SASL_MECH_DIGEST_MD5, &p, &out, &n, "DIGEST-MD5 RFC 2831");
    ok(out == NULL, "DIGEST-MD5: no initial response");
    is_int(step(STR(rfc2831_challenge), &out, &n), 0, "DIGEST-MD5 RFC 2831: first challenge");
    is_mem(out, n, STR(rfc2831_response), "DIGEST-MD5 RFC 2831: response");
    ok(all_zero(C->secret, sizeof C->secret), "DIGEST-MD5: password wiped once used");
    is_int(sasl_client_success(C, NULL, 0), -SMTP_E_SASL_NO_SERVER_PROOF,
           "DIGEST-MD5: success before rspauth is refused");
    ok(wiped(), "DIGEST-MD5: wiped");
    sasl_client_clear(C);

    digest_start(&p, "DIGEST-MD5 rspauth");
    step(STR(rfc2831_challenge), &out, &n);
    is_int(step(STR("rspauth=ea40f60335c427b5527b84dbabcdfffd"), &out, &n), 0,
           "DIGEST-MD5 RFC 2831: rspauth verified");
    is_mem(out, n, "", 0, "DIGEST-MD5: empty response to rspauth");
    is_int(sasl_client_success(C, NULL, 0), 0, "DIGEST-MD5: success");
    sasl_client_clear(C);

    digest_start(&p, "DIGEST-MD5 rspauth upper-case");
    step(STR(rfc2831_challenge), &out, &n);
    is_int(step(STR(" rspauth = \"EA40F60335C427B5527B84DBABCDFFFD\" "), &out, &n), 0,
           "DIGEST-MD5: rspauth quoted, upper-case hex, spaces");
    step_fails(STR("rspauth=ea40f60335c427b5527b84dbabcdfffd"), SMTP_E_SASL_UNEXPECTED,
               "DIGEST-MD5: a third challenge");
    sasl_client_clear(C);

    digest_start(&p, "DIGEST-MD5 rspauth with success");
    step(STR(rfc2831_challenge), &out, &n);
    is_int(sasl_client_success(C, STR("rspauth=ea40f60335c427b5527b84dbabcdfffd")), 0,
           "DIGEST-MD5: rspauth as additional data with success");
    sasl_client_clear(C);

    digest_start(&p, "DIGEST-MD5 wrong rspauth");
    step(STR(rfc2831_challenge), &out, &n);
    step_fails(STR("rspauth=ea40f60335c427b5527b84dbabcdfffe"), SMTP_E_SASL_SERVER_PROOF,
               "DIGEST-MD5: wrong rspauth");
    sasl_client_clear(C);

    digest_start(&p, "DIGEST-MD5 wrong rspauth with success");
    step(STR(rfc2831_challenge), &out, &n);
    is_int(sasl_client_success(C, STR("rspauth=00000000000000000000000000000000")),
           -SMTP_E_SASL_SERVER_PROOF, "DIGEST-MD5: wrong rspauth with success");
    sasl_client_clear(C);

    {
        static const struct {
            const char *ch;
            int err;
            const char *what;
        } bad2[] = {
            {"rspauth=ea40f60335c427b5527b84dbabcdff", SMTP_E_SASL_SERVER_PROOF, "short rspauth"},
            {"rspauth=ea40f60335c427b5527b84dbabcdfffdff", SMTP_E_SASL_SERVER_PROOF, "long rspauth"},
            {"rspauth=ga40f60335c427b5527b84dbabcdfffd", SMTP_E_SASL_SERVER_PROOF, "non-hex rspauth"},
            {"realm=\"x\"", SMTP_E_SASL_MALFORMED, "no rspauth"},
            {"rspauth=ea40f60335c427b5527b84dbabcdfffd,rspauth=ea40f60335c427b5527b84dbabcdfffd",
             SMTP_E_SASL_MALFORMED, "two rspauth"},
            {"", SMTP_E_SASL_MALFORMED, "empty second challenge"},
            {"rspauth", SMTP_E_SASL_MALFORMED, "rspauth without value"},
        };
        size_t i;
        for (i = 0; i < sizeof bad2 / sizeof bad2[0]; i++) {
            digest_start(&p, bad2[i].what);
            step(STR(rfc2831_challenge), &out, &n);
            step_fails(bad2[i].ch, strlen(bad2[i].ch), bad2[i].err, bad2[i].what);
            sasl_client_clear(C);
        }
    }

    /* default service, escaped nonce, authzid, no realm offered */
    {
        sasl_params q = digest_params();
        q.service = NULL;
        q.host = "mail.example.org";
        q.hostlen = strlen(q.host);
        q.authzid = "admin";
        q.authzidlen = 5;
        digest_start(&q, "DIGEST-MD5 escaped nonce");
        is_int(step(STR("nonce=\"a\\\"b\\\\c\",  ,qop=\"auth,auth-int\",algorithm=MD5-SESS,"
                        "charset=UTF-8,maxbuf=65536,cipher=\"rc4\",x-unknown=1"),
                    &out, &n),
               0, "DIGEST-MD5: escaped nonce, no realm, qop list, unknown directives");
        is_mem(out, n,
               STR("charset=utf-8,username=\"chris\",nonce=\"a\\\"b\\\\c\",nc=00000001,"
                   "cnonce=\"OA6MHXh6VqTrRk\",digest-uri=\"smtp/mail.example.org\","
                   "response=1456c050d5d68b90d91ddcc9c4366219,qop=auth,authzid=\"admin\""),
               "DIGEST-MD5: response (ref_sasl.py)");
        is_int(step(STR("rspauth=5fcfed18849f57cb54c637dce02376d1"), &out, &n), 0,
               "DIGEST-MD5: its rspauth (ref_sasl.py)");
        sasl_client_clear(C);
    }

    /* charset=utf-8: user and password hashed as ISO 8859-1 when they can be */
    {
        sasl_params q = P_user_pw("j\xc3\xb6s\xc3\xa9", "p\xc3\xa4ssw\xc3\xb6rd");
        q.host = "mail.example.org";
        q.hostlen = strlen(q.host);
        q.nonce = "OA6MHXh6VqTrRk";
        q.noncelen = 14;
        digest_start(&q, "DIGEST-MD5 latin-1");
        is_int(step(STR("realm=\"example.org\",nonce=\"n0nce\",algorithm=md5-sess,"
                        "charset=utf-8"),
                    &out, &n),
               0, "DIGEST-MD5 latin-1: challenge");
        is_mem(out, n,
               STR("charset=utf-8,username=\"j\xc3\xb6s\xc3\xa9\",realm=\"example.org\","
                   "nonce=\"n0nce\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\","
                   "digest-uri=\"smtp/mail.example.org\","
                   "response=b20b7976a581bdcaffc77a169073713c,qop=auth"),
               "DIGEST-MD5 latin-1: response (ref_sasl.py)");
        is_int(step(STR("rspauth=124600d5c6dcd6001ac2fdf4de14b982"), &out, &n), 0,
               "DIGEST-MD5 latin-1: rspauth");
        sasl_client_clear(C);

        q.user = "j\xe2\x82\xacs\xc3\xa9"; /* a euro sign: stays UTF-8 */
        q.userlen = strlen(q.user);
        digest_start(&q, "DIGEST-MD5 not latin-1");
        step(STR("realm=\"example.org\",nonce=\"n0nce\",algorithm=md5-sess,charset=utf-8"),
             &out, &n);
        ok(has(out, n, ",response=d1c888f4d4bff609580f3fa14c3cfb30,qop=auth"),
           "DIGEST-MD5 user not in latin-1: hashed as UTF-8 (ref_sasl.py)");
        sasl_client_clear(C);

        digest_start(&q, "DIGEST-MD5 non-ASCII without charset");
        step_fails(STR("realm=\"example.org\",nonce=\"n0nce\",algorithm=md5-sess"),
                   SMTP_E_SASL_UNSUPPORTED, "DIGEST-MD5: non-ASCII user without charset=utf-8");
        sasl_client_clear(C);
    }

    /* a realm chosen by the caller */
    {
        sasl_params q = digest_params();
        q.realm = "other.example";
        q.realmlen = strlen(q.realm);
        digest_start(&q, "DIGEST-MD5 caller realm");
        step(STR(rfc2831_challenge), &out, &n);
        ok(has(out, n, ",realm=\"other.example\","),
           "DIGEST-MD5: the caller's realm is sent");
        sasl_client_clear(C);
    }

    {
        static const struct {
            const char *ch;
            int err;
            const char *what;
        } bad1[] = {
            {"realm=\"r\",qop=\"auth\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "no nonce"},
            {"nonce=\"a\",nonce=\"b\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "two nonces"},
            {"nonce=\"\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "empty nonce"},
            {"nonce=\"abc\"", SMTP_E_SASL_MALFORMED, "no algorithm"},
            {"nonce=\"abc\",algorithm=md5-sess,algorithm=md5-sess", SMTP_E_SASL_MALFORMED,
             "two algorithms"},
            {"nonce=\"abc\",algorithm=md5", SMTP_E_SASL_UNSUPPORTED, "algorithm=md5"},
            {"nonce=\"abc\",algorithm=md5-sess,qop=\"auth-int,auth-conf\"", SMTP_E_SASL_UNSUPPORTED,
             "qop without auth"},
            {"nonce=\"abc\",algorithm=md5-sess,qop=auth,qop=auth", SMTP_E_SASL_MALFORMED, "two qop"},
            {"nonce=\"abc\",algorithm=md5-sess,charset=iso-8859-1", SMTP_E_SASL_MALFORMED,
             "charset other than utf-8"},
            {"nonce=\"abc\",algorithm=md5-sess,charset=utf-8,charset=utf-8", SMTP_E_SASL_MALFORMED,
             "two charsets"},
            {"nonce=\"abc\",algorithm=md5-sess,maxbuf=1,maxbuf=2", SMTP_E_SASL_MALFORMED,
             "two maxbuf"},
            {"nonce=\"abc\",algorithm=md5-sess,stale=true,stale=true", SMTP_E_SASL_MALFORMED,
             "two stale"},
            {"nonce=\"abc,algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "unterminated quote"},
            {"nonce=\"abc\\", SMTP_E_SASL_MALFORMED, "backslash at the end"},
            {"nonce=abc algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "missing comma"},
            {"nonce=,algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "empty token value"},
            {"=abc,algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "empty directive name"},
            {"nonce\"abc\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "no '='"},
            {"nonce=\"abc\"x,algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "junk after a quote"},
            {"nonce=\"a\r\nb\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "CRLF in a quoted nonce"},
            {"nonce=\"a\001b\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "^A in a quoted nonce"},
            {"nonce=\"a\\\001b\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED,
             "an escaped ^A in a quoted nonce"},
            {"nonce=\"a\177b\",algorithm=md5-sess", SMTP_E_SASL_MALFORMED, "DEL in a quoted nonce"},
            {"rspauth=ea40f60335c427b5527b84dbabcdfffd", SMTP_E_SASL_MALFORMED, "rspauth first"},
            {"", SMTP_E_SASL_MALFORMED, "empty challenge"},
        };
        size_t i;
        for (i = 0; i < sizeof bad1 / sizeof bad1[0]; i++) {
            digest_start(&p, bad1[i].what);
            step_fails(bad1[i].ch, strlen(bad1[i].ch), bad1[i].err, bad1[i].what);
            sasl_client_clear(C);
        }
    }

    digest_start(&p, "NUL in nonce");
    step_fails(STR("nonce=\"a\0b\",algorithm=md5-sess"), SMTP_E_SASL_MALFORMED,
               "DIGEST-MD5: NUL in a quoted nonce");
    sasl_client_clear(C);
    digest_start(&p, "tab in nonce");
    is_int(step(STR("nonce=\"a\tb\",algorithm=md5-sess"), &out, &n), 0,
           "DIGEST-MD5: a tab in a quoted nonce is text");
    sasl_client_clear(C);

    /* every truncation of the RFC challenge: a defined outcome, and an
     * error unless the prefix is itself complete */
    {
        size_t full = sizeof rfc2831_challenge - 1, okcount = 0, bad = 0;
        for (cut = 0; cut < full; cut++) {
            int rc;
            digest_start(&p, "truncated");
            rc = step(rfc2831_challenge, cut, &out, &n);
            if (rc == 0)
                okcount++;
            else if (rc != -SMTP_E_SASL_MALFORMED && rc != -SMTP_E_SASL_UNSUPPORTED)
                bad++;
            sasl_client_clear(C);
        }
        is_int(bad, 0, "DIGEST-MD5: every truncation is MALFORMED, UNSUPPORTED or complete");
        /* complete prefixes: cut inside "utf-8" would be a wrong charset;
         * only the ones cut right after the algorithm or at ",charset" */
        ok(okcount <= 3, "DIGEST-MD5: only whole-directive prefixes pass (%lu)",
           (unsigned long)okcount);
    }
}

/* ---- SCRAM -------------------------------------------------------------- */

typedef struct {
    int mech;
    const char *name;
    const char *nonce;
    const char *client_first;
    const char *server_first;
    const char *client_final;
    const char *server_final;
} scram_case;

static const scram_case rfc_scram[] = {
    {SASL_MECH_SCRAM_SHA_1, "SCRAM-SHA-1 RFC 5802", "fyko+d2lbbFgONRv9qkxdawL",
     "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
    {SASL_MECH_SCRAM_SHA_256, "SCRAM-SHA-256 RFC 7677", "rOprNGfwEbeRWgbNEkqO",
     "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
};

static sasl_params scram_params(const scram_case *s)
{
    sasl_params p = P_user_pw("user", "pencil");
    p.nonce = s->nonce;
    p.noncelen = strlen(s->nonce);
    return p;
}

/* init, start and the server-first of case s; 0 when all went well */
static int scram_to_final(const scram_case *s, const char *what)
{
    sasl_params p = scram_params(s);
    const char *out;
    size_t n;
    start_ok(s->mech, &p, &out, &n, what);
    return step(s->server_first, strlen(s->server_first), &out, &n);
}

static void test_scram_rfc(void)
{
    size_t i;
    for (i = 0; i < sizeof rfc_scram / sizeof rfc_scram[0]; i++) {
        const scram_case *s = &rfc_scram[i];
        sasl_params p = scram_params(s);
        const char *out;
        size_t n;
        start_ok(s->mech, &p, &out, &n, s->name);
        is_mem(out, n, s->client_first, strlen(s->client_first), "%s: client-first", s->name);
        is_int(step(s->server_first, strlen(s->server_first), &out, &n), 0,
               "%s: server-first", s->name);
        is_mem(out, n, s->client_final, strlen(s->client_final), "%s: client-final", s->name);
        ok(all_zero(C->secret, sizeof C->secret), "%s: password wiped once used", s->name);
        is_int(step(s->server_final, strlen(s->server_final), &out, &n), 0,
               "%s: server-final verified", s->name);
        is_mem(out, n, "", 0, "%s: empty response", s->name);
        is_int(sasl_client_success(C, NULL, 0), 0, "%s: success", s->name);
        ok(wiped(), "%s: wiped on success", s->name);
        is_int(sasl_client_success(C, NULL, 0), -SMTP_E_SASL_BAD_STATE, "%s: success twice",
               s->name);
        sasl_client_clear(C);

        /* the server-final with the success (IMAP-style additional data) */
        is_int(scram_to_final(s, s->name), 0, "%s: to server-final", s->name);
        is_int(sasl_client_success(C, s->server_final, strlen(s->server_final)), 0,
               "%s: server-final as additional data with success", s->name);
        sasl_client_clear(C);

        /* extensions after v= are ignored */
        scram_to_final(s, s->name);
        {
            char buf[128];
            snprintf(buf, sizeof buf, "%s,x=ext", s->server_final);
            is_int(step(buf, strlen(buf), &out, &n), 0, "%s: v= with an extension", s->name);
        }
        sasl_client_clear(C);
    }
}

static void test_scram_escaping(void)
{
    sasl_params p = P_user_pw("u=s,er", "pencil");
    const char *out;
    size_t n;
    p.authzid = "adm,in";
    p.authzidlen = 6;
    p.nonce = "rOprNGfwEbeRWgbNEkqO";
    p.noncelen = 20;
    start_ok(SASL_MECH_SCRAM_SHA_256, &p, &out, &n, "SCRAM escaping");
    is_mem(out, n, STR("n,a=adm=2Cin,n=u=3Ds=2Cer,r=rOprNGfwEbeRWgbNEkqO"),
           "SCRAM: saslname escaping in a= and n=");
    is_int(step(STR("r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1,x=ext"), &out,
                &n),
           0, "SCRAM: i=1 and an extension are accepted");
    is_mem(out, n,
           STR("c=bixhPWFkbT0yQ2luLA==,r=rOprNGfwEbeRWgbNEkqOsrv,"
               "p=eso3Ov0rqzaMtPyGyI9/8C/vtquY/ZWjSn/MfK8OF3k="),
           "SCRAM: client-final with c= of the gs2 header (ref_sasl.py)");
    is_int(step(STR("v=4XCv6zGqH+YeOMGDY7mjU18yLUYez+g/Rv1vOy9Gvvg="), &out, &n), 0,
           "SCRAM: server-final (ref_sasl.py)");
    sasl_client_clear(C);
}

static void test_scram_hostile(void)
{
    const scram_case *s1 = &rfc_scram[0], *s256 = &rfc_scram[1];
    const char *out;
    size_t n, cut;
    static const struct {
        const char *sf;
        int err;
        const char *what;
    } bad1[] = {
        {"r=fyko+d2lbbFgONRv9qkxdawX3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
         SMTP_E_SASL_NONCE_MISMATCH, "server nonce does not start with ours"},
        {"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", SMTP_E_SASL_NONCE_MISMATCH,
         "server nonce equal to ours"},
        {"r=fyko+d2lbb,s=QSXCR+Q6sek8bf92,i=4096", SMTP_E_SASL_NONCE_MISMATCH,
         "server nonce shorter than ours"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0", SMTP_E_SASL_ITERATIONS,
         "zero iterations"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=10000001", SMTP_E_SASL_ITERATIONS,
         "10,000,001 iterations"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=99999999999999999999999",
         SMTP_E_SASL_ITERATIONS, "an iteration count that overflows"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=04096", SMTP_E_SASL_MALFORMED,
         "leading zero"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=-1", SMTP_E_SASL_MALFORMED,
         "negative count"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=", SMTP_E_SASL_MALFORMED,
         "empty count"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=40 96", SMTP_E_SASL_MALFORMED,
         "space in count"},
        {"m=x,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096", SMTP_E_SASL_UNSUPPORTED,
         "mandatory extension"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", SMTP_E_SASL_MALFORMED, "no salt"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=,i=4096", SMTP_E_SASL_MALFORMED, "empty salt"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf9,i=4096", SMTP_E_SASL_MALFORMED,
         "salt not base64 (length)"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR*Q6sek8bf92,i=4096", SMTP_E_SASL_MALFORMED,
         "salt not base64 (character)"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QR==,i=4096", SMTP_E_SASL_MALFORMED,
         "salt with padding bits set"},
        {"s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", SMTP_E_SASL_MALFORMED,
         "attributes out of order"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92", SMTP_E_SASL_MALFORMED, "no count"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096,", SMTP_E_SASL_MALFORMED,
         "trailing comma"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096,1=x", SMTP_E_SASL_MALFORMED,
         "extension name not a letter"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096,xy", SMTP_E_SASL_MALFORMED,
         "extension without '='"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3r c,s=QSXCR+Q6sek8bf92,i=4096", SMTP_E_SASL_MALFORMED,
         "space in the nonce"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3r\x01,s=QSXCR+Q6sek8bf92,i=4096", SMTP_E_SASL_MALFORMED,
         "control character in the nonce"},
        {"e=other-error", SMTP_E_SASL_MALFORMED, "e= in place of server-first"},
        {"", SMTP_E_SASL_MALFORMED, "empty server-first"},
    };
    static const struct {
        const char *sf;
        int err;
        const char *what;
    } bad2[] = {
        {"v=rmF9pqV8S7suAoZWja4dJRkFsKM=", SMTP_E_SASL_SERVER_PROOF, "wrong server signature"},
        {"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", SMTP_E_SASL_SERVER_PROOF, "zero server signature"},
        {"v=rmF9pqV8S7suAoZWja4dJRk", SMTP_E_SASL_MALFORMED, "server signature cut (not base64)"},
        {"v=rmF9pqV8S7suAoZWja4d", SMTP_E_SASL_SERVER_PROOF, "server signature of 15 bytes"},
        {"v=rmF9pqV8S7suAoZWja4dJRkFsKQA", SMTP_E_SASL_SERVER_PROOF,
         "server signature of 21 bytes"},
        {"v=", SMTP_E_SASL_SERVER_PROOF, "empty server signature"},
        {"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=x", SMTP_E_SASL_MALFORMED, "junk after v="},
        {"e=invalid-proof", SMTP_E_SASL_SERVER_ERROR, "e="},
        {"x=rmF9pqV8S7suAoZWja4dJRkFsKQ=", SMTP_E_SASL_MALFORMED, "neither v= nor e="},
        {"", SMTP_E_SASL_MALFORMED, "empty server-final"},
    };
    size_t i;

    for (i = 0; i < sizeof bad1 / sizeof bad1[0]; i++) {
        sasl_params p = scram_params(s1);
        start_ok(s1->mech, &p, &out, &n, bad1[i].what);
        step_fails(bad1[i].sf, strlen(bad1[i].sf), bad1[i].err, bad1[i].what);
        sasl_client_clear(C);
    }
    for (i = 0; i < sizeof bad2 / sizeof bad2[0]; i++) {
        scram_to_final(s1, bad2[i].what);
        step_fails(bad2[i].sf, strlen(bad2[i].sf), bad2[i].err, bad2[i].what);
        sasl_client_clear(C);
    }

    /* e= keeps the server's words */
    scram_to_final(s256, "e= text");
    step(STR("e=invalid-proof,x=1"), &out, &n);
    is_str(sasl_client_errtext(C, &n), "invalid-proof", "SCRAM e=: errtext is the value");
    is_int(n, 13, "SCRAM e=: errtext length");
    sasl_client_clear(C);
    is_str(sasl_client_errtext(C, NULL), "", "errtext after clear");

    /* a SHA-1 signature for a SHA-256 exchange */
    scram_to_final(s256, "SHA-1 signature");
    step_fails(STR("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), SMTP_E_SASL_SERVER_PROOF,
               "SCRAM-SHA-256: a 20-byte signature");
    sasl_client_clear(C);

    /* success without server-final; with a wrong one; e= with success */
    scram_to_final(s256, "no server-final");
    is_int(sasl_client_success(C, NULL, 0), -SMTP_E_SASL_NO_SERVER_PROOF,
           "SCRAM: success without server-final is refused");
    ok(wiped(), "SCRAM: wiped after NO_SERVER_PROOF");
    sasl_client_clear(C);
    {
        sasl_params p = scram_params(s256);
        start_ok(s256->mech, &p, &out, &n, "success at once");
        is_int(sasl_client_success(C, s256->server_final, strlen(s256->server_final)),
               -SMTP_E_SASL_NO_SERVER_PROOF, "SCRAM: success before server-first is refused");
        sasl_client_clear(C);
    }
    scram_to_final(s256, "wrong with success");
    is_int(sasl_client_success(C, STR("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")),
           -SMTP_E_SASL_SERVER_PROOF, "SCRAM: a wrong signature with success is refused");
    sasl_client_clear(C);
    scram_to_final(s256, "e= with success");
    is_int(sasl_client_success(C, STR("e=other-error")), -SMTP_E_SASL_SERVER_ERROR,
           "SCRAM: e= with success");
    sasl_client_clear(C);

    /* after the proof, nothing more may come */
    scram_to_final(s1, "after proof");
    step(s1->server_final, strlen(s1->server_final), &out, &n);
    step_fails(s1->server_final, strlen(s1->server_final), SMTP_E_SASL_UNEXPECTED,
               "SCRAM: a challenge after server-final");
    sasl_client_clear(C);

    /* every truncation of server-first: an error, except the prefixes that
     * cut the iteration count (a smaller count is still a count) */
    {
        size_t full = strlen(s1->server_first), bad = 0, passed = 0;
        size_t ipos = strstr(s1->server_first, ",i=") - s1->server_first + 3;
        for (cut = 0; cut < full; cut++) {
            sasl_params p = scram_params(s1);
            int rc;
            start_ok(s1->mech, &p, &out, &n, "truncated server-first");
            rc = step(s1->server_first, cut, &out, &n);
            if (rc == 0) {
                passed++;
                if (cut <= ipos)
                    bad++;
            } else if (rc != -SMTP_E_SASL_MALFORMED && rc != -SMTP_E_SASL_NONCE_MISMATCH) {
                bad++;
            }
            sasl_client_clear(C);
        }
        is_int(bad, 0, "SCRAM: truncated server-first fails (MALFORMED / NONCE_MISMATCH)");
        is_int(passed, full - ipos - 1, "SCRAM: only i=4, 40, 409 pass");
    }
    /* every truncation of server-final: always an error */
    {
        size_t full = strlen(s1->server_final), bad = 0;
        for (cut = 0; cut < full; cut++) {
            int rc;
            scram_to_final(s1, "truncated server-final");
            rc = step(s1->server_final, cut, &out, &n);
            if (rc != -SMTP_E_SASL_MALFORMED && rc != -SMTP_E_SASL_SERVER_PROOF)
                bad++;
            sasl_client_clear(C);
        }
        is_int(bad, 0, "SCRAM: every truncated server-final is refused");
    }
}

/* ---- XOAUTH2, OAUTHBEARER ------------------------------------------------ */

static void test_oauth(void)
{
    sasl_params p;
    const char *out, *txt;
    size_t n;

    memset(&p, 0, sizeof p);
    p.user = "someuser@example.com";
    p.userlen = strlen(p.user);
    p.token = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";
    p.tokenlen = strlen(p.token);
    p.password = "ignored";
    p.passwordlen = 7;
    start_ok(SASL_MECH_XOAUTH2, &p, &out, &n, "XOAUTH2");
    is_mem(out, n,
           STR("user=someuser@example.com\001auth=Bearer "
               "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001"),
           "XOAUTH2: initial response (Google's example)");
    is_int(sasl_client_success(C, NULL, 0), 0, "XOAUTH2: success");
    sasl_client_clear(C);

    start_ok(SASL_MECH_XOAUTH2, &p, &out, &n, "XOAUTH2 error");
    is_int(step(STR("{\"status\":\"401\",\r\n\"schemes\":\"Bearer\"}"), &out, &n), SASL_REFUSED,
           "XOAUTH2: an error challenge is REFUSED");
    is_mem(out, n, "", 0, "XOAUTH2: answered with an empty response");
    txt = sasl_client_errtext(C, &n);
    is_str(txt, "{\"status\":\"401\",??\"schemes\":\"Bearer\"}", "XOAUTH2: errtext, made printable");
    is_int(sasl_client_success(C, NULL, 0), -SMTP_E_SASL_SERVER_ERROR,
           "XOAUTH2: success after the error is refused");
    sasl_client_clear(C);

    /* RFC 7628 4.1 */
    memset(&p, 0, sizeof p);
    p.user = "user@example.com";
    p.userlen = strlen(p.user);
    p.token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
    p.tokenlen = strlen(p.token);
    p.host = "server.example.com";
    p.hostlen = strlen(p.host);
    p.port = 143;
    start_ok(SASL_MECH_OAUTHBEARER, &p, &out, &n, "OAUTHBEARER RFC 7628");
    is_mem(out, n,
           STR("n,a=user@example.com,\001host=server.example.com\001port=143\001"
               "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001"),
           "OAUTHBEARER RFC 7628 4.1: initial response");
    is_int(sasl_client_success(C, NULL, 0), 0, "OAUTHBEARER: success");
    sasl_client_clear(C);

    /* RFC 7628 4.3: the server's error, the client's %x01 */
    start_ok(SASL_MECH_OAUTHBEARER, &p, &out, &n, "OAUTHBEARER RFC 7628 4.3");
    is_int(step(STR("{\"status\":\"invalid_token\",\"scope\":\"example_scope\","
                    "\"openid-configuration\":\"https://example.com/.well-known/"
                    "openid-configuration\"}"),
                &out, &n),
           SASL_REFUSED, "OAUTHBEARER: error challenge is REFUSED");
    is_mem(out, n, STR("\001"), "OAUTHBEARER: answered with %%x01");
    ok(strstr(sasl_client_errtext(C, NULL), "invalid_token") != NULL,
       "OAUTHBEARER: errtext has the status");
    step_fails(STR("again"), SMTP_E_SASL_UNEXPECTED, "OAUTHBEARER: a second challenge");
    sasl_client_clear(C);

    /* no user, no host, port 65535; an authzid wins over the user in a= */
    memset(&p, 0, sizeof p);
    p.token = "tok";
    p.tokenlen = 3;
    p.port = 65535;
    start_ok(SASL_MECH_OAUTHBEARER, &p, &out, &n, "OAUTHBEARER minimal");
    is_mem(out, n, STR("n,,\001port=65535\001auth=Bearer tok\001\001"),
           "OAUTHBEARER: no user, no host");
    sasl_client_clear(C);
    p.user = "a,b";
    p.userlen = 3;
    p.authzid = "c=d";
    p.authzidlen = 3;
    p.port = 7;
    start_ok(SASL_MECH_OAUTHBEARER, &p, &out, &n, "OAUTHBEARER authzid");
    is_mem(out, n, STR("n,a=c=3Dd,\001port=7\001auth=Bearer tok\001\001"),
           "OAUTHBEARER: a= is the escaped authzid");
    sasl_client_clear(C);

    /* long error texts are cut */
    {
        char big[1000];
        memset(big, 'x', sizeof big);
        start_ok(SASL_MECH_OAUTHBEARER, &p, &out, &n, "OAUTHBEARER long error");
        step(big, sizeof big, &out, &n);
        sasl_client_errtext(C, &n);
        is_int(n, SASL_ERRTEXT_MAX - 1, "errtext is bounded");
        sasl_client_clear(C);
    }
}

/* ---- the caller's faults ------------------------------------------------ */

static void expect_init(int mech, const sasl_params *p, int err, const char *field,
                        const char *what)
{
    int rc = init(mech, p);
    is_int(rc, -err, "%s: %s", what, smtp_errname(err));
    if (field == NULL)
        ok(sasl_client_field(C) == NULL, "%s: no field", what);
    else
        is_str(sasl_client_field(C), field, "%s: field", what);
    if (rc != 0) {
        const char *out;
        size_t n;
        ok(all_zero(C->user, sizeof C->user) && wiped(), "%s: nothing kept", what);
        is_int(sasl_client_start(C, &out, &n), -SMTP_E_SASL_BAD_STATE, "%s: dead", what);
    }
    sasl_client_clear(C);
}

static void test_init_faults(void)
{
    static char big[SASL_TOKEN_MAX + 2];
    sasl_params p = P_user_pw("user", "pencil"), q;
    memset(big, 'a', sizeof big);

    expect_init(-1, &p, SMTP_E_SASL_BAD_MECH, "mechanism", "mechanism -1");
    expect_init(SASL_MECH_PLAIN, NULL, SMTP_E_SASL_MISSING, "user", "no parameters at all");
    expect_init(SASL_MECH__COUNT, &p, SMTP_E_SASL_BAD_MECH, "mechanism", "mechanism past the end");

    q = p;
    q.user = NULL;
    expect_init(SASL_MECH_PLAIN, &q, SMTP_E_SASL_MISSING, "user", "PLAIN without user");
    q = p;
    q.userlen = 0;
    expect_init(SASL_MECH_LOGIN, &q, SMTP_E_SASL_MISSING, "user", "LOGIN with an empty user");
    q = p;
    q.password = NULL;
    expect_init(SASL_MECH_CRAM_MD5, &q, SMTP_E_SASL_MISSING, "password", "CRAM-MD5 without password");
    q = p;
    expect_init(SASL_MECH_XOAUTH2, &q, SMTP_E_SASL_MISSING, "token", "XOAUTH2 without token");
    expect_init(SASL_MECH_OAUTHBEARER, &q, SMTP_E_SASL_MISSING, "token", "OAUTHBEARER without token");
    expect_init(SASL_MECH_SCRAM_SHA_1, &q, SMTP_E_SASL_MISSING, "nonce", "SCRAM without nonce");
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_MISSING, "host", "DIGEST-MD5 without host");
    q.host = "h";
    q.hostlen = 1;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_MISSING, "nonce", "DIGEST-MD5 without nonce");

    q = p;
    q.userlen = SMTP_CRED_MAX + 1;
    q.user = big;
    expect_init(SASL_MECH_PLAIN, &q, SMTP_E_SASL_ARG_TOO_LONG, "user", "user too long");
    q = p;
    q.password = big;
    q.passwordlen = SMTP_CRED_MAX + 1;
    expect_init(SASL_MECH_LOGIN, &q, SMTP_E_SASL_ARG_TOO_LONG, "password", "password too long");
    q = p;
    q.token = big;
    q.tokenlen = SASL_TOKEN_MAX + 1;
    expect_init(SASL_MECH_XOAUTH2, &q, SMTP_E_SASL_ARG_TOO_LONG, "token", "token too long");
    q.tokenlen = SASL_TOKEN_MAX;
    q.user = big;
    q.userlen = SMTP_CRED_MAX;
    expect_init(SASL_MECH_XOAUTH2, &q, SMTP_E_SASL_RESPONSE_TOO_LONG, "response",
                "a user and token that do not fit a response");
    q.user = "user";
    q.userlen = 4;
    q.tokenlen = SASL_TOKEN_MAX;
    expect_init(SASL_MECH_XOAUTH2, &q, SMTP_E_OK, NULL, "the longest token fits");
    q = p;
    q.user = big;
    q.userlen = SMTP_CRED_MAX;
    q.authzid = big;
    q.authzidlen = SMTP_CRED_MAX;
    q.password = big;
    q.passwordlen = SMTP_CRED_MAX;
    expect_init(SASL_MECH_PLAIN, &q, SMTP_E_SASL_RESPONSE_TOO_LONG, "response",
                "PLAIN longer than a response");

    q = p;
    q.user = "us\0er";
    q.userlen = 5;
    expect_init(SASL_MECH_PLAIN, &q, SMTP_E_SASL_ARG_CHARS, "user", "PLAIN: NUL in user");
    q.nonce = "abcdefghij";
    q.noncelen = 10;
    expect_init(SASL_MECH_SCRAM_SHA_256, &q, SMTP_E_SASL_ARG_CHARS, "user", "SCRAM: NUL in user");
    q = p;
    q.password = "pen\0cil";
    q.passwordlen = 7;
    expect_init(SASL_MECH_PLAIN, &q, SMTP_E_SASL_ARG_CHARS, "password", "PLAIN: NUL in password");
    q = p;
    q.authzid = "a\0";
    q.authzidlen = 2;
    expect_init(SASL_MECH_PLAIN, &q, SMTP_E_SASL_ARG_CHARS, "authzid", "PLAIN: NUL in authzid");
    q = p;
    q.user = "a\001b";
    q.userlen = 3;
    q.token = "tok";
    q.tokenlen = 3;
    expect_init(SASL_MECH_XOAUTH2, &q, SMTP_E_SASL_ARG_CHARS, "user", "XOAUTH2: ^A in user");
    q = p;
    q.token = "to\001k";
    q.tokenlen = 4;
    expect_init(SASL_MECH_OAUTHBEARER, &q, SMTP_E_SASL_ARG_CHARS, "token", "OAUTHBEARER: ^A in token");
    q.token = "to k";
    expect_init(SASL_MECH_OAUTHBEARER, &q, SMTP_E_SASL_ARG_CHARS, "token", "OAUTHBEARER: space in token");
    q.token = "tok";
    q.tokenlen = 3;
    q.host = "h\r\nx";
    q.hostlen = 4;
    expect_init(SASL_MECH_OAUTHBEARER, &q, SMTP_E_SASL_ARG_CHARS, "host", "OAUTHBEARER: CRLF in host");
    q.host = NULL;
    q.port = 65536;
    expect_init(SASL_MECH_OAUTHBEARER, &q, SMTP_E_SASL_ARG_TOO_LONG, "port", "OAUTHBEARER: port 65536");

    q = digest_params();
    q.user = "ch\nris";
    q.userlen = 6;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_CHARS, "user", "DIGEST-MD5: LF in user");
    q = digest_params();
    q.service = "sm\ttp";
    q.servicelen = 5;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_CHARS, "service", "DIGEST-MD5: tab in service");
    q = digest_params();
    q.realm = "r\x7f";
    q.realmlen = 2;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_CHARS, "realm", "DIGEST-MD5: DEL in realm");
    q = digest_params();
    q.service = big;
    q.servicelen = SASL_SERVICE_MAX + 1;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_TOO_LONG, "service", "DIGEST-MD5: long service");

    q = digest_params();
    q.nonce = "short";
    q.noncelen = 5;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_NONCE, "nonce", "nonce of 5 characters");
    q.nonce = "abcdefg,h";
    q.noncelen = 9;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_NONCE, "nonce", "nonce with a comma");
    q.nonce = "abcdefg\"h";
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_NONCE, "nonce", "nonce with a quote");
    q.nonce = "abcdefg h";
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_NONCE, "nonce", "nonce with a space");
    q.nonce = "abcdefg\\h";
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_NONCE, "nonce", "nonce with a backslash");
    q.nonce = big;
    q.noncelen = SASL_NONCE_MAX + 1;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_SASL_ARG_TOO_LONG, "nonce", "nonce too long");
    q.noncelen = SASL_NONCE_MAX;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_OK, NULL, "nonce of SASL_NONCE_MAX");
    q.noncelen = SASL_NONCE_MIN;
    expect_init(SASL_MECH_DIGEST_MD5, &q, SMTP_E_OK, NULL, "nonce of SASL_NONCE_MIN");

    /* a failed init wipes what an earlier init left */
    {
        sasl_params r = digest_params();
        const char *out;
        size_t n;
        start_ok(SASL_MECH_DIGEST_MD5, &r, &out, &n, "reinit");
        r.nonce = "x";
        r.noncelen = 1;
        is_int(init(SASL_MECH_DIGEST_MD5, &r), -SMTP_E_SASL_ARG_NONCE, "reinit with a bad nonce");
        ok(all_zero(C->user, sizeof C->user) && wiped(), "the previous secrets are gone");
        sasl_client_clear(C);
    }
}

static void test_order(void)
{
    sasl_params p = P_user_pw("tim", "tanstaaftanstaaf");
    const char *out;
    size_t n;
    is_int(sasl_client_start(C, &out, &n), -SMTP_E_SASL_BAD_STATE, "start on a cleared engine");
    is_int(step(STR("x"), &out, &n), -SMTP_E_SASL_BAD_STATE, "step on a cleared engine");
    is_int(sasl_client_success(C, NULL, 0), -SMTP_E_SASL_BAD_STATE, "success on a cleared engine");
    is_int(init(SASL_MECH_CRAM_MD5, &p), 0, "init");
    is_int(step(STR("<1@x>"), &out, &n), -SMTP_E_SASL_BAD_STATE, "step before start");
    is_int(sasl_client_success(C, NULL, 0), -SMTP_E_SASL_BAD_STATE, "success before start");
    is_int(sasl_client_error(C), 0, "BAD_STATE is not sticky");
    is_int(sasl_client_start(C, &out, &n), 0, "start");
    is_int(sasl_client_start(C, &out, &n), -SMTP_E_SASL_BAD_STATE, "start twice");
    is_int(step(STR("<1896.697170952@postoffice.reston.mci.net>"), &out, &n), 0,
           "the exchange goes on after BAD_STATE");
    is_mem(out, n, STR("tim b913a602c7eda7a495b4e6e7334d3890"), "with the right response");
    sasl_client_clear(C);
}

/* Challenges over SASL_CHALLENGE_MAX, for every mechanism. */
static void test_oversized(void)
{
    static char big[SASL_CHALLENGE_MAX + 1];
    int m;
    memset(big, 'a', sizeof big);
    for (m = 0; m < SASL_MECH__COUNT; m++) {
        sasl_params p = digest_params();
        const char *out;
        size_t n;
        char what[64];
        p.token = "tok";
        p.tokenlen = 3;
        snprintf(what, sizeof what, "%s oversized challenge", sasl_mech_name(m));
        start_ok(m, &p, &out, &n, what);
        step_fails(big, sizeof big, SMTP_E_SASL_CHALLENGE_TOO_LONG, what);
        sasl_client_clear(C);
        start_ok(m, &p, &out, &n, what);
        n = 0;
        if (m == SASL_MECH_PLAIN) {
            /* PLAIN said it all: any challenge is UNEXPECTED, and one of
             * exactly SASL_CHALLENGE_MAX gets that far (not TOO_LONG) */
            is_int(step(big, SASL_CHALLENGE_MAX, &out, &n), -SMTP_E_SASL_UNEXPECTED,
                   "%s: exactly SASL_CHALLENGE_MAX is read (UNEXPECTED)", what);
        } else {
            int rc = step(big, SASL_CHALLENGE_MAX, &out, &n);
            ok(rc != -SMTP_E_SASL_CHALLENGE_TOO_LONG, "%s: exactly SASL_CHALLENGE_MAX is read", what);
        }
        sasl_client_clear(C);
    }
    /* a long server nonce makes a long response */
    {
        static char sf[SASL_CHALLENGE_MAX + 1];
        sasl_params p = scram_params(&rfc_scram[1]);
        const char *out;
        size_t n, len;
        len = (size_t)snprintf(sf, sizeof sf, "r=%s", rfc_scram[1].nonce);
        memset(sf + len, 'x', SASL_CHALLENGE_MAX - len - 40);
        len = SASL_CHALLENGE_MAX - 40;
        len += (size_t)snprintf(sf + len, sizeof sf - len, ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2");
        start_ok(SASL_MECH_SCRAM_SHA_256, &p, &out, &n, "long server nonce");
        is_int(step(sf, len, &out, &n), 0, "SCRAM: a 4 KiB server-first with a long nonce");
        ok(n > SASL_CHALLENGE_MAX - 40, "SCRAM: its long client-final (%lu bytes)",
           (unsigned long)n);
        sasl_client_clear(C);
    }
}

int main(void)
{
    tap_seed();
    guard_init(&g, SASL_CHALLENGE_MAX + 64);
    C = malloc(sizeof *C);
    memset(C, 0, sizeof *C);
    test_names();
    test_choose();
    test_choose_caps();
    test_nonce_text();
    test_plain();
    test_login();
    test_cram();
    test_digest();
    test_scram_rfc();
    test_scram_escaping();
    test_scram_hostile();
    test_oauth();
    test_init_faults();
    test_order();
    test_oversized();
    free(C);
    guard_free(&g);
    return done_testing();
}
