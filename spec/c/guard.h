/*
 * guard.h -- put test bytes right in front of a PROT_NONE page.
 *
 * picohttpparser style: the bytes handed to an engine end exactly where an
 * inaccessible page begins, so reading one byte too far faults at once
 * (also without ASan, e.g. under valgrind). The same trick bounds output
 * buffers: guard_space() gives n writable bytes whose end is the guard, so
 * writing past a stated capacity faults too.
 *
 *     guard g;
 *     guard_init(&g, 4096);               room for up to 4096 bytes
 *     p = guard_put(&g, src, n);          p[0..n) == src, p + n is the guard
 *     o = guard_space(&g, cap);           o[0..cap) writable, o + cap guard
 *     guard_free(&g);
 *
 * One mapping can be reused for every chunk of a split input: each
 * guard_put() moves the chunk against the guard. Include this header
 * before any system header (it asks for MAP_ANONYMOUS).
 */
#ifndef GUARD_H
#define GUARD_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    unsigned char *map; /* the whole mapping */
    size_t maplen;
    unsigned char *end; /* first byte of the PROT_NONE page */
    size_t cap;         /* usable bytes before end */
} guard;

static inline void guard_init(guard *g, size_t cap)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (cap + page - 1) / page * page;
    void *m;
    if (data == 0)
        data = page;
    m = mmap(NULL, data + page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("guard: mmap");
        abort();
    }
    g->map = (unsigned char *)m;
    g->maplen = data + page;
    g->end = g->map + data;
    g->cap = data;
    if (mprotect(g->end, page, PROT_NONE) != 0) {
        perror("guard: mprotect");
        abort();
    }
}

/* n writable bytes that end at the guard page. */
static inline char *guard_space(guard *g, size_t n)
{
    if (n > g->cap) {
        fprintf(stderr, "guard: %lu bytes do not fit in %lu\n",
                (unsigned long)n, (unsigned long)g->cap);
        abort();
    }
    return (char *)(g->end - n);
}

/* A copy of src[0..n) that ends at the guard page. */
static inline const char *guard_put(guard *g, const void *src, size_t n)
{
    char *p = guard_space(g, n);
    if (n > 0)
        memcpy(p, src, n);
    return p;
}

static inline void guard_free(guard *g)
{
    if (g->map != NULL)
        munmap(g->map, g->maplen);
    g->map = g->end = NULL;
    g->maplen = g->cap = 0;
}

#endif
