/*
 * fuzz_reply.c -- libFuzzer target for smtp_reply (the reply parser).
 *
 * Input: a byte stream from a server.
 *
 * Invariant: reply after reply, smtp_reply_parse gives either a complete
 * reply (SMTP_REPLY_DONE, 1 <= *used <= len), more needed (SMTP_REPLY_MORE,
 * *used == len) or a defined -SMTP_E_REPLY_* code -- never a crash, UB or
 * growth past the bounds. A kept reply respects every bound: code 200..599,
 * text < SMTP_REPLY_MAX bytes, NUL-terminated, no CR, lines joined by "\n"
 * (fewer than SMTP_REPLY_LINES_MAX, each shorter than SMTP_REPLY_LINE_MAX
 * and starting with the code), enhanced code "" or "c.s.d" with c the
 * reply's class. The stream is parsed whole and byte by byte (each byte in
 * its own 1-byte heap block, so reading past it is caught) and both give
 * exactly the same replies, end offsets and final outcome.
 */
#include "fuzz_common.h"
#include "smtp/smtp_reply.h"
#include "base/smtp_errors.h"

typedef struct {
    size_t end;
    int code;
    size_t len;
    char enhanced[12];
    size_t textpos; /* offset of the text in the run's text store */
} rec;

typedef struct {
    rec *recs;
    size_t nrecs;
    char *texts;
    size_t tlen;
    int final; /* SMTP_REPLY_MORE, DONE (ended on a boundary) or -error */
} run_result;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static void check_reply(const smtp_reply *r)
{
    size_t i, start = 0, lines = 0;
    CHECK(r->code >= 200 && r->code <= 599);
    CHECK(r->len < SMTP_REPLY_MAX);
    CHECK(r->text[r->len] == '\0');
    CHECK(memchr(r->text, '\r', r->len) == NULL);
    for (i = 0; i <= r->len; i++) {
        if (i == r->len || r->text[i] == '\n') {
            size_t n = i - start;
            lines++;
            /* the line without its line end, code first */
            CHECK(n >= 3 && n < SMTP_REPLY_LINE_MAX);
            CHECK(r->text[start] - '0' == r->code / 100);
            CHECK(r->text[start + 1] - '0' == r->code / 10 % 10);
            CHECK(r->text[start + 2] - '0' == r->code % 10);
            CHECK(n == 3 || r->text[start + 3] == ' ' || r->text[start + 3] == '-');
            /* only the last line has ' ' (or nothing) after the code */
            if (i < r->len)
                CHECK(n > 3 && r->text[start + 3] == '-');
            else
                CHECK(n == 3 || r->text[start + 3] == ' ');
            start = i + 1;
        }
    }
    CHECK(lines <= SMTP_REPLY_LINES_MAX);
    if (r->enhanced[0] != '\0') {
        const char *e = r->enhanced;
        size_t k = 0, parts = 0;
        CHECK(e[0] - '0' == r->code / 100);
        while (parts < 3) {
            size_t d = 0;
            while (is_digit(e[k])) {
                k++;
                d++;
            }
            CHECK(d >= 1 && d <= 3);
            parts++;
            if (parts < 3) {
                CHECK(e[k] == '.');
                k++;
            }
        }
        CHECK(e[k] == '\0');
        CHECK(strncmp(r->text + 4, e, k) == 0);
    }
}

static void run(const uint8_t *data, size_t size, int bytewise, run_result *res)
{
    smtp_reply *r = malloc(sizeof *r);
    size_t off = 0, start = 0;
    res->nrecs = 0;
    res->tlen = 0;
    res->final = SMTP_REPLY_DONE;
    smtp_reply_init(r);
    while (off < size) {
        size_t n = bytewise ? 1 : size - off, used = (size_t)-1;
        char *chunk = malloc(n); /* exactly n bytes: reading past is caught */
        int rc;
        memcpy(chunk, data + off, n);
        rc = smtp_reply_parse(r, chunk, n, &used);
        free(chunk);
        if (rc < 0) {
            CHECK(rc == -SMTP_E_REPLY_SYNTAX || rc == -SMTP_E_REPLY_MISMATCH ||
                  rc == -SMTP_E_REPLY_LINE_TOO_LONG ||
                  rc == -SMTP_E_REPLY_TOO_MANY_LINES || rc == -SMTP_E_REPLY_TOO_LONG);
            res->final = rc;
            free(r);
            return;
        }
        if (rc == SMTP_REPLY_MORE) {
            CHECK(used == n);
            CHECK(r->len < SMTP_REPLY_MAX);
            off += n;
            continue;
        }
        CHECK(rc == SMTP_REPLY_DONE);
        CHECK(used >= 1 && used <= n);
        off += used;
        check_reply(r);
        {
            rec *x = &res->recs[res->nrecs++];
            x->end = off;
            x->code = r->code;
            x->len = r->len;
            memcpy(x->enhanced, r->enhanced, sizeof x->enhanced);
            x->textpos = res->tlen;
            memcpy(res->texts + res->tlen, r->text, r->len);
            res->tlen += r->len;
            /* the kept text is never longer than the bytes it came from */
            CHECK(r->len <= off - start);
        }
        smtp_reply_init(r);
        start = off;
    }
    if (off > start)
        res->final = SMTP_REPLY_MORE;
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_result a, b;
    size_t i;
    a.recs = malloc((size / 4 + 1) * sizeof *a.recs);
    b.recs = malloc((size / 4 + 1) * sizeof *b.recs);
    a.texts = malloc(size + 1);
    b.texts = malloc(size + 1);
    run(data, size, 0, &a);
    run(data, size, 1, &b);
    /* whole and byte by byte agree on everything */
    CHECK(a.final == b.final);
    CHECK(a.nrecs == b.nrecs);
    for (i = 0; i < a.nrecs; i++) {
        CHECK(a.recs[i].end == b.recs[i].end);
        CHECK(a.recs[i].code == b.recs[i].code);
        CHECK(a.recs[i].len == b.recs[i].len);
        CHECK(strcmp(a.recs[i].enhanced, b.recs[i].enhanced) == 0);
        CHECK(memcmp(a.texts + a.recs[i].textpos, b.texts + b.recs[i].textpos,
                     a.recs[i].len) == 0);
    }
    free(a.recs);
    free(b.recs);
    free(a.texts);
    free(b.texts);
    return 0;
}
