/*
 * sasl_mechs.h -- the SASL mechanisms this project knows, as one X-macro
 * list: X(id, IANA name). The SASL engine (sasl.h) numbers them; the
 * capability parser (smtp/smtp_caps.h) takes its AUTH bits from the same
 * list, so a bit of smtp_caps.mechs is a sasl_mech bit.
 */
#ifndef SASL_MECHS_H
#define SASL_MECHS_H

#define SASL_MECHS(X)                 \
    X(PLAIN, "PLAIN")                 \
    X(LOGIN, "LOGIN")                 \
    X(CRAM_MD5, "CRAM-MD5")           \
    X(DIGEST_MD5, "DIGEST-MD5")       \
    X(SCRAM_SHA_1, "SCRAM-SHA-1")     \
    X(SCRAM_SHA_256, "SCRAM-SHA-256") \
    X(XOAUTH2, "XOAUTH2")             \
    X(OAUTHBEARER, "OAUTHBEARER")

#endif
