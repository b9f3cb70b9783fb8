/*
 * mime_body.h -- the DATA-stage body filter (RFC 5321 4.5.2, 2.3.8,
 * 4.5.3.1.6; RFC 5322 3.5).
 *
 * Turns any byte stream into valid SMTP message content: every bare CR and
 * bare LF becomes CRLF (so no "<LF>.<CR><LF>" style end-of-data smuggling
 * sequence can reach the wire), a '.' starting a line is doubled, and
 * mime_body_finish writes the end-of-data marker: ".\r\n" after a final
 * CRLF (or an empty body), "\r\n.\r\n" otherwise. The output does not
 * depend on how the input is split (state carries across calls).
 *
 * Line length: a line may hold at most MIME_BODY_LINE_MAX (998) octets
 * before its CRLF, counted as the caller gave them, that is before
 * dot-stuffing: RFC 5321 4.5.3.1.6 does not count the dot doubled for
 * transparency (so a 998-octet line starting with '.' leaves as 999 octets
 * and CRLF; aiosmtpd takes up to 999 before the CRLF, Postfix 2048). A CR
 * or LF ends a line, as the filter writes it. The octet that would make a
 * line longer is never taken: the filter fails for good (mime_body_over).
 *
 * NUL: a NUL octet is never taken either (mime_body_nul). It is not text
 * (RFC 5322 3.5) and neither 7bit nor 8bit data (RFC 2045 2.7, 2.8; RFC
 * 6152); only BINARYMIME over BDAT (RFC 3030) carries it, never DATA.
 * Where a NUL is also the octet that would make its line too long, the
 * NUL is what the filter reports.
 */
#ifndef MIME_BODY_H
#define MIME_BODY_H

#include <stddef.h>

#define MIME_BODY_LINE_MAX 998 /* octets of a line, CRLF excluded */

typedef struct {
    int state;   /* line start / inside a line / after a CR (mime_body.c) */
    size_t col;  /* octets of the current line so far (a doubled dot once) */
    size_t over; /* 0, or the length of the line that went over the limit */
    int open;    /* that line did not end in the failing call's input */
    size_t taken; /* octets of this body taken so far */
    size_t nul;   /* 0, or where the NUL that stopped the filter is (from 1) */
} mime_body;

void mime_body_init(mime_body *st);

/* Filter in[0..n) into out[0..cap). Stops when out cannot take the next
 * input byte's output (at most 2 bytes); *used tells how much input was
 * taken. Returns the number of bytes written. cap >= 2n takes all input
 * (unless a line goes over the limit or a NUL comes).
 * A NUL, and an octet that would make a line longer than
 * MIME_BODY_LINE_MAX, are not taken: the filter stops before it and fails;
 * from then on it takes nothing and mime_body_finish writes nothing. */
size_t mime_body_update(mime_body *st, const char *in, size_t n, size_t *used,
                        char *out, size_t cap);

/* 0, or, once a line went over the limit, its length: the octets of that
 * line before the failing call plus those up to the next CR or LF in the
 * input of that call (all of them when the line ended there; otherwise
 * the line is at least this long, see mime_body_over_open). Bounded
 * state: the filter never reads past the input of the failing call. */
size_t mime_body_over(const mime_body *st);

/* After a failure: the long line did not end within the failing call's
 * input, so mime_body_over is a lower bound. */
int mime_body_over_open(const mime_body *st);

/* 0, or, once a NUL stopped the filter, its position in the body's
 * input, counted from 1 (the octets taken before it, plus one). */
size_t mime_body_nul(const mime_body *st);

/* Text sent as given that cannot be encoded (a preamble, an epilogue):
 * 0, or the position of the first NUL in s[0..n), counted from 1. */
size_t mime_body_text_nul(const char *s, size_t n);

/* Bytes mime_body_finish will write (3 or 5; 0 after a failure). */
size_t mime_body_finish_len(const mime_body *st);

/* Write the end-of-data marker into out (cap >= mime_body_finish_len) and
 * reset the state for a new body. Returns the bytes written. Writes
 * nothing and returns 0 after a failure: such content must never be
 * ended (the caller closes the connection). */
size_t mime_body_finish(mime_body *st, char *out, size_t cap);

#endif
