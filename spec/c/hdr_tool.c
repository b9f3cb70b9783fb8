/*
 * hdr_tool.c -- a small driver for mime_hdr_format, used by hdr_oracle.py.
 *
 *   hdr_tool [-u] Name value      prints the formatted field (CRLF kept);
 *                                 exit 1 and "ENAME" on stderr on error
 *   hdr_tool --batch              records on stdin, results on stdout
 *
 * Batch records (binary-safe), in and out:
 *   in:  "<flags> <namelen> <valuelen>\n" name value
 *   out: "<rc> <len>\n" bytes           rc: 0 or the error name (EHDR_8BIT)
 * The output buffer is exactly mime_hdr_bound() bytes, and the tool also
 * checks that the result does not depend on having more room.
 *
 * Engines: mime_hdr.c smtp_errors.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mime/mime_hdr.h"
#include "base/smtp_errors.h"

static int one(unsigned flags, const char *name, size_t nlen, const char *value,
               size_t vlen, FILE *out, int batch)
{
    size_t cap = mime_hdr_bound(nlen, vlen);
    char *buf = malloc(cap + 64);
    long r;
    if (buf == NULL) {
        fprintf(stderr, "hdr_tool: out of memory\n");
        exit(2);
    }
    r = mime_hdr_format(name, nlen, value, vlen, flags, buf, cap);
    if (r < 0) {
        if (batch)
            fprintf(out, "%s 0\n", smtp_errname((int)-r));
        else
            fprintf(stderr, "%s\n", smtp_errname((int)-r));
        free(buf);
        return 1;
    }
    if (batch)
        fprintf(out, "0 %ld\n", r);
    fwrite(buf, 1, (size_t)r, out);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned flags = 0;
    int i = 1;
    if (argc == 2 && strcmp(argv[1], "--batch") == 0) {
        unsigned long f, nl, vl;
        while (scanf("%lu %lu %lu", &f, &nl, &vl) == 3) {
            char *name, *value;
            if (getchar() != '\n')
                return 2;
            name = malloc(nl + 1);
            value = malloc(vl + 1);
            if (name == NULL || value == NULL)
                return 2;
            if (fread(name, 1, nl, stdin) != nl || fread(value, 1, vl, stdin) != vl)
                return 2;
            one((unsigned)f, name, nl, value, vl, stdout, 1);
            fflush(stdout);
            free(name);
            free(value);
        }
        return 0;
    }
    if (i < argc && strcmp(argv[i], "-u") == 0) {
        flags |= MIME_HDR_UTF8;
        i++;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: hdr_tool [-u] Name value | hdr_tool --batch\n");
        return 2;
    }
    return one(flags, argv[i], strlen(argv[i]), argv[i + 1], strlen(argv[i + 1]),
               stdout, 0);
}
