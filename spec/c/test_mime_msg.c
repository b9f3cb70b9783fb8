/*
 * test_mime_msg.c -- the message policy engine: header order (as data),
 * lists kept in order, the defaults and MIME-Version, Content-Disposition
 * of files, boundaries (format, Content-Type, clash check through nested
 * multiparts), preamble/epilogue checks, the name and line caches (hits
 * give the same bytes as misses; a value at a reused address with other
 * bytes is formatted again; a full name cache spills), the transfer
 * encoding of leaves (RFC 2045 6.4 composite exception, a NUL or a long
 * line in a string given no encoding, "auto"), the re-check of 7bit files,
 * emit resumed after -SMTP_E_BUSY at every step, header errors.
 *
 * Engines: mime_msg.c mime_gen.c mime_hdr.c mime_enc.c mime_body.c smtp_errors.c
 */
#include "guard.h"
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "mime/mime_msg.h"
#include "mime/mime_gen.h"
#include "mime/mime_enc.h"
#include "mime/mime_body.h"
#include "base/smtp_errors.h"

#define STR(s) s, sizeof(s) - 1

/* A generator with program memory grown by `step` bytes at a time (1:
 * every append is refused once first). */
typedef struct {
    mime_gen g;
    char *text;
    mime_op *ops;
    size_t textcap, capops, step;
    char out[512];
    int busy;
} tgen;

static void tgen_init(tgen *t, size_t step)
{
    memset(t, 0, sizeof *t);
    t->step = step;
    mime_gen_init(&t->g, t->out, sizeof t->out);
}

static void tgen_free(tgen *t)
{
    free(t->text);
    free(t->ops);
}

static void grow(tgen *t)
{
    size_t nt, no;
    mime_gen_need(&t->g, &nt, &no);
    t->busy++;
    if (t->textcap < nt)
        t->textcap = t->step > 0 && nt < t->textcap + t->step ? t->textcap + t->step : nt;
    if (t->capops < no)
        t->capops = no;
    t->text = realloc(t->text, t->textcap ? t->textcap : 1);
    t->ops = realloc(t->ops, (t->capops ? t->capops : 1) * sizeof(mime_op));
    mime_gen_memory(&t->g, t->text, t->textcap, t->ops, t->capops);
}

/* The part's header block into t; returns mime_msg_emit's result. */
static int emit(mime_msg *m, tgen *t, unsigned auto_id)
{
    int rc;
    while ((rc = mime_msg_emit(m, &t->g, auto_id)) == -SMTP_E_BUSY)
        grow(t);
    return rc;
}

/* The program's text as a C string (for strstr). */
static char *text(tgen *t)
{
    static char buf[8192];
    size_t n = mime_gen_textlen(&t->g);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, mime_gen_textptr(&t->g), n);
    buf[n] = '\0';
    return buf;
}

static void add(mime_msg *m, const char *name, const char *value)
{
    int anchor;
    mime_msg_add(m, name, strlen(name), value, strlen(value), &anchor);
}

/* Position of needle in hay, or -1. */
static long pos(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    return p != NULL ? (long)(p - hay) : -1;
}

static void test_order(void)
{
    static mime_msg m;
    tgen t;
    const char *s;
    int i;
    static const char *const want[] = {
        "Date: d", "From: f@x", "Sender: s@x", "Reply-To: r@x", "To: t@x", "Cc: c@x",
        "Bcc: b@x", "Subject: subj", "Message-ID: <id@x>", "In-Reply-To: <i@x>",
        "References: <r@x>", "MIME-Version: 1.0", "Content-Type: text/html",
        "Content-Transfer-Encoding: 8bit", "Content-Disposition: inline",
        "Content-Description: desc", "Content-ID: <c@x>", "X-Mailer: xm",
        "A-First: 1", "X-Aaa: 2", "X-Zzz: 3", NULL
    };
    mime_msg_init(&m);
    tgen_init(&t, 0);
    mime_msg_part_begin(&m);
    /* given backwards, mixed case */
    add(&m, "x-zzz", "3");
    add(&m, "X-MAILER", "xm");
    add(&m, "content-id", "<c@x>");
    add(&m, "Content-Description", "desc");
    add(&m, "content-disposition", "inline");
    add(&m, "Content-Transfer-Encoding", "8bit");
    add(&m, "content-type", "text/html");
    add(&m, "mime-version", "1.0");
    add(&m, "references", "<r@x>");
    add(&m, "in-reply-to", "<i@x>");
    add(&m, "message-id", "<id@x>");
    add(&m, "subject", "subj");
    add(&m, "bcc", "b@x");
    add(&m, "cc", "c@x");
    add(&m, "to", "t@x");
    add(&m, "reply-to", "r@x");
    add(&m, "sender", "s@x");
    add(&m, "from", "f@x");
    add(&m, "X-Aaa", "2");
    add(&m, "a-first", "1");
    add(&m, "date", "d");
    is_int(emit(&m, &t, 0), 0, "order: emitted");
    s = text(&t);
    for (i = 0; want[i] != NULL; i++)
        ok(pos(s, want[i]) >= 0, "order: %s written", want[i]);
    for (i = 1; want[i] != NULL; i++)
        ok(pos(s, want[i - 1]) < pos(s, want[i]), "order: %s before %s", want[i - 1], want[i]);
    ok(strlen(s) >= 2 && strcmp(s + strlen(s) - 4, "\r\n\r\n") == 0, "order: blank line last");
    /* the order as data */
    is_int(mime_msg_rank("date"), MIME_MSG_H_DATE, "rank date");
    is_int(mime_msg_rank("x-mailer"), MIME_MSG_H_X_MAILER, "rank x-mailer");
    is_int(mime_msg_rank("content-transfer-encoding"), MIME_MSG_H_CTE, "rank cte");
    is_int(mime_msg_rank("x-other"), MIME_MSG_H_OTHER, "rank other");
    is_str(mime_msg_known(MIME_MSG_H_CONTENT_DISPOSITION), "content-disposition", "known");
    ok(mime_msg_known(MIME_MSG_H__COUNT) == NULL && mime_msg_known(-1) == NULL, "known: out of range");
    for (i = 0; i < MIME_MSG_H__COUNT; i++)
        is_int(mime_msg_rank(mime_msg_known(i)), i, "rank of known %d", i);
    tgen_free(&t);
}

static void test_same_name_and_list(void)
{
    static mime_msg m;
    tgen t;
    const char *s;
    const char *vals[MIME_MSG_NDEFAULTS] = {"D", NULL, "XM"};
    size_t lens[MIME_MSG_NDEFAULTS] = {1, 0, 2};
    mime_msg_init(&m);
    tgen_init(&t, 0);
    /* one name repeated in a map-like part: kept in the order given */
    mime_msg_part_begin(&m);
    add(&m, "Received", "b");
    add(&m, "Subject", "s");
    add(&m, "received", "a");
    is_int(emit(&m, &t, 0), 0, "repeat: emitted");
    s = text(&t);
    ok(pos(s, "Subject: s") < pos(s, "Received: b") &&
       pos(s, "Received: b") < pos(s, "Received: a"), "repeat: known first, then given order");
    tgen_free(&t);
    /* a list: not sorted; what the engine adds follows, in its order */
    tgen_init(&t, 0);
    mime_msg_part_begin(&m);
    mime_msg_listed(&m, 1);
    add(&m, "X-Z", "z");
    add(&m, "Subject", "s");
    add(&m, "MIME-Version", "9.9");
    mime_msg_top(&m, vals, lens);
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, STR("hi"), MIME_GEN_RAW, 0), MIME_GEN_RAW,
           "list: a short string goes as given");
    is_int(emit(&m, &t, 0), 0, "list: emitted");
    s = text(&t);
    is_str(s, "X-Z: z\r\nSubject: s\r\nDate: D\r\nX-Mailer: XM\r\nMIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n\r\n",
           "list: order kept, defaults then MIME-Version then the type");
    tgen_free(&t);
}

static void test_defaults(void)
{
    static mime_msg m;
    tgen t;
    const char *s;
    const char *vals[MIME_MSG_NDEFAULTS] = {"Mon, 1 Jan 2024 00:00:00 +0000", "<gen@x>", "me 1"};
    size_t lens[MIME_MSG_NDEFAULTS];
    int i;
    for (i = 0; i < MIME_MSG_NDEFAULTS; i++)
        lens[i] = strlen(vals[i]);
    is_int(mime_msg_default_rank(0), MIME_MSG_H_DATE, "defaults: date first");
    is_int(mime_msg_default_rank(1), MIME_MSG_H_MESSAGE_ID, "defaults: message-id");
    is_int(mime_msg_default_rank(2), MIME_MSG_H_X_MAILER, "defaults: x-mailer");
    is_int(mime_msg_default_rank(3), -1, "defaults: three");
    mime_msg_init(&m);
    tgen_init(&t, 0);
    mime_msg_part_begin(&m);
    add(&m, "Message-ID", "<mine@x>");
    add(&m, "Mime-Version", "2.0");
    add(&m, "MIME-VERSION", "3.0");
    mime_msg_top(&m, vals, lens);
    is_int(emit(&m, &t, 0), 0, "defaults: emitted");
    s = text(&t);
    ok(pos(s, "Date: Mon, 1 Jan 2024") >= 0, "defaults: date added");
    ok(pos(s, "Message-ID: <mine@x>") >= 0 && pos(s, "<gen@x>") < 0, "defaults: caller's message-id kept");
    ok(pos(s, "X-Mailer: me 1") >= 0, "defaults: x-mailer added");
    ok(pos(s, "MIME-Version: 1.0") >= 0 && pos(s, "2.0") < 0 && pos(s, "3.0") < 0,
       "defaults: MIME-Version is 1.0, the caller's dropped");
    ok(pos(s, "Content-Type") < 0, "defaults: no type before the leaf says");
    tgen_free(&t);
}

static void test_disposition(void)
{
    static mime_msg m;
    char buf[128];
    size_t n;
    tgen t;
    const char *s, *v;
    n = mime_msg_disposition(STR("a \"b\"\\c.txt"), NULL, 0, NULL, 0);
    is_int((long)mime_msg_disposition(STR("a \"b\"\\c.txt"), NULL, 0, buf, sizeof buf), (long)n,
           "disposition: length known first");
    is_mem(buf, n, STR("attachment; filename=\"a \\\"b\\\"\\\\c.txt\""), "disposition: escaped name");
    n = mime_msg_disposition(NULL, 0, STR("/tmp/dir/report.pdf"), buf, sizeof buf);
    is_mem(buf, n, STR("attachment; filename=\"report.pdf\""), "disposition: last path segment");
    n = mime_msg_disposition(NULL, 0, STR("plain"), buf, sizeof buf);
    is_mem(buf, n, STR("attachment; filename=\"plain\""), "disposition: path without a slash");
    n = mime_msg_disposition(NULL, 0, STR("dir/"), buf, sizeof buf);
    is_mem(buf, n, STR("attachment; filename=\"\""), "disposition: path ending in a slash");
    ok(mime_msg_disposition(STR("x"), NULL, 0, buf, 3) > 3, "disposition: nothing written short");
    /* file headers */
    mime_msg_init(&m);
    tgen_init(&t, 0);
    mime_msg_part_begin(&m);
    n = mime_msg_disposition(NULL, 0, STR("/a/b.bin"), buf, sizeof buf);
    mime_msg_file(&m, NULL, 0, buf, n);
    is_int(mime_msg_leaf(&m, MIME_MSG_FILE, NULL, 0, MIME_CTE_BASE64, 1), MIME_CTE_BASE64,
           "file: base64");
    is_int(emit(&m, &t, 0), 0, "file: emitted");
    s = text(&t);
    ok(pos(s, "Content-Type: application/octet-stream\r\n") >= 0, "file: default type");
    ok(pos(s, "Content-Disposition: attachment; filename=\"b.bin\"") >= 0, "file: disposition");
    ok(pos(s, "Content-Transfer-Encoding: base64\r\n") >= 0, "file: cte header");
    tgen_free(&t);
    /* the caller's type and disposition win; the file's type over the default */
    tgen_init(&t, 0);
    mime_msg_part_begin(&m);
    add(&m, "Content-Disposition", "inline");
    mime_msg_file(&m, STR("image/png"), buf, n);
    v = mime_msg_value(&m, MIME_MSG_H_CONTENT_TYPE, &n);
    is_mem(v, n, STR("image/png"), "file: its content_type");
    v = mime_msg_value(&m, MIME_MSG_H_CONTENT_DISPOSITION, &n);
    is_mem(v, n, STR("inline"), "file: the caller's disposition kept");
    mime_msg_part_begin(&m);
    add(&m, "content-type", "text/x-mine");
    mime_msg_file(&m, STR("image/png"), NULL, 0);
    v = mime_msg_value(&m, MIME_MSG_H_CONTENT_TYPE, &n);
    is_mem(v, n, STR("text/x-mine"), "file: the caller's header over content_type");
    ok(!mime_msg_has(&m, MIME_MSG_H_CONTENT_DISPOSITION), "file: no disposition given, none made");
    ok(mime_msg_value(&m, MIME_MSG_H_CTE, &n) == NULL && n == 0, "value: none");
    tgen_free(&t);
}

static void test_boundary(void)
{
    static mime_msg m;
    unsigned char rnd[MIME_MSG_BOUNDARY_RANDOM];
    char bd[MIME_MSG_BOUNDARY_LEN], bd2[MIME_MSG_BOUNDARY_LEN], ct[200];
    size_t n, i, at;
    int hex = 1;
    for (i = 0; i < sizeof rnd; i++)
        rnd[i] = (unsigned char)(i * 37 + 250);
    mime_msg_boundary(rnd, bd);
    ok(bd[0] == '=' && bd[1] == '_', "boundary: starts with =_");
    for (i = 2; i < sizeof bd; i++)
        if (!((bd[i] >= '0' && bd[i] <= '9') || (bd[i] >= 'a' && bd[i] <= 'f')))
            hex = 0;
    ok(hex, "boundary: then lower-case hex");
    is_mem(bd, 6, STR("=_fa1f"), "boundary: the bytes in order");
    is_int(MIME_MSG_BOUNDARY_LEN, 38, "boundary: 38 octets (at most 70: RFC 2046)");
    mime_msg_init(&m);
    mime_msg_part_begin(&m);
    n = mime_msg_multipart_type(&m, bd, sizeof bd, ct, sizeof ct);
    ok(n == 15 + 12 + sizeof bd + 1 && memcmp(ct, "multipart/mixed; boundary=\"=_", 29) == 0 &&
       ct[n - 1] == '"', "boundary: default type multipart/mixed");
    add(&m, "Content-Type", "multipart/alternative");
    n = mime_msg_multipart_type(&m, bd, sizeof bd, NULL, 0);
    is_int((long)mime_msg_multipart_type(&m, bd, sizeof bd, ct, n), (long)n, "boundary: length first");
    ok(memcmp(ct, "multipart/alternative; boundary=\"", 33) == 0, "boundary: the caller's type");
    ok(mime_msg_multipart_type(&m, bd, sizeof bd, ct, n - 1) == n && ct[n - 1] != '"' + 1,
       "boundary: nothing promised short");
    /* clash check, nested */
    ok(mime_msg_contains(STR("xx=_ab"), STR("=_ab")), "contains: at the end");
    ok(!mime_msg_contains(STR("xx=_a"), STR("=_ab")), "contains: cut short");
    ok(!mime_msg_contains(STR(""), STR("=_ab")), "contains: empty text");
    ok(mime_msg_contains(STR("=_ab"), STR("=_ab")), "contains: whole");
    mime_msg_restart(&m);
    mime_msg_open(&m, bd, sizeof bd);
    mime_msg_check(&m, STR("nothing here =_ but not it"));
    ok(!mime_msg_clash(&m), "clash: none");
    for (i = 0; i < sizeof rnd; i++)
        rnd[i] = (unsigned char)(i * 11);
    mime_msg_boundary(rnd, bd2);
    mime_msg_open(&m, bd2, sizeof bd2);
    {
        char s[100];
        memcpy(s, "pre ", 4);
        memcpy(s + 4, bd, sizeof bd);
        mime_msg_part_begin(&m);
        is_int(mime_msg_leaf(&m, MIME_MSG_STRING, s, 4 + sizeof bd, MIME_GEN_RAW, 0), MIME_GEN_RAW,
               "clash: leaf as given");
        ok(mime_msg_clash(&m), "clash: the outer boundary in an inner leaf");
    }
    mime_msg_restart(&m);
    ok(!mime_msg_clash(&m) && m.nopen == 0, "restart: clash and open boundaries cleared");
    mime_msg_open(&m, bd, sizeof bd);
    mime_msg_close(&m);
    mime_msg_part_begin(&m);
    mime_msg_leaf(&m, MIME_MSG_STRING, bd, sizeof bd, MIME_GEN_RAW, 0);
    ok(!mime_msg_clash(&m), "clash: a closed boundary is not checked");
    mime_msg_open(&m, bd, sizeof bd);
    mime_msg_part_begin(&m);
    mime_msg_leaf(&m, MIME_MSG_SOURCE, NULL, 0, MIME_GEN_RAW, 0);
    mime_msg_leaf(&m, MIME_MSG_NONE, NULL, 0, MIME_GEN_RAW, 0);
    ok(!mime_msg_clash(&m), "clash: a source or no body is not checked");
    /* preamble and epilogue */
    is_int(mime_msg_text(&m, STR("fine\r\ntext"), &at), 0, "text: fine");
    ok(!mime_msg_clash(&m), "text: no clash");
    is_int(mime_msg_text(&m, "ab\0c", 4, &at), -SMTP_E_CONTENT_NUL, "text: a NUL");
    is_int((long)at, 3, "text: at octet 3");
    {
        char big[1200];
        memset(big, 'a', sizeof big);
        memcpy(big, "x\r\n", 3);
        is_int(mime_msg_text(&m, big, 1001, &at), 0, "text: a line of 998 octets");
        is_int(mime_msg_text(&m, big, 1002, &at), -SMTP_E_LINE_TOO_LONG, "text: of 999");
        is_int((long)at, 999, "text: its length");
        memcpy(big + 500, bd, sizeof bd);
        is_int(mime_msg_text(&m, big, 600, &at), 0, "text: with the boundary");
        ok(mime_msg_clash(&m), "text: checked against the open boundary");
    }
}

static void test_caches(void)
{
    static mime_msg m;
    tgen t, u;
    char val[32];
    char expect[4096];
    int i, anchor;
    const char *s;
    mime_msg_init(&m);
    tgen_init(&t, 0);
    /* the same value string in many parts: copied, the same bytes */
    for (i = 0; i < 5; i++) {
        mime_msg_part_begin(&m);
        add(&m, "Content-Type", "text/plain; charset=\"us-ascii\"");
        add(&m, "X-Same", "the same value");
        is_int(emit(&m, &t, 0), 0, "cache: part %d", i);
    }
    expect[0] = '\0';
    for (i = 0; i < 5; i++)
        strcat(expect, "Content-Type: text/plain; charset=\"us-ascii\"\r\nX-Same: the same value\r\n\r\n");
    is_str(text(&t), expect, "cache: hits give what misses gave");
    tgen_free(&t);
    /* one buffer, other bytes at the same address and length: formatted
     * again, never the old line */
    tgen_init(&t, 0);
    expect[0] = '\0';
    for (i = 0; i < 4; i++) {
        snprintf(val, sizeof val, "value number %d", i);
        mime_msg_part_begin(&m);
        add(&m, "X-Val", val);
        is_int(emit(&m, &t, 0), 0, "reuse: part %d", i);
        strcat(expect, "X-Val: ");
        strcat(expect, val);
        strcat(expect, "\r\n\r\n");
    }
    is_str(text(&t), expect, "reuse: a value at a reused address is its own");
    tgen_free(&t);
    /* same value, other name (same address): the name is part of the key */
    tgen_init(&t, 0);
    strcpy(val, "shared");
    mime_msg_part_begin(&m);
    add(&m, "X-One", val);
    add(&m, "X-Two", val);
    is_int(emit(&m, &t, 0), 0, "same value, two names");
    is_str(text(&t), "X-One: shared\r\nX-Two: shared\r\n\r\n", "same value, two names: both");
    tgen_free(&t);
    /* a value that encodes: the line copied is the encoded one */
    tgen_init(&t, 0);
    for (i = 0; i < 2; i++) {
        mime_msg_part_begin(&m);
        add(&m, "Subject", "caf\xc3\xa9");
        is_int(emit(&m, &t, 0), 0, "encoded: part %d", i);
    }
    s = text(&t);
    ok(pos(s, "Subject: =?utf-8?") == 0 && pos(s + 1, "Subject: =?utf-8?") > 0,
       "encoded: written encoded twice");
    tgen_free(&t);
    /* the name cache: the first name entered, the same pointer found again */
    mime_msg_init(&m);
    mime_msg_part_begin(&m);
    mime_msg_add(&m, STR("X-A"), STR("1"), &anchor);
    is_int(anchor, 1, "names: a new name is anchored");
    s = "X-A";
    mime_msg_add(&m, s, 3, STR("2"), &anchor);
    ok(anchor == 0 || s != m.hs[0].name, "names: the same string is found again");
    /* a full cache: names prepared for one part (spill), output right */
    mime_msg_init(&m);
    tgen_init(&t, 0);
    tgen_init(&u, 0);
    {
        static char names[200][16];
        int entered = 0;
        for (i = 0; i < 200; i++) {
            snprintf(names[i], sizeof names[i], "X-N%03d", i);
            mime_msg_part_begin(&m);
            mime_msg_add(&m, names[i], strlen(names[i]), STR("v"), &anchor);
            entered += anchor;
            is_int(emit(&m, &t, 0), 0, "spill: part %d", i);
        }
        is_int(entered, MIME_MSG_NAME_SLOTS * 3 / 4, "spill: the cache holds 3/4 of its slots");
        expect[0] = '\0';
        s = text(&t);
        ok(pos(s, "X-N000: v\r\n\r\nX-N001: v") == 0, "spill: first names right");
        ok(pos(s, "X-N199: v\r\n\r\n") > 0 && pos(s, "X-N150: v\r\n\r\nX-N151: v") > 0,
           "spill: spilled names right");
        /* the spilled names again (other parts): still right */
        for (i = 150; i < 153; i++) {
            mime_msg_part_begin(&m);
            mime_msg_add(&m, names[i], strlen(names[i]), STR("w"), &anchor);
            is_int(anchor, 0, "spill: not anchored %d", i);
            is_int(emit(&m, &u, 0), 0, "spill again: part %d", i);
        }
        is_str(text(&u), "X-N150: w\r\n\r\nX-N151: w\r\n\r\nX-N152: w\r\n\r\n", "spill: again right");
    }
    tgen_free(&t);
    tgen_free(&u);
}

static void test_encoding(void)
{
    static mime_msg m;
    tgen t;
    char longline[1100];
    const char *v;
    size_t n;
    memset(longline, 'a', sizeof longline);
    mime_msg_init(&m);
    /* a short string given nothing: as given, no CTE header */
    mime_msg_part_begin(&m);
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, STR("hello\r\n"), MIME_GEN_RAW, 0), MIME_GEN_RAW,
           "plain: as given");
    ok(!mime_msg_has(&m, MIME_MSG_H_CTE), "plain: no CTE header");
    v = mime_msg_value(&m, MIME_MSG_H_CONTENT_TYPE, &n);
    is_mem(v, n, STR(MIME_MSG_LEAF_TYPE), "plain: LuaSocket's default type");
    /* a line over 998: encoded, with its header */
    mime_msg_part_begin(&m);
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, longline, sizeof longline, MIME_GEN_RAW, 0),
           mime_cte_choose((const unsigned char *)longline, sizeof longline), "long line: encoded as auto would");
    v = mime_msg_value(&m, MIME_MSG_H_CTE, &n);
    ok(v != NULL && (strncmp(v, "quoted-printable", n) == 0 || strncmp(v, "base64", n) == 0),
       "long line: its header");
    /* exactly 998: as given */
    mime_msg_part_begin(&m);
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, longline, 998, MIME_GEN_RAW, 0), MIME_GEN_RAW,
           "998 octets: as given");
    /* a NUL: base64 */
    mime_msg_part_begin(&m);
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, "a\0b", 3, MIME_GEN_RAW, 0), MIME_CTE_BASE64,
           "NUL: base64");
    /* composite types: never encoded (RFC 2045 6.4) */
    mime_msg_part_begin(&m);
    add(&m, "Content-Type", "  Multipart/Alternative; boundary=x");
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, longline, sizeof longline, MIME_GEN_RAW, 0),
           MIME_GEN_RAW, "multipart type: as given");
    ok(!mime_msg_has(&m, MIME_MSG_H_CTE), "multipart type: no CTE header");
    mime_msg_part_begin(&m);
    add(&m, "content-type", "message/rfc822");
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, "a\0b", 3, MIME_GEN_RAW, 0), MIME_GEN_RAW,
           "message type: as given, even with a NUL (the DATA filter refuses it)");
    /* the caller's CTE header: as given */
    mime_msg_part_begin(&m);
    add(&m, "Content-Transfer-Encoding", "binary");
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, longline, sizeof longline, MIME_GEN_RAW, 0),
           MIME_GEN_RAW, "caller's CTE: as given");
    v = mime_msg_value(&m, MIME_MSG_H_CTE, &n);
    is_mem(v, n, STR("binary"), "caller's CTE: kept");
    /* an encoding given: it, and its header replaces the caller's */
    mime_msg_part_begin(&m);
    add(&m, "Content-Transfer-Encoding", "binary");
    add(&m, "content-transfer-encoding", "8bit");
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, STR("x"), MIME_CTE_QP, 1), MIME_CTE_QP, "given: qp");
    v = mime_msg_value(&m, MIME_MSG_H_CTE, &n);
    is_mem(v, n, STR("quoted-printable"), "given: its header");
    is_int(m.n, 2, "given: the caller's two dropped");
    /* auto on a string: chosen now */
    mime_msg_part_begin(&m);
    is_int(mime_msg_leaf(&m, MIME_MSG_STRING, STR("plain text\r\n"), MIME_GEN_AUTO, 1), MIME_CTE_7BIT,
           "auto string: 7bit");
    mime_msg_part_begin(&m);
    is_int(mime_msg_leaf(&m, MIME_MSG_NONE, NULL, 0, MIME_GEN_AUTO, 1), MIME_CTE_7BIT,
           "auto, no body: 7bit");
    mime_msg_part_begin(&m);
    is_int(mime_msg_leaf(&m, MIME_MSG_NONE, "ignored\0", 8, MIME_GEN_RAW, 0), MIME_GEN_RAW,
           "no body: as given");
    /* auto on a source: at run time, no header now */
    mime_msg_part_begin(&m);
    add(&m, "Content-Transfer-Encoding", "binary");
    is_int(mime_msg_leaf(&m, MIME_MSG_SOURCE, NULL, 0, MIME_GEN_AUTO, 1), MIME_GEN_AUTO,
           "auto source: later");
    ok(!mime_msg_has(&m, MIME_MSG_H_CTE), "auto source: no header now");
    tgen_init(&t, 0);
    is_int(emit(&m, &t, 7), 0, "auto source: emitted with the run-time slot");
    is_int((long)m.at, 0, "auto source: emit done");
    tgen_free(&t);
    /* files: auto by a scan of the whole file */
    {
        mime_cte_scan s;
        int recheck = -1, more;
        mime_cte_scan_init(&s);
        more = mime_msg_scan(&s, "ab\r\ncd\r\n", 8);
        is_int(more, 1, "scan: more wanted");
        is_int(mime_msg_auto_file(&s, &recheck), MIME_CTE_7BIT, "file auto: 7bit");
        is_int(recheck, 1, "file auto: 7bit is checked again when sent");
        is_int(mime_msg_recheck(&s, "more\r\n", 6), 0, "recheck: still 7bit");
        ok(mime_msg_recheck(&s, "\xff", 1) != 0, "recheck: 8-bit data found");
        mime_cte_scan_init(&s);
        is_int(mime_msg_scan(&s, "a\0b", 3), 0, "scan: a NUL ends it");
        is_int(mime_msg_auto_file(&s, &recheck), MIME_CTE_BASE64, "file auto: NUL base64");
        is_int(recheck, 0, "file auto: base64 not checked again");
        mime_cte_scan_init(&s);
        mime_msg_scan(&s, longline, sizeof longline);
        mime_msg_auto_file(&s, &recheck);
        is_int(recheck, 0, "file auto: a long line is not 7bit");
        mime_cte_scan_init(&s);
        mime_msg_recheck(&s, longline, 500);
        ok(mime_msg_recheck(&s, longline, 600) != 0, "recheck: a line grown over 998 across blocks");
    }
}

/* Emit resumed after -SMTP_E_BUSY at every step gives what one call gives. */
static void test_resume(void)
{
    static mime_msg m;
    tgen a, b;
    int k;
    for (k = 0; k < 2; k++) {
        size_t na, nb;
        tgen *t[2];
        int j;
        tgen_init(&a, 0);
        tgen_init(&b, 1);
        t[0] = &a;
        t[1] = &b;
        mime_msg_init(&m);
        for (j = 0; j < 2; j++) {
            int r;
            for (r = 0; r < 3; r++) {
                mime_msg_part_begin(&m);
                add(&m, "From", "Someone <a@b.example>");
                add(&m, "Subject", "a subject that is long enough to be worth folding maybe");
                add(&m, "X-Rep", "repeated value");
                if (k == 0)
                    mime_msg_leaf(&m, MIME_MSG_SOURCE, NULL, 0, MIME_GEN_AUTO, 1);
                is_int(emit(&m, t[j], k == 0 ? 3u : 0u), 0, "resume %d: emitted (%s)", k,
                       j ? "step 1" : "whole");
            }
            mime_msg_init(&m);
        }
        na = mime_gen_textlen(&a.g);
        nb = mime_gen_textlen(&b.g);
        is_mem(mime_gen_textptr(&b.g), nb, mime_gen_textptr(&a.g), na, "resume %d: same bytes", k);
        ok(b.busy >= 3, "resume %d: refused at least once a part (%d)", k, b.busy);
        tgen_free(&a);
        tgen_free(&b);
    }
}

static void test_errors(void)
{
    static mime_msg m;
    tgen t;
    size_t n;
    const char *name;
    mime_msg_init(&m);
    tgen_init(&t, 0);
    mime_msg_part_begin(&m);
    add(&m, "Subject", "ok");
    add(&m, "Bad Name", "v");
    is_int(emit(&m, &t, 0), -SMTP_E_HDR_NAME, "error: bad name");
    name = mime_msg_failed_name(&m, &n);
    ok(name != NULL && n == 8 && memcmp(name, "Bad Name", 8) == 0, "error: names the field");
    mime_msg_part_begin(&m);
    add(&m, "X-Inj", "a\r\nBcc: evil@x");
    is_int(emit(&m, &t, 0), -SMTP_E_HDR_CRLF, "error: CRLF in a value");
    name = mime_msg_failed_name(&m, &n);
    ok(name != NULL && n == 5, "error: names it");
    mime_msg_part_begin(&m);
    ok(mime_msg_failed_name(&m, &n) == NULL && n == 0, "error: none after a new part");
    {
        int i, anchor = 9;
        for (i = 0; i < MIME_MSG_HEADERS_MAX; i++)
            mime_msg_add(&m, STR("X-Many"), STR("v"), &anchor);
        is_int(mime_msg_count(&m), MIME_MSG_HEADERS_MAX, "many: count");
        is_int(mime_msg_add(&m, STR("X-Many"), STR("v"), &anchor), -SMTP_E_ARG_TOO_LONG,
               "many: one more refused");
        /* the engine's own fields still fit */
        mime_msg_top(&m, (const char *const[]){"d", "i", "x"}, (const size_t[]){1, 1, 1});
        mime_msg_leaf(&m, MIME_MSG_STRING, "a\0", 2, MIME_GEN_RAW, 0);
        is_int(mime_msg_count(&m), MIME_MSG_HEADERS_MAX + 6, "many: room for the engine's");
    }
    tgen_free(&t);
}

static void test_path(void)
{
    static mime_msg m;
    char buf[400];
    int i;
    mime_msg_init(&m);
    is_str(mime_msg_path(&m, buf, sizeof buf), "mesgt", "path: top");
    mime_msg_enter(&m, 2);
    mime_msg_enter(&m, 10);
    is_str(mime_msg_path(&m, buf, sizeof buf), "mesgt.body[2].body[10]", "path: nested");
    mime_msg_leave(&m);
    is_str(mime_msg_path(&m, buf, sizeof buf), "mesgt.body[2]", "path: back");
    mime_msg_leave(&m);
    mime_msg_leave(&m);
    is_str(mime_msg_path(&m, buf, sizeof buf), "mesgt", "path: never below the top");
    for (i = 1; i <= MIME_GEN_MAX_DEPTH; i++)
        mime_msg_enter(&m, 2147483647);
    ok(!mime_msg_too_deep(&m), "depth: %d is allowed", MIME_GEN_MAX_DEPTH);
    mime_msg_enter(&m, 1);
    ok(mime_msg_too_deep(&m), "depth: one more is too deep");
    mime_msg_path(&m, buf, sizeof buf);
    ok(strlen(buf) < sizeof buf && strlen(buf) > 300, "path: cut to fit (%d)", (int)strlen(buf));
    is_str(mime_msg_path(&m, buf, 8), "mesgt", "path: a small buffer");
    is_str(mime_msg_path(&m, buf, 3), "", "path: too small for the top");
}

int main(void)
{
    tap_seed();
    test_order();
    test_same_name_and_list();
    test_defaults();
    test_disposition();
    test_boundary();
    test_caches();
    test_encoding();
    test_resume();
    test_errors();
    test_path();
    return done_testing();
}
