/*
 * tap.h -- a tiny header-only TAP harness for the C engine tests
 * (picotest-like).
 *
 *     ok(cond, "fmt", ...)                 one test line
 *     is_int(got, expected, "fmt", ...)    integers, both printed on failure
 *     is_str(got, expected, "fmt", ...)    NUL-terminated strings
 *     is_mem(got, glen, exp, elen, "fmt", ...)
 *                                          byte strings; on failure both are
 *                                          printed escaped (\r \n \t \\ \xNN)
 *                                          with the first differing offset
 *     diag("fmt", ...)                     a "# ..." comment line
 *     return done_testing();               prints the plan "1..N" and returns
 *                                          the exit code (0 when all passed)
 *
 * Output lines are exactly "ok N - desc" / "not ok N - desc" (CR, LF and
 * '#' in desc are escaped, so each test is one line); diagnostics start
 * with "# ". The plan comes last, so a run that crashes half-way has
 * no plan and a TAP consumer sees it as failed.
 *
 * Random numbers: tap_seed() reads TAP_SEED from the environment (default
 * a fixed value), prints "# seed N", and tap_rand() is a xorshift64*
 * generator, so every failure is reproducible with TAP_SEED=N.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count = 0;
static int tap_failed = 0;
static unsigned long long tap_rng = 0x2545F4914F6CDD1DULL;

static inline void tap_vline(int pass, const char *fmt, va_list ap)
{
    char desc[1024];
    const char *p;
    tap_count++;
    if (!pass)
        tap_failed++;
    vsnprintf(desc, sizeof desc, fmt, ap);
    printf("%sok %d - ", pass ? "" : "not ", tap_count);
    /* one line per test: escape line breaks, and '#' (a TAP directive) */
    for (p = desc; *p != '\0'; p++) {
        if (*p == '\r')
            fputs("\\r", stdout);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '#')
            fputs("\\#", stdout);
        else
            putchar(*p);
    }
    putchar('\n');
}

static inline int tap_ok_(int pass, const char *file, int line,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vline(pass, fmt, ap);
    va_end(ap);
    if (!pass)
        printf("#   at %s line %d\n", file, line);
    fflush(stdout);
    return pass;
}

static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
}

/* Print p[0..n) escaped; at most limit bytes, then "...". */
static inline void tap_escape(FILE *f, const void *p, size_t n, size_t limit)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i;
    if (s == NULL) {
        fputs("(null)", f);
        return;
    }
    putc('"', f);
    for (i = 0; i < n && i < limit; i++) {
        unsigned char c = s[i];
        switch (c) {
        case '\r': fputs("\\r", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\\': fputs("\\\\", f); break;
        case '"': fputs("\\\"", f); break;
        default:
            if (c < 0x20 || c >= 0x7f)
                fprintf(f, "\\x%02X", c);
            else
                putc(c, f);
        }
    }
    putc('"', f);
    if (n > limit)
        fprintf(f, "... (%lu bytes)", (unsigned long)n);
}

/* "#   label: "escaped"" around offset at, for long strings. */
static inline void tap_diag_mem(const char *label, const void *p, size_t n,
                                size_t at)
{
    size_t from = at > 60 ? at - 60 : 0;
    printf("#   %s (%lu bytes)%s: ", label, (unsigned long)n,
           from > 0 ? ", from offset" : "");
    if (from > 0)
        printf("%lu: ", (unsigned long)from);
    tap_escape(stdout, (const char *)p + (p ? from : 0), n > from ? n - from : 0,
               200);
    putchar('\n');
}

static inline int tap_is_mem_(const char *file, int line, const void *got,
                              size_t glen, const void *exp, size_t elen,
                              const char *fmt, ...)
{
    va_list ap;
    int pass = got != NULL && glen == elen &&
               (elen == 0 || memcmp(got, exp, elen) == 0);
    va_start(ap, fmt);
    tap_vline(pass, fmt, ap);
    va_end(ap);
    if (!pass) {
        size_t at = 0;
        const unsigned char *g = (const unsigned char *)got;
        const unsigned char *e = (const unsigned char *)exp;
        if (g != NULL)
            while (at < glen && at < elen && g[at] == e[at])
                at++;
        printf("#   at %s line %d\n", file, line);
        printf("#   first difference at offset %lu\n", (unsigned long)at);
        tap_diag_mem("     got", got, glen, at);
        tap_diag_mem("expected", exp, elen, at);
    }
    fflush(stdout);
    return pass;
}

static inline int tap_is_int_(long long got, long long exp, const char *file,
                              int line, const char *fmt, ...)
{
    va_list ap;
    int pass = got == exp;
    va_start(ap, fmt);
    tap_vline(pass, fmt, ap);
    va_end(ap);
    if (!pass) {
        printf("#   at %s line %d\n", file, line);
        printf("#        got: %lld\n#   expected: %lld\n", got, exp);
    }
    fflush(stdout);
    return pass;
}

#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, exp, ...) \
    tap_is_int_((long long)(got), (long long)(exp), __FILE__, __LINE__, __VA_ARGS__)
/* is_mem(got, glen, exp, elen, fmt, ...): a macro over __VA_ARGS__ so that
 * a STR("...") helper expanding to "pointer, length" may be passed. */
#define is_mem(...) tap_is_mem_(__FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, exp, ...)                                                \
    tap_is_mem_(__FILE__, __LINE__, (got), (got) ? strlen(got) : 0, (exp),   \
                strlen(exp), __VA_ARGS__)

static inline int done_testing(void)
{
    printf("1..%d\n", tap_count);
    if (tap_failed)
        printf("# failed %d of %d\n", tap_failed, tap_count);
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

/* Seed the generator from TAP_SEED (or the fixed default) and print it. */
static inline unsigned long long tap_seed(void)
{
    const char *env = getenv("TAP_SEED");
    unsigned long long seed = 20240601ULL;
    if (env != NULL && *env != '\0')
        seed = strtoull(env, NULL, 0);
    tap_rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    printf("# seed %llu (set TAP_SEED to reproduce)\n", seed);
    return seed;
}

static inline unsigned long long tap_rand(void)
{
    tap_rng ^= tap_rng >> 12;
    tap_rng ^= tap_rng << 25;
    tap_rng ^= tap_rng >> 27;
    return tap_rng * 0x2545F4914F6CDD1DULL;
}

/* Uniform-ish in [0, n); n > 0. */
static inline size_t tap_below(size_t n)
{
    return (size_t)(tap_rand() % n);
}

#endif
