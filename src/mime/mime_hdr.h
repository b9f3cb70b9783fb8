/*
 * mime_hdr.h -- header fields: validation, encoding, folding.
 *
 * The only place that writes a header line (STYLE.md 12, as smtp_cmd is for
 * commands). A name must be printable ASCII without ':' (RFC 5322 2.2); a
 * value must not hold CR, LF or NUL. Values are then written as:
 *   - unstructured headers (Subject, Comments, X-..., unknown names):
 *     non-ASCII words as RFC 2047 encoded-words (UTF-8, B or Q, whichever
 *     is shorter), split so that each stays under 76 characters;
 *   - address headers (From, To, Cc, Bcc, Reply-To, Sender, Resent-*):
 *     only display names (phrases) are encoded; addresses, angle brackets,
 *     commas and group syntax are left as they are;
 *   - parameter headers (Content-Type, Content-Disposition): a parameter
 *     value that is non-ASCII or too long is written as RFC 2231
 *     (name*=utf-8''%XX..., with name*0*=... continuations);
 *   - other structured headers (Message-ID, Date, References, MIME-Version,
 *     Content-Transfer-Encoding, ...): ASCII only (SMTP_E_HDR_8BIT).
 * Lines are folded at white space so that no line exceeds 78 octets where
 * possible, and never 998 (SMTP_E_HDR_TOO_LONG when a token cannot be split).
 * Output: "Canonical-Name: value" CRLF, continuation lines starting with a
 * space.
 *
 * In more detail (mime_hdr.c has the rest):
 *   - unstructured: consecutive words that need encoding (non-ASCII,
 *     control characters, "=?" anywhere, or too long for a 998-octet line),
 *     with the white space between them, become one run of encoded-words
 *     "=?utf-8?Q?...?=" / "=?utf-8?B?...?=" (Q when not longer than B), at
 *     most 75 characters each, never splitting a UTF-8 character. Other
 *     words are written as they are. If a line would still exceed 998
 *     octets (a huge run of white space), the whole value is written as
 *     encoded-words, so an unstructured value never fails for its length.
 *   - address: display names (and comments) that need encoding are written
 *     as encoded-words, quotes and escapes removed; addr-specs, angle-addrs,
 *     commas and group syntax are kept; a space is added after ',' and ':'
 *     where there was none, and folding happens at white space between
 *     tokens. A non-ASCII addr-spec is SMTP_E_HDR_8BIT. An unterminated
 *     quoted-string, comment or angle-addr is SMTP_E_HDR_SYNTAX.
 *   - params: "value; a=b; c=\"d\"" is written with "; " between the
 *     parameters (empty ones dropped), folding after each ';'. Parameters
 *     whose names are not tokens of at most MIME_HDR_ATTR_MAX octets, or
 *     already in RFC 2231 form ("name*..."), are written as given.
 *   - structured (and the params value before the first ';'): folded at
 *     white space only; leading and trailing white space dropped.
 *   - With MIME_HDR_UTF8, valid UTF-8 is written raw everywhere; bytes that
 *     are not valid UTF-8 are encoded (unstructured, phrases, comments) or
 *     refused with SMTP_E_HDR_8BIT.
 */
#ifndef MIME_HDR_H
#define MIME_HDR_H

#include <stddef.h>

/* Longest header name accepted: "Name: " must fit a 78-octet line. */
#ifndef MIME_HDR_NAME_MAX
#define MIME_HDR_NAME_MAX 76
#endif

/* Longest parameter name that is rewritten in RFC 2231 form (longer ones
 * are written as given); it bounds what one continuation line costs. */
#ifndef MIME_HDR_ATTR_MAX
#define MIME_HDR_ATTR_MAX 40
#endif

enum {
    MIME_HDR_UNSTRUCTURED,
    MIME_HDR_ADDRESS,
    MIME_HDR_PARAMS,
    MIME_HDR_STRUCTURED
};

enum {
    /* SMTPUTF8 session (RFC 6532): UTF-8 text is written as it is. */
    MIME_HDR_UTF8 = 1,
    /* Always take the full writer, never the one-line shortcut (the
     * shortcut gives the same bytes; tests compare the two). */
    MIME_HDR_FULL = 0x100
};

/* The kind of a header by its name (case-insensitive). */
int mime_hdr_kind(const char *name, size_t n);

/* 0 or -SMTP_E_HDR_NAME: 1..MIME_HDR_NAME_MAX octets of 33..126 except
 * ':' (RFC 5322 ftext). */
int mime_hdr_check_name(const char *name, size_t n);

/* 0 or -SMTP_E_HDR_CRLF. */
int mime_hdr_check_value(const char *value, size_t n);

/* Canonical capitalisation of name into out (n bytes): "x-custom-header"
 * -> "X-Custom-Header" (the first letter of every run of letters and
 * digits upper case, the rest lower case), with the exceptions that
 * canonic() in lua/socket/smtp/message.lua had before the C generator:
 * MIME-Version, Message-ID, Content-ID, Content-MD5, DKIM-Signature,
 * List-ID, Resent-Message-ID. */
void mime_hdr_canonic(const char *name, size_t n, char *out);

/* A header name checked once, in canonical form, with its kind: callers
 * that write the same names many times prepare them once. */
typedef struct {
    char canon[MIME_HDR_NAME_MAX];
    size_t len;
    int kind;
} mime_hdr_name;

/* 0, or -SMTP_E_HDR_NAME (hn is then unusable). */
int mime_hdr_name_init(mime_hdr_name *hn, const char *name, size_t n);

/* mime_hdr_format for a prepared name. */
long mime_hdr_write(const mime_hdr_name *hn, const char *value, size_t vlen,
                    unsigned flags, char *out, size_t cap);

/* Most bytes mime_hdr_format can write for a name and value of these
 * lengths (about 12 * vlen; SIZE_MAX when that overflows). */
size_t mime_hdr_bound(size_t nlen, size_t vlen);

/* Write the header field into out[0..cap). Returns the bytes written, or
 * -SMTP_E_HDR_* (nothing usable written) or -SMTP_E_BUSY when cap is
 * smaller than needed (cap >= mime_hdr_bound() never is). Errors are
 * checked in this order: HDR_NAME, HDR_CRLF, then HDR_8BIT / HDR_SYNTAX /
 * HDR_TOO_LONG, then BUSY; nothing is written past cap. */
long mime_hdr_format(const char *name, size_t nlen, const char *value,
                     size_t vlen, unsigned flags, char *out, size_t cap);

#endif
