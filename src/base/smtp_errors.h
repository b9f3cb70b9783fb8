/*
 * smtp_errors.h -- the one list of engine error codes.
 *
 * SMTP_ERRORS(X) expands X(NAME, message) once per code; it generates the
 * enum, smtp_errname() and smtp_errmsg() (the http-parser HTTP_ERRNO_MAP
 * shape). Peer faults (the server sent something we cannot accept) and
 * caller faults (an argument we refuse to send) are different codes.
 */
#ifndef SMTP_ERRORS_H
#define SMTP_ERRORS_H

#define SMTP_ERRORS(X)                                                        \
    X(OK, "success")                                                          \
    /* peer faults: sticky, the connection cannot be used any more */         \
    X(REPLY_SYNTAX, "invalid server reply: malformed reply line")             \
    X(REPLY_MISMATCH, "invalid server reply: reply lines with different codes") \
    X(REPLY_LINE_TOO_LONG, "invalid server reply: reply line too long")       \
    X(REPLY_TOO_MANY_LINES, "invalid server reply: too many reply lines")     \
    X(REPLY_TOO_LONG, "invalid server reply: reply too long")                 \
    X(UNEXPECTED_DATA, "invalid server reply: data sent before a command")    \
    X(PEER_CLOSED, "closed")                                                  \
    /* driver faults: the binding fed the engine wrongly (sticky) */          \
    X(INPUT_OVERFLOW, "more input fed than requested")                        \
    /* caller faults: nothing was queued, the engine is unchanged */          \
    X(ARG_CRLF, "contains CR or LF")                                          \
    X(ARG_NUL, "contains NUL")                                                \
    X(ARG_EMPTY, "is empty")                                                  \
    X(ARG_TOO_LONG, "is too long")                                            \
    X(ARG_SYNTAX, "is not a valid address")                                   \
    X(ARG_ADDRESS, "has text after the closing '>' "                         \
                   "(ESMTP parameters are not allowed in an address)")        \
    X(HDR_NAME, "is not a valid header name")                                 \
    X(HDR_CRLF, "CR, LF and NUL are not allowed in a value")                  \
    X(HDR_8BIT, "non-ASCII text is not allowed in this header")               \
    X(HDR_TOO_LONG, "cannot be folded into lines of at most 998 octets")      \
    X(HDR_SYNTAX, "is not valid for this header")                             \
    X(LINE_TOO_LONG, "message content has a line longer than 998 octets "    \
                     "(RFC 5321 4.5.3.1.6)")                                  \
    X(CONTENT_NUL, "message content has a NUL byte (RFC 5322 3.5)")           \
    X(BAD_STATE, "not allowed in this state of the session")                  \
    X(BUSY, "pipeline full: write and read what is queued first")

typedef enum {
#define SMTP_ERR_ENUM(name, msg) SMTP_E_##name,
    SMTP_ERRORS(SMTP_ERR_ENUM)
#undef SMTP_ERR_ENUM
    SMTP_E__COUNT
} smtp_err;

/* "E<NAME>" style stable name, e.g. "EREPLY_SYNTAX"; never NULL. */
const char *smtp_errname(int err);
/* Human-readable message; never NULL. */
const char *smtp_errmsg(int err);

/* Caller faults leave the engine unchanged; everything else is sticky. */
#define SMTP_ERR_IS_CALLER(e) ((e) >= SMTP_E_ARG_CRLF)

#endif
