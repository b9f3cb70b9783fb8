/*
 * smtp_reply.h -- incremental SMTP reply parser (RFC 5321 4.2).
 *
 * Fed bytes split anywhere, it assembles one reply: lines of the form
 * "ddd-text" ending in a line "ddd text" (or "ddd"), all with the same code.
 * Lines end in CRLF or a bare LF. The text is kept the way LuaSocket's
 * socket.tp returns it: the lines, code included, joined by "\n".
 * Bounds: SMTP_REPLY_LINE_MAX per line, SMTP_REPLY_LINES_MAX lines,
 * SMTP_REPLY_MAX bytes of text.
 */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include <stddef.h>
#include "base/smtp_config.h"

typedef struct {
    int state;         /* position inside the current line (smtp_reply.c) */
    int code;          /* code of the first line, 0 until known */
    int linecode;      /* code being read on the current line */
    int last;          /* the current line ends the reply */
    unsigned nlines;   /* complete lines so far */
    size_t linelen;    /* bytes of the current line, CRLF included */
    size_t len;        /* bytes in text */
    char enhanced[12]; /* "5.1.1" if the first line has one, else "" */
    char text[SMTP_REPLY_MAX];
} smtp_reply;

enum { SMTP_REPLY_MORE = 0, SMTP_REPLY_DONE = 1 };

/* Start a new reply. */
void smtp_reply_init(smtp_reply *r);

/* Parse from buf. Returns SMTP_REPLY_DONE when a reply is complete (*used
 * tells how much of buf it took; the rest belongs to the next reply),
 * SMTP_REPLY_MORE when all of buf was taken and more is needed, or a
 * negative smtp_err code (-SMTP_E_REPLY_...) when the reply is malformed
 * (*used is then what was taken up to and including the byte at which
 * it was refused; for a fault of a whole line, its end).
 * *used is set on every return. */
int smtp_reply_parse(smtp_reply *r, const char *buf, size_t len, size_t *used);

/* A complete reply, read-only (for the binding, which never reads the
 * struct): its code, its text (the lines, codes included, joined by "\n";
 * *len bytes), and its enhanced status code ("5.1.1"), NULL when the
 * first line has none. */
int smtp_reply_code(const smtp_reply *r);
const char *smtp_reply_text(const smtp_reply *r, size_t *len);
const char *smtp_reply_enhanced(const smtp_reply *r);

#endif
