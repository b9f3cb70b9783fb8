/*
 * mime_enc.h -- content transfer encoders.
 *
 * Base64 (RFC 4648 alphabet, padded). This first unit is the one-shot form
 * that AUTH needs; the streaming encoders of the message generator extend it.
 */
#ifndef MIME_ENC_H
#define MIME_ENC_H

#include <stddef.h>

/* Length of the base64 form of n bytes (no line breaks). */
#define MIME_B64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode in[0..n) as base64 into out (room for MIME_B64_LEN(n) bytes).
 * Returns the bytes written. */
size_t mime_b64_encode(const unsigned char *in, size_t n, char *out);

#endif
