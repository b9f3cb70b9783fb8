/* smtp_random.c -- OS random bytes; see smtp_random.h. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* getrandom */
#endif
#include <stdio.h>
#if defined(__linux__)
#include <sys/random.h>
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__)
#include <stdlib.h>
#define HAVE_ARC4RANDOM 1
#endif

#include "smtp_random.h"

int smtp_random(void *out, size_t n)
{
    char *buf = (char *)out;
    size_t got = 0;
#if defined(__linux__)
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
#elif defined(HAVE_ARC4RANDOM)
    arc4random_buf(buf, n);
    got = n;
#endif
    if (got < n) {
        FILE *f = fopen("/dev/urandom", "rb");
        if (f != NULL) {
            got += fread(buf + got, 1, n - got, f);
            fclose(f);
        }
    }
    return got == n ? 0 : -1;
}
