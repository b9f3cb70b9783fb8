/*
 * smtp_cmd.h -- the only place that writes a command line.
 *
 * A command is the concatenation of pieces followed by CRLF. Every piece is
 * checked first: CR, LF and NUL are refused (-SMTP_E_ARG_CRLF/ARG_NUL), and
 * so is a line longer than its bound (-SMTP_E_ARG_TOO_LONG). Nothing is
 * written unless the whole line is valid and fits.
 */
#ifndef SMTP_CMD_H
#define SMTP_CMD_H

#include <stddef.h>

typedef struct {
    const char *p;
    size_t n;
} smtp_piece;

/* Append pieces[0..npieces) and CRLF to out[*len..cap). max bounds the
 * line, CRLF included. Returns 0, -SMTP_E_ARG_* when a piece is refused,
 * or -SMTP_E_BUSY when the valid line does not fit in the space left. */
int smtp_cmd_format(char *out, size_t cap, size_t *len,
                    const smtp_piece *pieces, int npieces, size_t max);

/* The checks of smtp_cmd_format (every piece, then the bound max on the
 * line with its CRLF) without writing: 0 or -SMTP_E_ARG_*. */
int smtp_cmd_fits(const smtp_piece *pieces, int npieces, size_t max);

/* Check one argument without formatting: 0 or -SMTP_E_ARG_CRLF/ARG_NUL. */
int smtp_cmd_check(const char *s, size_t n);

/* Find the path ("<local@domain>") in a MAIL/RCPT argument as callers of
 * LuaSocket write it: "<a@b>" (kept as given), "a@b" (brackets added),
 * "Name <a@b>" (the bracketed part is taken: the first '<' outside a
 * quoted string). White space around the whole is dropped. The path ends
 * at its closing '>' (one inside a quoted local part, <"a>b"@c>, does not
 * close it): anything after it, such as " NOTIFY=NEVER", is refused with
 * -SMTP_E_ARG_ADDRESS; parameters go in the params argument of
 * smtp_client_mail/rcpt. Inside the brackets, white space only in a
 * quoted string. Sets *start and *n to the part of s to send and *wrap to
 * 1 when brackets must be added. An empty s gives "<>" when null_ok (MAIL
 * FROM:<>); so does "<>", which is refused otherwise.
 * Returns 0 or -SMTP_E_ARG_EMPTY / ARG_SYNTAX / ARG_ADDRESS / ARG_CRLF /
 * ARG_NUL. */
int smtp_cmd_path(const char *s, size_t len, int null_ok,
                  size_t *start, size_t *n, int *wrap);

/* The envelope commands: the pieces of "MAIL FROM:<path>" (mail != 0) or
 * "RCPT TO:<path>", then " params" when plen > 0, for smtp_cmd_format
 * (or smtp_cmd_fits) with the bound SMTP_CMD_MAX, the rule for the
 * length of an envelope line (smtp_client and core.check both use it).
 * addr goes through smtp_cmd_path (its errors returned, *npieces = 0);
 * params is checked by the formatter. p points into addr and params. */
#define SMTP_ENVELOPE_PIECES 6
int smtp_cmd_envelope(smtp_piece p[SMTP_ENVELOPE_PIECES], int *npieces, int mail,
                      const char *addr, size_t len, const char *params, size_t plen);

/* Check an EHLO/HELO argument: a domain or address literal, 1 to 255
 * bytes, no spaces. Returns 0 or -SMTP_E_ARG_*. */
int smtp_cmd_domain(const char *d, size_t len);

#endif
