/*
 * test_random.c -- smtp_random: bytes from the OS generator. Every size
 * fills exactly the buffer asked for (guarded: a write past it faults),
 * the bytes are not all zero, two calls differ, and large requests (more
 * than getrandom returns at once) are filled to the end.
 *
 * Engines: smtp_random.c
 */
#include "guard.h" /* first: it sets the feature macros */
#include <string.h>
#include "tap.h"
#include "base/smtp_random.h"

#define BIG (1024 * 1024 + 7) /* more than one getrandom call may return */

/* Number of zero bytes in p[0..n). */
static size_t zeros(const unsigned char *p, size_t n)
{
    size_t i, z = 0;
    for (i = 0; i < n; i++)
        z += p[i] == 0;
    return z;
}

int main(void)
{
    static const size_t sizes[] = {1, 2, 15, 16, 17, 18, 32, 255, 256, 4096, 65537};
    guard g;
    unsigned char a[64], b[64];
    unsigned char *big;
    size_t i;
    int same;
    guard_init(&g, BIG);

    ok(smtp_random(a, 0) == 0, "n = 0 succeeds");
    ok(smtp_random(NULL, 0) == 0, "n = 0 with no buffer succeeds");

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *p = (unsigned char *)guard_space(&g, n);
        memset(p, 0, n);
        is_int(smtp_random(p, n), 0, "%zu bytes: filled up to the guard", n);
        /* the chance of more than half zero bytes in 16+ random bytes is
         * below 2^-50; 1 and 2 bytes are only checked for the return */
        if (n >= 16)
            ok(zeros(p, n) < n / 2, "%zu bytes: not mostly zero (%zu zero)", n, zeros(p, n));
    }

    /* the last bytes of a request are random too, not left as they were */
    big = (unsigned char *)guard_space(&g, BIG);
    memset(big, 0, BIG);
    is_int(smtp_random(big, BIG), 0, "%d bytes in one call", BIG);
    ok(zeros(big, BIG) < BIG / 128, "%d bytes: about 1/256 zero (%zu)", BIG, zeros(big, BIG));
    ok(zeros(big + BIG - 64, 64) < 32, "%d bytes: the last 64 are filled", BIG);

    same = 0;
    for (i = 0; i < 8; i++) {
        is_int(smtp_random(a, sizeof a), 0, "call %zu: a", i);
        is_int(smtp_random(b, sizeof b), 0, "call %zu: b", i);
        same += memcmp(a, b, sizeof a) == 0;
    }
    is_int(same, 0, "two calls of 64 bytes never give the same bytes");

    guard_free(&g);
    return done_testing();
}
