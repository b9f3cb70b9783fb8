/*
 * fuzz_common.h -- what every libFuzzer target here shares.
 *
 * CHECK(cond) states an invariant: when it does not hold, the target
 * aborts, and libFuzzer saves the input that broke it. A reader hands out
 * the input a byte at a time (take: 0 once it is used up), for the
 * targets that draw their operations from it.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, \
                    __LINE__);                                                 \
            abort();                                                           \
        }                                                                      \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static inline unsigned take(reader *r)
{
    unsigned v;
    if (r->n == 0)
        return 0;
    v = r->p[0];
    r->p++;
    r->n--;
    return v;
}

#endif
