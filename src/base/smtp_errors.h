/*
 * smtp_errors.h -- the one list of error codes, for every engine (SMTP
 * client, command formatter, reply parser, MIME, SASL).
 *
 * SMTP_ERRORS(X) expands X(NAME, KIND, message) once per code; it
 * generates the enum (SMTP_E_NAME), smtp_errname() ("E" NAME: the
 * details.name users see) and smtp_errmsg() (the http-parser
 * HTTP_ERRNO_MAP shape). To add a code, add a line in its section; the
 * enum values are not stable, the names are. (The rows are alike in shape
 * on purpose: they are data, one X a code.)
 *
 * KIND says what the code means for the engine that returns it:
 *   NONE    OK only
 *   PEER    the server sent something we cannot accept: sticky, the
 *           connection (or the SASL exchange) cannot be used any more
 *   DRIVER  the binding fed the engine wrongly: sticky
 *   CALLER  an argument or a call we refuse: nothing was queued, the
 *           engine is unchanged (smtp_err_is_caller)
 *
 * One sign convention: a function that fails returns the negated code,
 * -SMTP_E_..., and 0 (or a non-negative result: a length, a count, a
 * mechanism, SASL_REFUSED) otherwise. The code itself -- a sticky error
 * kept in a struct, smtp_event.err, the argument of smtp_errname() and
 * smtp_errmsg() -- is positive.
 */
#ifndef SMTP_ERRORS_H
#define SMTP_ERRORS_H

#define SMTP_ERRORS(X)                                                        \
    X(OK, NONE, "success")                                                    \
    /* ---- the SMTP session (smtp_reply.c, smtp_client.c) ---- */            \
    X(REPLY_SYNTAX, PEER, "invalid server reply: malformed reply line")       \
    X(REPLY_MISMATCH, PEER, "invalid server reply: reply lines with different codes") \
    X(REPLY_LINE_TOO_LONG, PEER, "invalid server reply: reply line too long") \
    X(REPLY_TOO_MANY_LINES, PEER, "invalid server reply: too many reply lines") \
    X(REPLY_TOO_LONG, PEER, "invalid server reply: reply too long")           \
    X(UNEXPECTED_DATA, PEER, "invalid server reply: data sent before a command") \
    X(PEER_CLOSED, PEER, "closed")                                            \
    X(INPUT_OVERFLOW, DRIVER, "more input fed than requested")                \
    /* ---- arguments (smtp_cmd.c, smtp_client.c, mime_gen.c) ---- */         \
    X(ARG_CRLF, CALLER, "contains CR or LF")                                  \
    X(ARG_NUL, CALLER, "contains NUL")                                        \
    X(ARG_EMPTY, CALLER, "is empty")                                          \
    X(ARG_TOO_LONG, CALLER, "is too long")                                    \
    X(ARG_SYNTAX, CALLER, "is not a valid address")                           \
    X(ARG_ADDRESS, CALLER, "has text after the closing '>' "                 \
                           "(ESMTP parameters are not allowed in an address)") \
    /* ---- headers and message content (mime_hdr.c, mime_gen.c, body) ---- */ \
    X(HDR_NAME, CALLER, "is not a valid header name")                         \
    X(HDR_CRLF, CALLER, "CR, LF and NUL are not allowed in a value")          \
    X(HDR_8BIT, CALLER, "non-ASCII text is not allowed in this header")       \
    X(HDR_TOO_LONG, CALLER, "cannot be folded into lines of at most 998 octets") \
    X(HDR_SYNTAX, CALLER, "is not valid for this header")                     \
    X(LINE_TOO_LONG, CALLER, "message content has a line longer than 998 octets " \
                             "(RFC 5321 4.5.3.1.6)")                          \
    X(CONTENT_NUL, CALLER, "message content has a NUL byte (RFC 5322 3.5)")   \
    /* ---- the message table and its file bodies (lmime.c, lmime_gen.c) ---- */ \
    X(HDR_TOO_MANY, CALLER, "too many header fields in one part")             \
    X(MSG_TYPE, CALLER, "a field of the message table has the wrong type")    \
    X(MSG_ENCODING, CALLER, "is not an encoding this body can take")          \
    X(FILE, CALLER, "a file body cannot be opened or read")                   \
    X(FILE_CHANGED, CALLER, "a file body changed after encoding = \"auto\" found it 7bit") \
    /* ---- calls out of order, or too early ---- */                          \
    X(BAD_STATE, CALLER, "not allowed in this state of the session")          \
    X(BUSY, CALLER, "pipeline full: write and read what is queued first")     \
    /* ---- SASL (sasl.c): caller faults; the messages of those about a     \
     * field follow its name (sasl_client_field): "password is too long" */  \
    X(SASL_BAD_MECH, CALLER, "unknown authentication mechanism")              \
    X(SASL_NO_MECH, CALLER, "no authentication mechanism in common with the server") \
    X(SASL_MISSING, CALLER, "is required by this mechanism")                  \
    X(SASL_ARG_TOO_LONG, CALLER, "is too long")                               \
    X(SASL_ARG_CHARS, CALLER, "contains a character this mechanism cannot send") \
    X(SASL_ARG_NONCE, CALLER, "must be 8-128 printable ASCII characters without , \" or \\") \
    X(SASL_BAD_STATE, CALLER, "not allowed in this state of the authentication exchange") \
    /* ---- SASL: the server's challenges and proofs (sticky) ---- */         \
    X(SASL_CHALLENGE_TOO_LONG, PEER, "server challenge too long")             \
    X(SASL_UNEXPECTED, PEER, "unexpected server challenge")                   \
    X(SASL_MALFORMED, PEER, "malformed server challenge")                     \
    X(SASL_UNSUPPORTED, PEER, "server requires an option this client does not support") \
    X(SASL_NONCE_MISMATCH, PEER, "server nonce does not extend the client nonce") \
    X(SASL_ITERATIONS, PEER, "server iteration count out of bounds")          \
    X(SASL_SERVER_ERROR, PEER, "server reported an authentication error")     \
    X(SASL_SERVER_PROOF, PEER, "server signature is wrong: the server does not know the password") \
    X(SASL_NO_SERVER_PROOF, PEER, "server reported success without proving that it knows the password") \
    X(SASL_RESPONSE_TOO_LONG, PEER, "authentication response too long")

typedef enum {
#define SMTP_ERR_ENUM(name, kind, msg) SMTP_E_##name,
    SMTP_ERRORS(SMTP_ERR_ENUM)
#undef SMTP_ERR_ENUM
    SMTP_E__COUNT
} smtp_err;

/* "E<NAME>" style stable name, e.g. "EREPLY_SYNTAX", "ESASL_SERVER_PROOF";
 * "EUNKNOWN" for anything but a (positive) code of the list; never NULL. */
const char *smtp_errname(int err);
/* Human-readable message ("unknown error" for anything else); never NULL. */
const char *smtp_errmsg(int err);
/* 1 when err is a caller fault (KIND CALLER: the engine is unchanged),
 * 0 for OK, the sticky kinds and anything not in the list. */
int smtp_err_is_caller(int err);

#endif
