/*
 * smtp_random.h -- bytes from the operating system's random generator,
 * for nonces (SASL) and MIME boundaries.
 *
 * getrandom() on Linux, arc4random_buf() on the BSDs and macOS, and
 * /dev/urandom for what those could not give. No state of its own.
 */
#ifndef SMTP_RANDOM_H
#define SMTP_RANDOM_H

#include <stddef.h>

/* Fills out[0..n) (n may be 0): 0, or -1 when there is no source (then
 * out holds fewer than n random bytes and must not be used). */
int smtp_random(void *out, size_t n);

#endif
