/*
 * mime_body.h -- the DATA-stage body filter (RFC 5321 4.5.2, 2.3.8).
 *
 * Turns any byte stream into valid SMTP message content: every bare CR and
 * bare LF becomes CRLF (so no "<LF>.<CR><LF>" style end-of-data smuggling
 * sequence can reach the wire), a '.' starting a line is doubled, and
 * mime_body_finish writes the end-of-data marker: ".\r\n" after a final
 * CRLF (or an empty body), "\r\n.\r\n" otherwise. The output does not
 * depend on how the input is split (state carries across calls).
 */
#ifndef MIME_BODY_H
#define MIME_BODY_H

#include <stddef.h>

typedef struct {
    int state; /* line start / inside a line / after a CR (mime_body.c) */
} mime_body;

void mime_body_init(mime_body *st);

/* Filter in[0..n) into out[0..cap). Stops when out cannot take the next
 * input byte's output (at most 2 bytes); *used tells how much input was
 * taken. Returns the number of bytes written. cap >= 2n takes all input. */
size_t mime_body_update(mime_body *st, const char *in, size_t n, size_t *used,
                        char *out, size_t cap);

/* Bytes mime_body_finish will write (3 or 5). */
size_t mime_body_finish_len(const mime_body *st);

/* Write the end-of-data marker into out (cap >= mime_body_finish_len) and
 * reset the state for a new body. Returns the bytes written. */
size_t mime_body_finish(mime_body *st, char *out, size_t cap);

#endif
