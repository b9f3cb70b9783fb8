/*
 * fuzz_sasl.c -- libFuzzer target for sasl (the SASL client mechanisms)
 * and the mechanism choice.
 *
 * Input: byte 0 picks the mechanism (bits 0-2), adds an authzid (bit 3),
 * hands the last challenge to sasl_client_success as additional data
 * instead of to step (bit 4). Then up to 6 challenges, each a length and
 * its bytes: a length byte below 0xE0 is the length; 0xE0-0xFF starts a
 * two-byte length ((b & 0x1F) << 8 | next), so that SASL_CHALLENGE_MAX is
 * reachable; the last challenge is cut short by the end of the input. Each
 * challenge is copied into a heap block of exactly its size, so reading
 * past it is caught. The credentials are fixed (user/pencil, the nonce of
 * RFC 7677, host mail.example.org), so the seeds in fuzz/corpus/fuzz_sasl/
 * are whole valid exchanges the fuzzer can mutate.
 *
 * Invariant: whatever the server sends, init and start succeed; every step
 * returns SASL_OK or SASL_REFUSED with a response of at most SASL_OUT_MAX
 * bytes, or a defined peer-fault code with no response. An error is
 * sticky (step and success return it again), and leaves no secret in the
 * engine (password, proof and response buffers all zero). Responses keep
 * their mechanism's shape: LOGIN sends the user, then the password;
 * CRAM-MD5 "user " and 32 hex digits; DIGEST-MD5 no CR, LF or NUL and
 * the client nonce; SCRAM "c=<gs2>,r=<our nonce>...,p=<proof>", then the
 * empty response; OAUTHBEARER "\x01" and XOAUTH2 "" after REFUSED. SCRAM
 * and DIGEST-MD5 never report success unless the server proof was checked
 * (an empty response to the second challenge, or success's own data).
 * The error text is NUL-terminated printable ASCII under SASL_ERRTEXT_MAX.
 * clear() zeroes the whole struct. The same input's bytes, read as an
 * offered list and a forced list, give sasl_choose a defined result: a
 * mechanism the server offered and the caller can use, or NO_MECH or
 * BAD_MECH.
 *
 * Built with -DSASL_SCRAM_ITER_MAX=1000 (fuzz/run.sh), so that no input
 * spends seconds in PBKDF2; the _small build also shrinks
 * SASL_CHALLENGE_MAX and SASL_OUT_MAX so those bounds are a few bytes away.
 */
#include "fuzz_common.h"
#include "sasl/sasl.h"

static const char NONCE[] = "rOprNGfwEbeRWgbNEkqO";

static int all_zero(const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] != 0)
            return 0;
    return 1;
}

static int peer_fault(int rc)
{
    switch (-rc) {
    case SMTP_E_SASL_CHALLENGE_TOO_LONG:
    case SMTP_E_SASL_UNEXPECTED:
    case SMTP_E_SASL_MALFORMED:
    case SMTP_E_SASL_UNSUPPORTED:
    case SMTP_E_SASL_NONCE_MISMATCH:
    case SMTP_E_SASL_ITERATIONS:
    case SMTP_E_SASL_SERVER_ERROR:
    case SMTP_E_SASL_SERVER_PROOF:
    case SMTP_E_SASL_NO_SERVER_PROOF:
    case SMTP_E_SASL_RESPONSE_TOO_LONG:
        return 1;
    }
    return 0;
}

static int has(const char *p, size_t n, const char *needle, size_t k)
{
    size_t i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return 1;
    return 0;
}

static void check_errtext(const sasl_client *c)
{
    size_t n, i;
    const char *t = sasl_client_errtext(c, &n);
    CHECK(n < SASL_ERRTEXT_MAX && t[n] == '\0');
    for (i = 0; i < n; i++)
        CHECK(t[i] >= 0x20 && t[i] < 0x7f);
}

static void check_failed(sasl_client *c, int rc)
{
    const char *out;
    size_t n;
    CHECK(peer_fault(rc));
    CHECK(sasl_client_error(c) == -rc);
    CHECK(all_zero(c->secret, sizeof c->secret));
    CHECK(all_zero(c->proof, sizeof c->proof));
    CHECK(all_zero(c->out, sizeof c->out));
    CHECK(sasl_client_step(c, "x", 1, &out, &n) == rc && out == NULL && n == 0);
    CHECK(sasl_client_success(c, NULL, 0) == rc);
}

/* The shape of the response to challenge number round (0-based). */
static void check_response(int mech, unsigned round, int rc, const char *out,
                           size_t n, int authz)
{
    size_t i;
    CHECK(out != NULL && n <= SASL_OUT_MAX);
    switch (mech) {
    case SASL_MECH_LOGIN:
        CHECK(rc == SASL_OK);
        if (round == 0)
            CHECK(n == 4 && memcmp(out, "user", 4) == 0);
        else
            CHECK(round == 1 && n == 6 && memcmp(out, "pencil", 6) == 0);
        break;
    case SASL_MECH_CRAM_MD5:
        CHECK(rc == SASL_OK && round == 0 && n == 5 + 32 && memcmp(out, "user ", 5) == 0);
        for (i = 5; i < n; i++)
            CHECK((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f'));
        break;
    case SASL_MECH_DIGEST_MD5:
        CHECK(rc == SASL_OK);
        if (round == 0) {
            CHECK(memchr(out, '\r', n) == NULL && memchr(out, '\n', n) == NULL &&
                  memchr(out, '\0', n) == NULL);
            CHECK(has(out, n, "cnonce=\"rOprNGfwEbeRWgbNEkqO\"", 29));
            CHECK(has(out, n, "digest-uri=\"smtp/mail.example.org\"", 34));
        } else {
            CHECK(round == 1 && n == 0);
        }
        break;
    case SASL_MECH_SCRAM_SHA_1:
    case SASL_MECH_SCRAM_SHA_256:
        CHECK(rc == SASL_OK);
        if (round == 0) {
            const char *c = authz ? "c=bixhPWFkPTJDbT0zRGluLA==,r=" : "c=biws,r=";
            size_t cl = strlen(c), pl = mech == SASL_MECH_SCRAM_SHA_1 ? 28 : 44;
            CHECK(n > cl + 20 + 3 + pl && memcmp(out, c, cl) == 0);
            CHECK(memcmp(out + cl, NONCE, 20) == 0);
            CHECK(memcmp(out + n - pl - 3, ",p=", 3) == 0);
            CHECK(out[n - 1] == '=');
        } else {
            CHECK(round == 1 && n == 0);
        }
        break;
    case SASL_MECH_XOAUTH2:
        CHECK(rc == SASL_REFUSED && round == 0 && n == 0);
        break;
    case SASL_MECH_OAUTHBEARER:
        CHECK(rc == SASL_REFUSED && round == 0 && n == 1 && out[0] == '\001');
        break;
    default:
        CHECK(0); /* PLAIN has nothing to answer */
    }
}

static void run_choose(const uint8_t *data, size_t size)
{
    unsigned mask = sasl_mech_mask((const char *)data, size);
    unsigned have = size > 0 ? data[0] & 3 : 1;
    size_t half = size / 2;
    int m = sasl_choose(mask, (const char *)data + half, size - half, have);
    CHECK(mask < (1u << SASL_MECH__COUNT));
    if (m >= 0) {
        int tok = m == SASL_MECH_XOAUTH2 || m == SASL_MECH_OAUTHBEARER;
        CHECK(m < SASL_MECH__COUNT && (mask & (1u << m)));
        CHECK(tok ? (have & SASL_HAVE_TOKEN) : (have & SASL_HAVE_PASSWORD));
    } else {
        CHECK(m == -SMTP_E_SASL_NO_MECH || m == -SMTP_E_SASL_BAD_MECH);
    }
    m = sasl_choose(mask, NULL, 0, have);
    CHECK(m == -SMTP_E_SASL_NO_MECH || (m >= 0 && (mask & (1u << m))));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sasl_client *c;
    sasl_params p;
    const char *out;
    size_t n, pos = 1;
    int mech, authz, as_success, rc = 0, proof_acked = 0, failed = 0;
    unsigned round = 0, k;
    struct {
        size_t off, len;
    } ch[6];
    unsigned nch = 0;

    run_choose(data, size);
    if (size < 1)
        return 0;
    mech = data[0] & 7;
    authz = (data[0] >> 3) & 1;
    as_success = (data[0] >> 4) & 1;
    while (pos < size && nch < 6) {
        size_t len = data[pos++];
        if (len >= 0xE0) {
            len = (len & 0x1F) << 8;
            if (pos < size)
                len |= data[pos++];
        }
        if (len > size - pos)
            len = size - pos;
        ch[nch].off = pos;
        ch[nch].len = len;
        nch++;
        pos += len;
    }

    memset(&p, 0, sizeof p);
    p.user = "user";
    p.userlen = 4;
    p.password = "pencil";
    p.passwordlen = 6;
    p.token = "tok3n";
    p.tokenlen = 5;
    p.host = "mail.example.org";
    p.hostlen = 16;
    p.port = 587;
    p.nonce = NONCE;
    p.noncelen = 20;
    if (authz) {
        p.authzid = "ad,m=in";
        p.authzidlen = 7;
    }
    c = malloc(sizeof *c);
    CHECK(sasl_client_init(c, mech, &p) == 0);
    CHECK(sasl_client_start(c, &out, &n) == 0);
    CHECK(out == NULL || n <= SASL_OUT_MAX);

    for (k = 0; k < nch; k++) {
        char *buf;
        int last = k + 1 == nch;
        if (last && as_success)
            break;
        buf = malloc(ch[k].len ? ch[k].len : 1);
        memcpy(buf, data + ch[k].off, ch[k].len);
        rc = sasl_client_step(c, buf, ch[k].len, &out, &n);
        free(buf);
        check_errtext(c);
        if (rc < 0) {
            CHECK(out == NULL && n == 0);
            check_failed(c, rc);
            failed = 1;
            break;
        }
        CHECK(rc == SASL_OK || rc == SASL_REFUSED);
        check_response(mech, round, rc, out, n, authz);
        if (round == 1 && n == 0)
            proof_acked = 1;
        round++;
    }
    if (!failed) {
        int needs = mech == SASL_MECH_DIGEST_MD5 || mech == SASL_MECH_SCRAM_SHA_1 ||
                    mech == SASL_MECH_SCRAM_SHA_256;
        const char *add = NULL;
        size_t addlen = 0;
        char *buf = NULL;
        if (as_success && nch > 0) {
            addlen = ch[nch - 1].len;
            buf = malloc(addlen ? addlen : 1);
            memcpy(buf, data + ch[nch - 1].off, addlen);
            add = buf;
        }
        rc = sasl_client_success(c, add, addlen);
        free(buf);
        check_errtext(c);
        if (rc == 0) {
            CHECK(!needs || proof_acked || (add != NULL && round == 1));
            CHECK(all_zero(c->secret, sizeof c->secret));
            CHECK(all_zero(c->out, sizeof c->out));
            CHECK(sasl_client_step(c, "", 0, &out, &n) == -SMTP_E_SASL_BAD_STATE);
        } else {
            check_failed(c, rc);
        }
    }
    sasl_client_clear(c);
    CHECK(all_zero(c, sizeof *c));
    free(c);
    return 0;
}
