/*
 * smtp_caps.h -- EHLO capability parser (RFC 5321 4.1.1.1).
 *
 * Reads the text of an EHLO reply (as smtp_reply keeps it) and records the
 * service extensions: known ones as bits, SIZE as a number, AUTH mechanisms
 * as bits, and every keyword with its parameters (keyword upper-cased) for
 * look-up by name. Keywords are case-insensitive; the old "AUTH=LOGIN"
 * form is read as AUTH.
 */
#ifndef SMTP_CAPS_H
#define SMTP_CAPS_H

#include <stddef.h>
#include "base/smtp_config.h"
#include "sasl/sasl_mechs.h"

#define SMTP_EXTS(X)                  \
    X(PIPELINING, "PIPELINING")       \
    X(SIZE, "SIZE")                   \
    X(8BITMIME, "8BITMIME")           \
    X(SMTPUTF8, "SMTPUTF8")           \
    X(STARTTLS, "STARTTLS")           \
    X(AUTH, "AUTH")                   \
    X(ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES") \
    X(CHUNKING, "CHUNKING")           \
    X(BINARYMIME, "BINARYMIME")       \
    X(DSN, "DSN")                     \
    X(REQUIRETLS, "REQUIRETLS")

/* The AUTH mechanisms: the SASL engine's list. */
#define SMTP_MECHS(X) SASL_MECHS(X)

enum {
#define SMTP_EXT_BIT(id, name) SMTP_EXTBIT_##id,
    SMTP_EXTS(SMTP_EXT_BIT)
#undef SMTP_EXT_BIT
    SMTP_EXT__COUNT
};
enum {
#define SMTP_MECH_BIT(id, name) SMTP_MECHBIT_##id,
    SMTP_MECHS(SMTP_MECH_BIT)
#undef SMTP_MECH_BIT
    SMTP_MECH__COUNT
};
#define SMTP_EXT(id) (1u << SMTP_EXTBIT_##id)
#define SMTP_MECH(id) (1u << SMTP_MECHBIT_##id)

typedef struct {
    unsigned ext;            /* SMTP_EXT(...) bits */
    unsigned mechs;          /* SMTP_MECH(...) bits from AUTH */
    unsigned long long size; /* SIZE limit; 0 when absent or unlimited */
    size_t len;              /* bytes used in raw */
    char raw[SMTP_CAPS_MAX]; /* "KEYWORD params\n" per extension */
} smtp_caps;

void smtp_caps_init(smtp_caps *caps);

/* Parse an EHLO reply's text: lines joined by "\n", each with its code.
 * The first line (the server's name) is skipped. Extensions that do not
 * fit in raw are still recorded as bits. */
void smtp_caps_parse(smtp_caps *caps, const char *text, size_t len);

/* Parameters of the extension named keyword (case-insensitive) or NULL
 * when the server did not offer it; *plen gets their length. */
const char *smtp_caps_find(const smtp_caps *caps, const char *keyword,
                           size_t klen, size_t *plen);

/* The SMTP_MECH(...) bits of the AUTH mechanisms offered (every AUTH line
 * counts), and the SIZE limit: 0 when SIZE is absent or unlimited. */
unsigned smtp_caps_mechs(const smtp_caps *caps);
unsigned long long smtp_caps_size(const smtp_caps *caps);

/* The extensions kept, in order: from *pos (0 to start), the next keyword
 * (upper-case) and its parameters ("" for a bare keyword), pointers into
 * caps. Returns 1, or 0 past the last one. */
int smtp_caps_next(const smtp_caps *caps, size_t *pos, const char **kw, size_t *klen,
                   const char **params, size_t *plen);

/* Name of extension bit / mechanism bit i, NULL past the end. */
const char *smtp_caps_ext_name(int i);
const char *smtp_caps_mech_name(int i);

#endif
