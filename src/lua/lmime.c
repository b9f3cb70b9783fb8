/*
 * lmime.c -- socket.smtp.core: the Lua binding of the MIME generator.
 *
 * core.message(mesgt, defaults) walks the caller's message table once
 * (headers validated, encoded and folded; defaults added; bodies noted by
 * id) and compiles it into a mime_gen program. g:next() then runs it: the
 * bodies it can read itself (Lua strings, smtp.file files) it feeds to the
 * generator directly, in large blocks; for a Lua source it returns the
 * source to the caller, which calls it in its own frame (it may yield) and
 * hands the chunk back with g:feed(). The caller's tables are only read.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* open, fstat, fdopen */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "compat.h"
#include "lmime.h"
#include "mime/mime_body.h"
#include "mime/mime_gen.h"
#include "mime/mime_hdr.h"
#include "base/smtp_errors.h"
#include "base/smtp_random.h"

#define GEN_MT "socket.smtp.core.generator"
#define FILE_MT "socket.smtp.core.file"

#ifndef LMIME_OUT_MAX
#define LMIME_OUT_MAX (64 * 1024)   /* output block: one chunk of the source */
#endif
#ifndef LMIME_READ_MAX
#define LMIME_READ_MAX (48 * 1024)  /* file read block (base64: one output block) */
#endif
#ifndef LMIME_PASS_MIN
#define LMIME_PASS_MIN (16 * 1024)  /* unencoded strings this large are not copied */
#endif
#ifndef LMIME_INLINE_MAX
#define LMIME_INLINE_MAX 2048       /* unencoded strings this short join the program's text */
#endif
#ifndef LMIME_HEADERS_MAX
#define LMIME_HEADERS_MAX 128       /* header fields of one part */
#endif

#if LUA_VERSION_NUM == 501
#define lua_getuservalue(L, i) lua_getfenv(L, i)
#define lua_setuservalue(L, i) lua_setfenv(L, i)
#endif

static void push_shown(lua_State *L, const char *s, size_t n);

/* ---- file bodies ---------------------------------------------------------- */

/* A file object owns at most one handle: the one smtp.file opened. The
 * first generator that reads the body takes it over (it then belongs to
 * that generator, which closes it); every other reader opens the path
 * itself. So no handle is ever shared, and f:close() cannot pull a file
 * from under a generator. */
typedef struct {
    FILE *f;              /* owned; NULL once taken over or closed */
    int encoding;         /* MIME_CTE_* or MIME_GEN_AUTO */
    int has_encoding;
} lfile;

/* Slots of the file object's uservalue table. */
enum { F_PATH = 1, F_TYPE, F_NAME };

#define NOT_REGULAR (-1) /* open_regular's error for a FIFO, a directory... */

/* path opened for reading, only if it is a regular file: a FIFO or a
 * device would block or never end. NULL with *err an errno value or
 * NOT_REGULAR. */
static FILE *open_regular(const char *path, int *err)
{
#if defined(_WIN32)
    FILE *f = fopen(path, "rb");
    *err = f == NULL ? errno : 0;
    return f;
#else
    struct stat st;
    FILE *f;
    int fd;
#ifdef O_CLOEXEC
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
#else
    fd = open(path, O_RDONLY | O_NONBLOCK);
#endif
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *err = S_ISREG(st.st_mode) ? errno : NOT_REGULAR;
        close(fd);
        return NULL;
    }
    f = fdopen(fd, "rb");
    if (f == NULL) {
        *err = errno;
        close(fd);
    }
    return f;
#endif
}

/* Pushes "path: reason" for an open_regular or read error. */
static const char *push_file_error(lua_State *L, const char *path, int err)
{
    return lua_pushfstring(L, "%s: %s", path,
                           err == NOT_REGULAR ? "not a regular file" : strerror(err));
}

static lfile *check_file(lua_State *L, int idx)
{
    return (lfile *)luaL_checkudata(L, idx, FILE_MT);
}

/* MIME_CTE_* or MIME_GEN_AUTO for an encoding name at idx, or -100. */
static int encoding_code(lua_State *L, int idx)
{
    static const char *const names[] = {"7bit", "8bit", "quoted-printable", "base64", "auto", NULL};
    static const int ctes[] = {MIME_CTE_7BIT, MIME_CTE_8BIT, MIME_CTE_QP, MIME_CTE_BASE64, MIME_GEN_AUTO};
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    int i;
    for (i = 0; s != NULL && names[i] != NULL; i++)
        if (strcmp(s, names[i]) == 0)
            return ctes[i];
    return -100;
}

static int encoding_of(lua_State *L, int idx, const char *what)
{
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    int cte = encoding_code(L, idx);
    if (cte != -100)
        return cte;
    return luaL_error(L, "bad %s (\"base64\", \"quoted-printable\", \"7bit\", \"8bit\" or "
                         "\"auto\" expected, got %s)", what,
                      s != NULL ? lua_pushfstring(L, "\"%s\"", s) : luaL_typename(L, idx));
}

/* t[field], a string, pushed (and returned); NULL with nothing pushed
 * when the field is absent. */
static const char *opt_string(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "bad option '%s' (string expected, got %s)", field, luaL_typename(L, -1));
    return lua_tostring(L, -1);
}

/* -- file | nil, err = core.file(path [, {content_type=, filename=, encoding=}]) */
static int core_file(lua_State *L)
{
    size_t plen;
    const char *path = luaL_checklstring(L, 1, &plen);
    lfile *lf;
    FILE *f;
    int err;
    lua_settop(L, 2);
    if (memchr(path, '\0', plen) != NULL) {
        /* the system would open the path cut at the NUL: another file */
        luaL_pushfail(L);
        push_shown(L, path, plen);
        lua_pushfstring(L, "%s: a path cannot contain a NUL byte", lua_tostring(L, -1));
        lua_remove(L, -2);
        return 2;
    }
    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lf = (lfile *)lua_newuserdatauv(L, sizeof *lf, 1); /* 3 */
    lf->f = NULL;
    lf->encoding = MIME_CTE_BASE64;
    lf->has_encoding = 0;
    luaL_setmetatable(L, FILE_MT);
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, F_PATH);
    if (lua_istable(L, 2)) {
        if (opt_string(L, 2, "content_type") != NULL)
            lua_rawseti(L, -2, F_TYPE);
        if (opt_string(L, 2, "filename") != NULL)
            lua_rawseti(L, -2, F_NAME);
        lua_getfield(L, 2, "encoding");
        if (!lua_isnil(L, -1)) {
            lf->encoding = encoding_of(L, -1, "option 'encoding'");
            lf->has_encoding = 1;
        }
        lua_pop(L, 1);
    }
    lua_setuservalue(L, 3);
    /* opened last: nothing above can raise with the file open */
    f = open_regular(path, &err);
    if (f == NULL) {
        luaL_pushfail(L);
        push_file_error(L, path, err);
        return 2;
    }
    lf->f = f;
    return 1;
}

/* -- file:close()  (also __gc and __close: idempotent) */
static int file_close(lua_State *L)
{
    lfile *lf = check_file(L, 1);
    if (lf->f != NULL) {
        fclose(lf->f);
        lf->f = NULL;
    }
    return 0;
}

/* -- s = tostring(file) */
static int file_tostring(lua_State *L)
{
    check_file(L, 1);
    lua_getuservalue(L, 1);
    lua_rawgeti(L, -1, F_PATH);
    lua_pushfstring(L, "smtp file (%s)", lua_tostring(L, -1));
    return 1;
}

/* The file body at idx for a new reader, at its start: the file object's
 * own handle, taken over (the caller owns it now), or the path opened
 * again. NULL with *err set. */
static FILE *file_take(lua_State *L, int idx, int *err)
{
    lfile *lf = check_file(L, idx);
    FILE *f = lf->f;
    lf->f = NULL;
    if (f != NULL && fseek(f, 0, SEEK_SET) == 0)
        return f;
    if (f != NULL)
        fclose(f);
    lua_getuservalue(L, idx);
    lua_rawgeti(L, -1, F_PATH);
    f = open_regular(lua_tostring(L, -1), err);
    lua_pop(L, 2);
    return f;
}

/* The file object's own handle given back (a reader done with it before
 * its end: the build's look at the first bytes), else closed. */
static void file_give_back(lua_State *L, int idx, FILE *f)
{
    lfile *lf = check_file(L, idx);
    if (lf->f == NULL && fseek(f, 0, SEEK_SET) == 0)
        lf->f = f;
    else
        fclose(f);
}

/* Pushes the path of the file object at idx. */
static const char *push_file_path(lua_State *L, int idx)
{
    const char *p;
    lua_getuservalue(L, idx);
    lua_rawgeti(L, -1, F_PATH);
    lua_remove(L, -2);
    p = lua_tostring(L, -1);
    return p != NULL ? p : "?";
}

/* ---- the generator -------------------------------------------------------- */

enum { IN_NONE, IN_STRING, IN_FILE };

typedef struct {
    mime_gen g;
    char *text;           /* program memory, from the Lua allocator */
    size_t textcap;
    mime_op *ops;
    size_t capops;
    unsigned nbodies;
    size_t hint;          /* the program text this message will likely need */
    int done;             /* the message is complete, the program freed */
    int closed;           /* __close or __gc ran: every method refuses */
    int waiting;          /* g:next() handed out a Lua source: g:feed() is due */
    int busy;             /* g:next() runs: pushing its chunk may run finalizers
                           * before the copy (LuaJIT), which must not re-enter */
    /* the input being fed */
    int in;               /* IN_* */
    unsigned in_id;       /* body it belongs to */
    size_t in_off, in_len;
    int in_last;          /* a Lua source said its chunk was the last (nil) */
    FILE *file;           /* the file body being read: owned (file_take) */
    int err;              /* a read error (errno) */
    int recheck;          /* that file is 7bit by a scan at build: scanned again */
    mime_cte_scan scan;   /* (as it is read, so that a change cannot go out) */
    char out[LMIME_OUT_MAX];
    char buf[LMIME_READ_MAX];
} lgen;

/* Slots of the generator's uservalue table. */
enum { G_CUR = -1, G_ERR = -2 }; /* bodies are at 1..nbodies */
/* A file body that encoding = "auto" found 7bit when the message was
 * built: true at G_RECHECK(id); it is scanned again as it is sent. */
#define G_RECHECK(id) (G_ERR - (int)(id))

static lgen *check_gen(lua_State *L, int idx)
{
    return (lgen *)luaL_checkudata(L, idx, GEN_MT);
}

static void *lrealloc(lua_State *L, void *p, size_t old, size_t n)
{
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    return f(ud, p, old, n);
}

static void free_program(lua_State *L, lgen *G)
{
    if (G->text != NULL)
        lrealloc(L, G->text, G->textcap, 0);
    if (G->ops != NULL)
        lrealloc(L, G->ops, G->capops * sizeof(mime_op), 0);
    G->text = NULL;
    G->ops = NULL;
    G->textcap = G->capops = 0;
    mime_gen_memory(&G->g, NULL, 0, NULL, 0);
}

static void close_input(lgen *G)
{
    if (G->file != NULL) {
        fclose(G->file);
        G->file = NULL;
    }
    G->in = IN_NONE;
}

/* -- __gc / __close: free the program and the file in hand. Idempotent;
 * every method refuses a closed generator. */
static int gen_gc(lua_State *L)
{
    lgen *G = check_gen(L, 1);
    G->closed = G->done = 1;
    G->waiting = 0;
    if (G->busy)
        return 0; /* called from inside g:next(), which frees on its way out */
    free_program(L, G);
    close_input(G);
    return 0;
}

/* Grow the program memory to what the generator asked for. */
static void grow(lua_State *L, lgen *G)
{
    size_t t = G->textcap, o = G->capops;
    while (t < G->g.need_text) {
        if (t > ((size_t)-1) / 2)
            luaL_error(L, "message too large");
        t = t ? t * 2 : 4096;
    }
    /* straight to the size the parts so far project (at most 4 times what
     * is needed now), rather than copying the program at each doubling */
    if (G->hint > t && t != G->textcap) {
        size_t most = G->g.need_text <= ((size_t)-1) / 4 ? G->g.need_text * 4 : G->g.need_text;
        t = G->hint < most ? G->hint : most > t ? most : t;
    }
    while (o < G->g.need_ops) {
        if (o > ((size_t)-1) / (2 * sizeof(mime_op)))
            luaL_error(L, "message too large");
        o = o ? o * 2 : 64;
    }
    if (t != G->textcap) {
        char *p = (char *)lrealloc(L, G->text, G->textcap, t);
        if (p == NULL)
            luaL_error(L, "not enough memory");
        G->text = p;
        G->textcap = t;
    }
    if (o != G->capops) {
        mime_op *p = (mime_op *)lrealloc(L, G->ops, G->capops * sizeof(mime_op),
                                         o * sizeof(mime_op));
        if (p == NULL)
            luaL_error(L, "not enough memory");
        G->ops = p;
        G->capops = o;
    }
    mime_gen_memory(&G->g, G->text, G->textcap, G->ops, G->capops);
}

/* ---- compiling the message table ---------------------------------------------- */

/* A header name met in the message, prepared once: its lower-case form
 * (to match known names and to sort), rank and canonical form. Keyed by the
 * address of the name string, which is sound only because every name that
 * enters the cache is anchored (build.anchors) until the build ends: no
 * other string can take its address meanwhile. */
typedef struct {
    const char *ptr;
    size_t len;
    int rank;
    int rc;            /* 0, or SMTP_E_HDR_NAME: hn is then unusable */
    char lname[40];    /* lower-case (empty when too long to be one we know) */
    mime_hdr_name hn;
} hname;

typedef struct {
    const char *name;  /* as given */
    size_t nlen;
    const char *value;
    size_t vlen;
    const hname *k;    /* its prepared name */
    int seq;
} hfield;

/* Headers the generator may add to a part: Date, Message-ID, X-Mailer,
 * MIME-Version, Content-Type, Content-Transfer-Encoding and
 * Content-Disposition. */
#define GEN_HEADERS 8

#define NAME_SLOTS 64  /* the name cache: open addressing, a power of 2 */

/* A header line written in the program's text, found again by its name
 * and value string: a value repeated through the message (the same
 * Content-Type in every part) is copied, not formatted again. Only lines
 * written as given (name, ": ", the value, CRLF) are reused, and the value
 * is compared, not trusted by its address. */
typedef struct {
    const hname *k;
    size_t vlen;
    size_t off, len;   /* the line in the text */
} line;

#define LINE_SLOTS 64  /* direct-mapped, by the value's address */

typedef struct {
    lua_State *L;
    lgen *G;
    int gen;           /* stack index of the generator */
    int bodies;        /* stack index of its uservalue table */
    int defaults;      /* stack index of the defaults table (top level only) */
    int anchors;       /* stack index of a table holding the cached names */
    int nanchors;
    int keys;          /* stack index of the first of the field names (KEY_*) */
    char path[400];    /* "mesgt.body[2].body[1]", made by path() for messages */
    int index[MIME_GEN_MAX_DEPTH + 2]; /* the part's position at each depth */
    int depth;
    const char *open[MIME_GEN_MAX_DEPTH + 2]; /* boundaries of the open multiparts */
    size_t openlen[MIME_GEN_MAX_DEPTH + 2];
    int nopen;
    int clash;         /* one of them occurs in a string: build again */
    int nnames;        /* names in the cache */
    hname names[NAME_SLOTS];
    line lines[LINE_SLOTS];
    /* one part's headers: shared by all parts, since a part's headers are
     * written before its children are looked at; names that find the cache
     * full are prepared in a spill entry, for the one part. The caller's
     * strings stay on the stack while the part is built (anchored). Room
     * for the caller's headers and every one the generator adds. */
    hfield hs[LMIME_HEADERS_MAX + GEN_HEADERS];
    hname spill[LMIME_HEADERS_MAX + 8];
    int nspill;
    char numbuf[LMIME_HEADERS_MAX][32]; /* numbers as header values (at most 24 bytes) */
} build;

/* The fields of a part, pushed once a message as keys (B->keys + KEY_*):
 * indexing with them skips making the key from a C string each time. */
enum { KEY_HEADERS, KEY_BODY, KEY_ENCODING, KEY_PREAMBLE, KEY_EPILOGUE, KEY_COUNT };
static const char *const key_names[KEY_COUNT] = {
    "headers", "body", "encoding", "preamble", "epilogue"
};

/* Pushes t[key] (metamethods apply, as with t.key in Lua). */
static void field(build *B, int t, int key)
{
    lua_pushvalue(B->L, B->keys + key);
    lua_gettable(B->L, t);
}

/* The current part as the caller wrote it ("mesgt.body[2].body[1]"),
 * made only when a message needs it. */
static const char *path(build *B)
{
    size_t at;
    int d;
    strcpy(B->path, "mesgt");
    at = 5;
    for (d = 1; d <= B->depth && at + 24 < sizeof B->path; d++)
        at += (size_t)snprintf(B->path + at, sizeof B->path - at, ".body[%d]", B->index[d]);
    return B->path;
}

/* Default Content-Type of a leaf (LuaSocket's) and of a file body. */
#define LEAF_TYPE "text/plain; charset=\"iso-8859-1\""
#define FILE_TYPE "application/octet-stream"

/* Stable header order: these first, then the others by name. */
static const char *const order[] = {
    "date", "from", "sender", "reply-to", "to", "cc", "bcc", "subject",
    "message-id", "in-reply-to", "references", "mime-version", "content-type",
    "content-transfer-encoding", "content-disposition", "content-description",
    "content-id", "x-mailer", NULL
};

static int rank_of(const char *lname)
{
    int i;
    for (i = 0; order[i] != NULL; i++)
        if (order[i][0] == lname[0] && strcmp(order[i], lname) == 0)
            return i;
    return 1000;
}

static int by_rank(const hfield *x, const hfield *y)
{
    int c;
    if (x->k->rank != y->k->rank)
        return x->k->rank < y->k->rank ? -1 : 1;
    c = strcmp(x->k->lname, y->k->lname);
    if (c != 0)
        return c;
    return x->seq - y->seq;
}

static void prepare_name(hname *e, const char *p, size_t n)
{
    size_t i;
    e->ptr = p;
    e->len = n;
    if (n < sizeof e->lname) {
        for (i = 0; i < n; i++) {
            char c = p[i];
            e->lname[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        e->lname[n] = '\0';
    } else {
        e->lname[0] = '\0'; /* too long to be one we know */
    }
    e->rank = rank_of(e->lname);
    e->rc = mime_hdr_name_init(&e->hn, p, n);
}

/* The prepared form of the name p[0..n): the string at stack index idx,
 * or a static string (idx 0). */
static const hname *name_of(build *B, const char *p, size_t n, int idx)
{
    size_t h = ((size_t)(uintptr_t)p >> 3) * 2654435761u;
    unsigned i = (unsigned)(h >> 7) & (NAME_SLOTS - 1);
    hname *e;
    for (;;) {
        e = &B->names[i];
        if (e->ptr == p && e->len == n)
            return e;
        if (e->ptr == NULL)
            break;
        i = (i + 1) & (NAME_SLOTS - 1);
    }
    if (B->nnames >= NAME_SLOTS * 3 / 4) {
        /* the cache is full: prepared for this part only (a part makes
         * at most one name a field, and fewer fields than spill holds) */
        if (B->nspill >= (int)(sizeof B->spill / sizeof B->spill[0]))
            B->nspill = 0; /* cannot happen: a part has a bounded number of fields */
        e = &B->spill[B->nspill++];
    } else {
        B->nnames++;
        if (idx != 0) { /* kept alive while its address is a key */
            lua_pushvalue(B->L, idx);
            lua_rawseti(B->L, B->anchors, ++B->nanchors);
        }
    }
    prepare_name(e, p, n);
    return e;
}

/* Printable form of a header name for messages: "x-a\r\nbcc". */
static void push_shown(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '\r')
            luaL_addstring(&b, "\\r");
        else if (c == '\n')
            luaL_addstring(&b, "\\n");
        else if (c == '\t')
            luaL_addstring(&b, "\\t");
        else if (c == '"' || c == '\\') {
            luaL_addchar(&b, '\\');
            luaL_addchar(&b, (char)c);
        } else if (c < 32 || c == 127) {
            snprintf(esc, sizeof esc, "\\x%02X", c);
            luaL_addstring(&b, esc);
        } else
            luaL_addchar(&b, (char)c);
    }
    luaL_addchar(&b, '"');
    luaL_pushresult(&b);
}

/* A build failure whose nil, message is already on the stack top. */
#define BUILD_FAILED (-1000)

/* A header error: pushes nil, message; returns BUILD_FAILED. */
static int header_error(build *B, const hfield *h, int err)
{
    lua_State *L = B->L;
    if (err == SMTP_E_HDR_NAME) {
        luaL_pushfail(L);
        push_shown(L, h->name, h->nlen);
        lua_pushfstring(L, "invalid header name %s in %s", lua_tostring(L, -1), path(B));
        lua_remove(L, -2);
        return BUILD_FAILED;
    }
    {
        char canon[64];
        size_t n = h->nlen < sizeof canon - 1 ? h->nlen : sizeof canon - 1;
        mime_hdr_canonic(h->name, n, canon);
        canon[n] = '\0';
        luaL_pushfail(L);
        lua_pushfstring(L, "invalid header %s in %s: %s", canon, path(B), smtp_errmsg(err));
    }
    return BUILD_FAILED;
}

/* Run a build step, growing the memory as often as it asks. */
#define BUILD(B, call)                                    \
    do {                                                  \
        int rc_;                                          \
        while ((rc_ = (call)) == -SMTP_E_BUSY)            \
            grow((B)->L, (B)->G);                         \
        if (rc_ < 0)                                      \
            return rc_;                                   \
    } while (0)

/* A header's name as messages show it (canonical form, printable). */
static const char *push_header_name(lua_State *L, const hfield *h)
{
    char canon[64];
    size_t n = h->nlen < sizeof canon - 1 ? h->nlen : sizeof canon - 1, i;
    mime_hdr_canonic(h->name, n, canon);
    for (i = 0; i < n; i++)
        if (canon[i] < 33 || canon[i] > 126)
            canon[i] = '?';
    lua_pushlstring(L, canon, n);
    return lua_tostring(L, -1);
}

/* A number as a header value, in our own buffer: integers exactly, other
 * finite numbers so that they read back the same. 0, or -1 for NaN and
 * the infinities, which no header can carry. */
static int format_number(lua_State *L, int idx, char *buf, size_t cap)
{
    lua_Number v, mag;
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx)) {
        snprintf(buf, cap, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        return 0;
    }
#endif
    v = lua_tonumber(L, idx);
    if (v != v || v - v != 0) /* NaN, +-inf */
        return -1;
    mag = v < 0 ? -v : v;
    /* every double from 2^53 up is integral; below 2^63 the cast is defined */
    if (mag < 9223372036854775808.0 ? (lua_Number)(long long)v == v
                                    : mag < 18446744073709551616.0)
        snprintf(buf, cap, "%.0f", (double)v); /* integral: every digit (20 at most) */
    else {
        int prec; /* the shortest form that reads back the same */
        for (prec = 14; prec < 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, (double)v);
            if (strtod(buf, NULL) == (double)v)
                return 0;
        }
        snprintf(buf, cap, "%.17g", (double)v);
    }
    return 0;
}

/* Take the header value at stack top into h: a string (the stack keeps
 * it alive), or a number formatted into the build's own buffer. */
static int take_value(build *B, hfield *h, int slot)
{
    lua_State *L = B->L;
    int t = lua_type(L, -1);
    if (t == LUA_TNUMBER) {
        if (format_number(L, -1, B->numbuf[slot], sizeof B->numbuf[slot]) != 0)
            return luaL_error(L, "invalid header %s in %s: not a finite number",
                              push_header_name(L, h), path(B));
        h->value = B->numbuf[slot];
        h->vlen = strlen(h->value);
        return 0;
    }
    if (t != LUA_TSTRING)
        return luaL_error(L, "bad header %s in %s (string expected, got %s)",
                          push_header_name(L, h), path(B), luaL_typename(L, -1));
    h->value = lua_tolstring(L, -1, &h->vlen);
    return 0;
}

/* Collect the headers of the part at `part`. Its `headers` field and every
 * name and value string taken are pushed and stay on the stack until the
 * part is built: nothing the build runs afterwards (metamethods, a
 * collection) can free a string we point to. */
static int collect(build *B, int part, hfield *hs, int *n, int *listed)
{
    lua_State *L = B->L;
    int ht, k = 0;
    field(B, part, KEY_HEADERS);
    ht = lua_gettop(L);
    *listed = 0;
    B->nspill = 0;
    if (lua_isnil(L, ht))
        return 0;
    if (!lua_istable(L, ht))
        return luaL_error(L, "bad %s.headers (table expected, got %s)", path(B),
                          luaL_typename(L, ht));
    luaL_checkstack(L, 2 * LMIME_HEADERS_MAX + 8, "too many headers");
    lua_rawgeti(L, ht, 1);
    *listed = lua_istable(L, -1);
    lua_pop(L, 1);
    if (*listed) {
        /* { {name, value}, ... }: order kept, names may repeat */
        int i;
        for (i = 1;; i++) {
            hfield *h;
            lua_rawgeti(L, ht, i);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            if (!lua_istable(L, -1))
                return luaL_error(L, "bad %s.headers[%d] (table {name, value} expected, got %s)",
                                  path(B), i, luaL_typename(L, -1));
            if (k >= LMIME_HEADERS_MAX)
                return luaL_error(L, "too many headers in %s (at most %d)", path(B),
                                  LMIME_HEADERS_MAX);
            h = &hs[k];
            lua_rawgeti(L, -1, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "bad %s.headers[%d][1] (string expected, got %s)",
                                  path(B), i, luaL_typename(L, -1));
            h->name = lua_tolstring(L, -1, &h->nlen);
            lua_rawgeti(L, -2, 2);
            take_value(B, h, k);
            lua_remove(L, -3); /* the pair; its name and value stay */
            h->k = name_of(B, h->name, h->nlen, lua_gettop(L) - 1); /* a list is not sorted */
            h->seq = k;
            k++;
        }
    } else {
        lua_pushnil(L);
        while (lua_next(L, ht) != 0) {
            hfield *h;
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_error(L, "bad header name in %s (string expected, got %s)",
                                  path(B), luaL_typename(L, -2));
            if (k >= LMIME_HEADERS_MAX)
                return luaL_error(L, "too many headers in %s (at most %d)", path(B),
                                  LMIME_HEADERS_MAX);
            h = &hs[k];
            h->name = lua_tolstring(L, -2, &h->nlen);
            take_value(B, h, k);
            h->k = name_of(B, h->name, h->nlen, lua_gettop(L) - 1);
            h->seq = k;
            k++;
            lua_pushvalue(L, -2); /* the key again, for lua_next: name, value stay */
        }
    }
    *n = k;
    return 0;
}

/* The known names by their place in `order` (their rank). */
enum {
    R_DATE = 0, R_MESSAGE_ID = 8, R_MIME_VERSION = 11, R_CONTENT_TYPE = 12,
    R_CTE = 13, R_CONTENT_DISPOSITION = 14, R_X_MAILER = 17
};

static hfield *find(hfield *hs, int n, int rank)
{
    int i;
    for (i = 0; i < n; i++)
        if (hs[i].k->rank == rank)
            return &hs[i];
    return NULL;
}

/* A leaf's body given no encoding may be encoded (its Content-Type, the
 * caller's or the default, is not multipart or message: RFC 2045 6.4). */
static int encodable(hfield *hs, int n)
{
    hfield *h = find(hs, n, R_CONTENT_TYPE);
    return h == NULL || mime_gen_encodable(h->value, h->vlen);
}

/* Add (or, with replace, set) a header the generator gives: a known name,
 * by rank. */
static void set_field(build *B, int *n, int rank, const char *value,
                      size_t vlen, int replace)
{
    hfield *h = find(B->hs, *n, rank);
    if (h != NULL && !replace)
        return;
    if (h == NULL) {
        const char *lname = order[rank]; /* static: the cache's key */
        if (*n >= LMIME_HEADERS_MAX + GEN_HEADERS) /* cannot happen: room for each */
            luaL_error(B->L, "internal: no room for the %s header in %s", lname, path(B));
        h = &B->hs[*n];
        h->name = lname;
        h->nlen = strlen(lname);
        h->k = name_of(B, lname, h->nlen, 0);
        h->seq = *n + 100000; /* after the caller's, in a list */
        (*n)++;
    }
    h->value = value;
    h->vlen = vlen;
}

static void drop_field(hfield *hs, int *n, int rank)
{
    int i, j = 0;
    for (i = 0; i < *n; i++)
        if (hs[i].k->rank != rank)
            hs[j++] = hs[i];
    *n = j;
}

/* Few headers a part: an insertion sort (stable, no call per compare). */
static void sort_fields(hfield *hs, int n)
{
    int i, j;
    for (i = 1; i < n; i++) {
        hfield t = hs[i];
        for (j = i; j > 0 && by_rank(&hs[j - 1], &t) > 0; j--)
            hs[j] = hs[j - 1];
        hs[j] = t;
    }
}

static int emit_headers(build *B, hfield *hs, int n, int listed, int auto_id)
{
    int i;
    if (!listed)
        sort_fields(hs, n);
    for (i = 0; i < n; i++) {
        const hname *k = hs[i].k;
        const char *v = hs[i].value;
        size_t vlen = hs[i].vlen, start;
        line *c;
        int rc = k->rc;
        if (rc != 0)
            return header_error(B, &hs[i], rc);
        c = &B->lines[(((size_t)(uintptr_t)v >> 3) * 2654435761u >> 9) & (LINE_SLOTS - 1)];
        if (c->k == k && c->vlen == vlen && c->len == k->hn.len + vlen + 4 &&
            c->off + c->len <= B->G->g.textlen &&
            memcmp(B->G->text + c->off + k->hn.len + 2, v, vlen) == 0) {
            /* written before in this message, as it is: copied */
            BUILD(B, mime_gen_text(&B->G->g, B->G->text + c->off, c->len));
            continue;
        }
        start = B->G->g.textlen;
        while ((rc = mime_gen_header_named(&B->G->g, &k->hn, v, vlen, 0)) == -SMTP_E_BUSY)
            grow(B->L, B->G);
        if (rc < 0)
            return header_error(B, &hs[i], -rc);
        if (k < B->names || k >= B->names + NAME_SLOTS)
            continue; /* a spill entry: another name in the next part */
        c->k = k;
        c->vlen = vlen;
        c->off = start;
        c->len = B->G->g.textlen - start;
    }
    /* an encoding chosen at run time: its header comes last */
    if (auto_id > 0)
        BUILD(B, mime_gen_cte_auto(&B->G->g, (unsigned)auto_id));
    BUILD(B, mime_gen_end_headers(&B->G->g));
    return 0;
}

/* Register a body value (stack top) under a new id; pops it. */
static unsigned new_body(build *B)
{
    lgen *G = B->G;
    G->nbodies++;
    lua_rawseti(B->L, B->bodies, (int)G->nbodies);
    return G->nbodies;
}

static int build_part(build *B, int part, int depth, int top);

/* Does bd occur in s[0..n)? */
static int contains(const char *s, size_t n, const char *bd, size_t blen)
{
    const char *p = s, *end = s + n;
    while ((size_t)(end - p) >= blen) {
        p = memchr(p, bd[0], (size_t)(end - p) - blen + 1);
        if (p == NULL)
            return 0;
        if (memcmp(p, bd, blen) == 0)
            return 1;
        p++;
    }
    return 0;
}

/* A string of the message: a boundary of an enclosing multipart must not
 * occur in it. */
static void check_open(build *B, const char *s, size_t n)
{
    int i;
    for (i = 0; i < B->nopen; i++)
        if (contains(s, n, B->open[i], B->openlen[i]))
            B->clash = 1;
}

/* The preamble or epilogue at stack top: a string (a number becomes one,
 * as LuaSocket's concatenation makes it). */
static const char *text_field(build *B, const char *name, size_t *len)
{
    lua_State *L = B->L;
    const char *s;
    size_t over;
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "bad %s.body.%s (string expected, got %s)", path(B), name,
                   luaL_typename(L, -1));
    s = lua_tolstring(L, -1, len);
    /* sent as given, it cannot be encoded: a NUL (RFC 5322 3.5) or a long
     * line is refused here, before anything is sent (RFC 5321 4.5.3.1.6) */
    if ((over = mime_body_text_nul(s, *len)) != 0) {
        char num[32];
        snprintf(num, sizeof num, "%lu", (unsigned long)over);
        luaL_error(L, "bad %s.body.%s (a NUL byte at octet %s: RFC 5322 3.5)", path(B), name,
                   num);
    }
    if ((over = mime_gen_line_over(s, *len)) != 0) {
        char num[32];
        snprintf(num, sizeof num, "%lu", (unsigned long)over);
        luaL_error(L, "bad %s.body.%s (a line of %s octets, over the limit of %d: "
                   "RFC 5321 4.5.3.1.6)", path(B), name, num, MIME_BODY_LINE_MAX);
    }
    return s;
}

static int build_multipart(build *B, int body, int depth)
{
    lua_State *L = B->L;
    size_t plen = 0, elen = 0;
    const char *pre = NULL, *epi = NULL, *bd;
    size_t blen, start, nparts;
    int i;
    bd = lua_tolstring(L, -1, &blen); /* the boundary, pushed by the caller */
    B->open[B->nopen] = bd;           /* anchored on the stack meanwhile */
    B->openlen[B->nopen++] = blen;
    field(B, body, KEY_PREAMBLE); /* both stay on the stack */
    if (!lua_isnil(L, -1)) {
        pre = text_field(B, "preamble", &plen);
        check_open(B, pre, plen);
    }
    field(B, body, KEY_EPILOGUE);
    if (!lua_isnil(L, -1)) {
        epi = text_field(B, "epilogue", &elen);
        check_open(B, epi, elen);
    }
    BUILD(B, mime_gen_multipart_begin(&B->G->g, bd, blen, pre, plen));
    start = B->G->g.textlen;
    nparts = lua_rawlen(L, body);
    luaL_checkstack(L, 16, "message too deep");
    for (i = 1;; i++) {
        int rc;
        lua_rawgeti(L, body, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (i > 8 && (size_t)i < nparts) {
            /* the text the parts so far take, projected over them all */
            size_t now = B->G->g.textlen, left = nparts - (size_t)i + 1;
            size_t each = (now - start) / (size_t)(i - 1);
            if (each < ((size_t)-1) / 2 / left) {
                size_t proj = now + each * left;
                proj += proj / 8;
                if (proj > B->G->hint)
                    B->G->hint = proj;
            }
        }
        BUILD(B, mime_gen_part(&B->G->g));
        B->index[++B->depth] = i;
        if (!lua_istable(L, -1))
            return luaL_error(L, "bad %s (table expected, got %s)", path(B), luaL_typename(L, -1));
        rc = build_part(B, lua_gettop(L), depth + 1, 0);
        if (rc != 0)
            return rc;
        B->depth--;
        lua_pop(L, 1);
    }
    BUILD(B, mime_gen_multipart_end(&B->G->g, epi, elen));
    B->nopen--;
    lua_pop(L, 2);
    return 0;
}


/* Pushes a new random boundary: "=_" and 36 hex digits ("=_" cannot occur
 * in base64 or quoted-printable text). That it occurs in none of the
 * part's strings is checked as they are met (check_open); in the
 * (astronomically unlikely) case that it does, the message is built again
 * with new boundaries. */
static int next_boundary(build *B)
{
    static const char hexd[] = "0123456789abcdef";
    unsigned char rnd[18];
    char bd[2 + 2 * sizeof rnd];
    size_t i;
    if (smtp_random(rnd, sizeof rnd) != 0)
        return luaL_error(B->L, "no source of random bytes for a boundary");
    bd[0] = '=';
    bd[1] = '_';
    for (i = 0; i < sizeof rnd; i++) {
        bd[2 + 2 * i] = hexd[rnd[i] >> 4];
        bd[3 + 2 * i] = hexd[rnd[i] & 15];
    }
    lua_pushlstring(B->L, bd, sizeof bd);
    return 0;
}


static int build_part(build *B, int part, int depth, int top)
{
    lua_State *L = B->L;
    hfield *hs = B->hs;
    int n = 0, listed, body, rc, cte = MIME_GEN_RAW, auto_id = 0, has_enc = 0;
    int kind, recheck = 0;
    size_t ctlen;
    const char *ct;
    if (depth > MIME_GEN_MAX_DEPTH)
        return luaL_error(L, "%s: multipart nested too deeply", path(B));
    if (top)
        luaL_checkstack(L, 16, "message too deep"); /* then once a multipart */
    collect(B, part, hs, &n, &listed); /* pushes headers */
    field(B, part, KEY_BODY);
    body = lua_gettop(L);
    kind = lua_type(L, body);
    field(B, part, KEY_ENCODING);
    if (!lua_isnil(L, -1)) {
        cte = encoding_code(L, -1);
        if (cte == -100) {
            char what[sizeof B->path + 16];
            snprintf(what, sizeof what, "%s.encoding", path(B));
            cte = encoding_of(L, -1, what);
        }
        has_enc = 1;
    }
    lua_pop(L, 1);
    if (top) {
        /* defaults of the whole message; MIME-Version cannot be changed */
        static const char *const defs[] = {"date", "message-id", "x-mailer", NULL};
        static const int ranks[] = {R_DATE, R_MESSAGE_ID, R_X_MAILER};
        int i;
        for (i = 0; defs[i] != NULL; i++) {
            lua_getfield(L, B->defaults, defs[i]);
            if (lua_type(L, -1) == LUA_TSTRING) {
                size_t vl;
                const char *v = lua_tolstring(L, -1, &vl);
                set_field(B, &n, ranks[i], v, vl, 0); /* stays on the stack */
            } else {
                lua_pop(L, 1);
            }
        }
        drop_field(hs, &n, R_MIME_VERSION);
        set_field(B, &n, R_MIME_VERSION, "1.0", 3, 1);
    }
    if (kind == LUA_TTABLE && !luaL_testudata(L, body, FILE_MT)) {
        hfield *h;
        if (has_enc)
            return luaL_error(L, "bad %s.encoding (a multipart body is not encoded)", path(B));
        next_boundary(B); /* pushes the boundary */
        h = find(hs, n, R_CONTENT_TYPE);
        /* made by length: a NUL in the caller's type reaches the header
         * writer, which refuses it as in any header */
        if (h != NULL)
            lua_pushlstring(L, h->value, h->vlen);
        else
            lua_pushliteral(L, "multipart/mixed");
        lua_pushliteral(L, "; boundary=\"");
        lua_pushvalue(L, -3);
        lua_pushliteral(L, "\"");
        lua_concat(L, 4);
        ct = lua_tolstring(L, -1, &ctlen);
        set_field(B, &n, R_CONTENT_TYPE, ct, ctlen, 1);
        if ((rc = emit_headers(B, hs, n, listed, 0)) != 0)
            return rc;
        lua_pop(L, 1);                  /* the content type (copied out) */
        rc = build_multipart(B, body, depth); /* pops the boundary */
        if (rc != 0)
            return rc; /* nil, message on the stack top */
        lua_settop(L, part);
        return 0;
    }
    if (kind == LUA_TUSERDATA && luaL_testudata(L, body, FILE_MT)) {
        lfile *lf = check_file(L, body);
        int uv;
        if (!has_enc) {
            cte = lf->encoding;
            has_enc = 1;
        }
        lua_getuservalue(L, body);
        uv = lua_gettop(L);
        lua_rawgeti(L, uv, F_TYPE); /* stays on the stack */
        if (lua_type(L, -1) == LUA_TSTRING) {
            ct = lua_tolstring(L, -1, &ctlen);
            set_field(B, &n, R_CONTENT_TYPE, ct, ctlen, 0);
        }
        if (find(hs, n, R_CONTENT_DISPOSITION) == NULL) {
            const char *name, *slash;
            luaL_Buffer b;
            size_t i, nl;
            lua_rawgeti(L, uv, F_NAME);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_rawgeti(L, uv, F_PATH);
                name = lua_tolstring(L, -1, &nl);
                slash = strrchr(name, '/');
                if (slash != NULL) {
                    nl -= (size_t)(slash + 1 - name);
                    name = slash + 1;
                }
            } else {
                name = lua_tolstring(L, -1, &nl);
            }
            luaL_buffinit(L, &b);
            luaL_addstring(&b, "attachment; filename=\"");
            for (i = 0; i < nl; i++) {
                if (name[i] == '"' || name[i] == '\\')
                    luaL_addchar(&b, '\\');
                luaL_addchar(&b, name[i]);
            }
            luaL_addchar(&b, '"');
            luaL_pushresult(&b);
            ct = lua_tolstring(L, -1, &ctlen); /* anchored on the stack until the end */
            set_field(B, &n, R_CONTENT_DISPOSITION, ct, ctlen, 0);
        }
        set_field(B, &n, R_CONTENT_TYPE, FILE_TYPE, sizeof FILE_TYPE - 1, 0);
        if (cte == MIME_GEN_AUTO) {
            /* the whole file decides (a first read, in blocks, constant
             * memory: a NUL or a long line anywhere must not go out as
             * 7bit), then the handle goes back for the second; a 7bit
             * file is scanned again as it is sent (it may change) */
            int err = 0;
            FILE *f = file_take(L, body, &err);
            mime_cte_scan scan;
            size_t got;
            if (f == NULL)
                return luaL_error(L, "%s: %s", path(B), push_file_error(L, push_file_path(L, body), err));
            mime_cte_scan_init(&scan);
            do {
                got = fread(B->G->buf, 1, sizeof B->G->buf, f);
                mime_cte_scan_update(&scan, (const unsigned char *)B->G->buf, got);
            } while (got == sizeof B->G->buf && !scan.nul);
            err = ferror(f) ? errno : 0;
            file_give_back(L, body, f);
            if (err != 0)
                return luaL_error(L, "%s: %s", path(B), push_file_error(L, push_file_path(L, body), err));
            cte = mime_cte_scan_result(&scan);
            recheck = cte == MIME_CTE_7BIT;
        }
    } else if (kind == LUA_TSTRING || kind == LUA_TNIL) {
        size_t sl = 0;
        const char *str = kind == LUA_TSTRING ? lua_tolstring(L, body, &sl) : ""; /* anchored */
        set_field(B, &n, R_CONTENT_TYPE, LEAF_TYPE, sizeof LEAF_TYPE - 1, 0);
        if (kind == LUA_TSTRING && B->nopen > 0)
            check_open(B, str, sl);
        if (cte == MIME_GEN_AUTO) {
            cte = mime_cte_choose((const unsigned char *)str, sl);
        } else if (!has_enc && kind == LUA_TSTRING && find(hs, n, R_CTE) == NULL &&
                   encodable(hs, n)) {
            /* sent as given (LuaSocket) unless it holds a NUL or a line
             * over 998 octets: then encoded as "auto" would (RFC 5321
             * 4.5.3.1.6), with its header */
            cte = mime_gen_cte_plain(str, sl);
            has_enc = cte != MIME_GEN_RAW;
        }
    } else if (kind == LUA_TFUNCTION) {
        set_field(B, &n, R_CONTENT_TYPE, LEAF_TYPE, sizeof LEAF_TYPE - 1, 0);
    } else {
        return luaL_error(L, "bad %s.body (string, function, table or smtp.file expected, got %s)",
                          path(B), luaL_typename(L, body));
    }
    if (has_enc) {
        drop_field(hs, &n, R_CTE);
        if (cte != MIME_GEN_AUTO) {
            const char *name = mime_gen_cte_name(cte);
            set_field(B, &n, R_CTE, name, strlen(name), 1);
        }
    }
    if (cte == MIME_GEN_RAW && kind != LUA_TFUNCTION) {
        /* a short string sent as it is: copied into the program, where it
         * joins the text around it (no body step, no anchor) */
        size_t sl = 0;
        const char *str = kind == LUA_TSTRING ? lua_tolstring(L, body, &sl) : "";
        if (sl <= LMIME_INLINE_MAX) {
            if ((rc = emit_headers(B, hs, n, listed, 0)) != 0)
                return rc;
            BUILD(B, mime_gen_text(&B->G->g, str, sl));
            lua_settop(L, part);
            return 0;
        }
    }
    /* the body gets its id now (a chosen-at-run-time encoding needs it) */
    lua_pushvalue(L, body);
    if (kind == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushliteral(L, "");
    }
    {
        unsigned id = new_body(B);
        if (cte == MIME_GEN_AUTO)
            auto_id = (int)id;
        if (recheck) {
            lua_pushboolean(L, 1);
            lua_rawseti(L, B->bodies, G_RECHECK(id));
        }
        if ((rc = emit_headers(B, hs, n, listed, auto_id)) != 0)
            return rc;
        BUILD(B, mime_gen_body(&B->G->g, id, cte, MIME_QP_SAFE));
    }
    lua_settop(L, part);
    return 0;
}

/* The build of core.message, run protected: (mesgt, defaults) -> g or
 * nil, message. */
static int build_message(lua_State *L)
{
    build *B;
    lgen *G;
    int rc;
    lua_settop(L, 2);
    G = (lgen *)lua_newuserdatauv(L, sizeof *G, 1);
    memset(G, 0, offsetof(lgen, out));
    mime_gen_init(&G->g, G->out, sizeof G->out);
    luaL_setmetatable(L, GEN_MT);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setuservalue(L, 3);              /* 3: g, 4: bodies */
    B = (build *)lua_newuserdatauv(L, sizeof *B, 0); /* 5: scratch, collected */
    B->L = L;
    B->G = G;
    B->gen = 3;
    B->bodies = 4;
    B->defaults = 2;
    B->nnames = 0;
    memset(B->names, 0, sizeof B->names);
    lua_newtable(L);                     /* 6: the cached names, kept alive */
    B->anchors = 6;
    B->nanchors = 0;
    B->keys = 7;                         /* 7..: the field names */
    for (rc = 0; rc < KEY_COUNT; rc++)
        lua_pushstring(L, key_names[rc]);
    do {
        /* (again, with new boundaries, if one occurred in a string) */
        B->depth = B->nopen = B->clash = 0;
        memset(B->lines, 0, sizeof B->lines); /* the text starts again */
        G->nbodies = 0;
        G->hint = 0;
        mime_gen_init(&G->g, G->out, sizeof G->out);
        mime_gen_memory(&G->g, G->text, G->textcap, G->ops, G->capops);
        lua_settop(L, 6 + KEY_COUNT);
        lua_pushvalue(L, 1);             /* the part */
        rc = build_part(B, lua_gettop(L), 0, 1);
    } while (rc == 0 && B->clash);
    if (rc == BUILD_FAILED)
        return 2; /* nil, message pushed by header_error */
    if (rc < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path(B), smtp_errmsg(-rc));
        return 2;
    }
    while ((rc = mime_gen_seal(&G->g)) == -SMTP_E_BUSY)
        grow(L, G);
    lua_pushvalue(L, 3);
    return 1;
}

/* -- g | nil, err = core.message(mesgt, defaults)
 * defaults: date, message-id, x-mailer (strings, used when the message has
 * none). Only arguments that are not tables raise: whatever the tables
 * hold, and whatever their metamethods do, is nil, err. */
static int core_message(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_pushcfunction(L, build_message);
    lua_insert(L, 1);
    if (lua_pcall(L, 2, LUA_MULTRET, 0) == 0)
        return lua_gettop(L);
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pushfstring(L, "error object (%s) raised while reading the message table",
                        luaL_typename(L, -1));
    }
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
}

/* ---- running ------------------------------------------------------------- */

/* nil, message: a failure while producing the message (sticky). */
static int gen_fail(lua_State *L, const char *msg)
{
    close_input(check_gen(L, 1));
    lua_getuservalue(L, 1);
    lua_pushstring(L, msg);
    lua_rawseti(L, -2, G_ERR);
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
}

static int gen_run(lua_State *L, lgen *G);

/* -- chunk | false, source | nil | nil, err = g:next()
 * A chunk of the message; or false and a Lua source whose next chunk the
 * caller must get and hand over with g:feed(); or nil at the end. Raises
 * when called again while it runs (from a finalizer). */
static int gen_next(lua_State *L)
{
    lgen *G = check_gen(L, 1);
    int n;
    if (G->busy)
        return luaL_error(L, "message generator busy: g:next() called again while it runs "
                             "(from a finalizer?)");
    G->busy = 1;
    n = gen_run(L, G);
    G->busy = 0;
    if (G->closed) { /* closed meanwhile (or before): nothing is pointed to now */
        free_program(L, G);
        close_input(G);
    }
    return n;
}

static int gen_run(lua_State *L, lgen *G)
{
    if (G->closed) {
        luaL_pushfail(L);
        lua_pushliteral(L, "message generator closed");
        return 2;
    }
    if (G->done)
        return 0;
    G->waiting = 0; /* asked again: the source is asked again */
    lua_settop(L, 1);
    lua_getuservalue(L, 1); /* 2: bodies */
    lua_rawgeti(L, 2, G_ERR);
    if (!lua_isnil(L, -1)) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pop(L, 1);
    for (;;) {
        mime_gen_event ev;
        mime_gen_act act = mime_gen_next(&G->g, &ev);
        if (act == MIME_GEN_OUTPUT) {
            lua_pushlstring(L, ev.data, ev.len);
            return 1;
        }
        if (act == MIME_GEN_DONE) {
            /* the program is spent: its memory goes back now, not when
             * the collector gets to the generator */
            free_program(L, G);
            G->done = 1;
            return 0;
        }
        if (act == MIME_GEN_ERROR)
            return gen_fail(L, smtp_errmsg(ev.err));
        /* NEED_BODY ev.id */
        if (G->in != IN_NONE && G->in_id == ev.id && G->in_off < G->in_len) {
            const char *p;
            if (G->in == IN_FILE) {
                p = G->buf;
            } else {
                lua_rawgeti(L, 2, G_CUR);
                p = lua_tostring(L, -1);
                lua_pop(L, 1); /* anchored in the bodies table */
            }
            if (ev.sample) {
                if (mime_gen_sample(&G->g, p + G->in_off, G->in_len - G->in_off) != 0) {
                    mime_gen_event fl;
                    if (mime_gen_flush(&G->g, &fl) == MIME_GEN_OUTPUT) {
                        lua_pushlstring(L, fl.data, fl.len);
                        return 1;
                    }
                }
                continue;
            }
            if (mime_gen_raw_body(&G->g) && G->in == IN_STRING &&
                G->in_len >= LMIME_PASS_MIN) {
                /* a large string passed through as it is: flush what
                 * precedes, then hand the caller's own string out, without
                 * a copy (small ones are gathered into the block instead) */
                mime_gen_event fl;
                if (mime_gen_flush(&G->g, &fl) == MIME_GEN_OUTPUT) {
                    lua_pushlstring(L, fl.data, fl.len);
                    return 1;
                }
                if (G->in_off == 0) {
                    G->in_off = G->in_len;
                    lua_rawgeti(L, 2, G_CUR);
                    return 1;
                }
            }
            G->in_off += mime_gen_feed(&G->g, p + G->in_off, G->in_len - G->in_off);
            continue;
        }
        /* the current input is used up: what comes next for this body? */
        lua_rawgeti(L, 2, (int)ev.id);
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            if (G->in == IN_STRING && G->in_id == ev.id) {
                /* its one chunk was fed: the body is over */
                lua_pop(L, 1);
                if (ev.sample) {
                    mime_gen_sample(&G->g, "", 0);
                    continue;
                }
                if (mime_gen_feed_end(&G->g) == 0)
                    G->in = IN_NONE;
                continue;
            }
            if (!ev.sample && !(mime_gen_raw_body(&G->g) && lua_rawlen(L, -1) >= LMIME_PASS_MIN)) {
                /* the common case, a string that fits: fed and ended at once */
                size_t len, used;
                const char *p = lua_tolstring(L, -1, &len);
                used = mime_gen_feed(&G->g, p, len);
                if (used == len && mime_gen_feed_end(&G->g) == 0) {
                    lua_pop(L, 1);
                    continue;
                }
                G->in_off = used;
            } else {
                G->in_off = 0;
            }
            G->in = IN_STRING;
            G->in_id = ev.id;
            G->in_len = lua_rawlen(L, -1);
            lua_rawseti(L, 2, G_CUR);
            continue;
        case LUA_TUSERDATA: {
            size_t got;
            int body = lua_gettop(L);
            if (G->in != IN_FILE || G->in_id != ev.id) {
                int err = 0;
                close_input(G);
                G->file = file_take(L, body, &err); /* ours until closed */
                if (G->file == NULL)
                    return gen_fail(L, push_file_error(L, push_file_path(L, body), err));
                G->in = IN_FILE;
                G->in_id = ev.id;
                G->in_last = 0;
                lua_rawgeti(L, 2, G_RECHECK(ev.id));
                G->recheck = lua_toboolean(L, -1);
                lua_pop(L, 1);
                mime_cte_scan_init(&G->scan);
            }
            if (G->in_last) {
                if (mime_gen_feed_end(&G->g) == 0)
                    close_input(G); /* completed: closed */
                lua_pop(L, 1);
                continue;
            }
            errno = 0;
            got = fread(G->buf, 1, sizeof G->buf, G->file);
            if (got < sizeof G->buf) {
                if (ferror(G->file))
                    return gen_fail(L, push_file_error(L, push_file_path(L, body),
                                                       errno ? errno : EIO));
                G->in_last = 1;
            }
            if (G->recheck) {
                mime_cte_scan_update(&G->scan, (const unsigned char *)G->buf, got);
                if (mime_cte_scan_result(&G->scan) != MIME_CTE_7BIT) {
                    const char *where = push_file_path(L, body);
                    return gen_fail(L, lua_pushfstring(L, "%s: changed since encoding = \"auto\" "
                        "found it 7bit: it now has a NUL, 8-bit data or a line over 998 octets",
                        where));
                }
            }
            lua_pop(L, 1);
            G->in_off = 0;
            G->in_len = got;
            continue;
        }
        case LUA_TFUNCTION:
            /* a Lua source: the caller calls it, in its frame */
            if (G->in == IN_STRING && G->in_id == ev.id && G->in_last) {
                lua_pop(L, 1);
                if (ev.sample) {
                    mime_gen_sample(&G->g, "", 0);
                    continue;
                }
                if (mime_gen_feed_end(&G->g) == 0)
                    G->in = IN_NONE;
                continue;
            }
            {
                mime_gen_event fl;
                if (mime_gen_flush(&G->g, &fl) == MIME_GEN_OUTPUT) {
                    /* what precedes goes out first */
                    lua_pop(L, 1);
                    lua_pushlstring(L, fl.data, fl.len);
                    return 1;
                }
            }
            G->in = IN_STRING;
            G->in_id = ev.id;
            G->in_off = G->in_len = 0;
            G->in_last = 0;
            G->waiting = 1;
            lua_pushboolean(L, 0);
            lua_insert(L, -2);
            return 2;
        default:
            return gen_fail(L, "internal: body lost");
        }
    }
}

/* -- g:feed(chunk) | g:feed(nil) | g:feed(nil, err)
 * The chunk a Lua source gave, right after g:next() returned that source
 * (any other time raises: the generator may be reading a body itself). */
static int gen_feed(lua_State *L)
{
    lgen *G = check_gen(L, 1);
    if (G->closed)
        return luaL_error(L, "message generator closed");
    if (G->busy)
        return luaL_error(L, "message generator busy: g:feed() called while g:next() runs "
                             "(from a finalizer?)");
    if (!G->waiting)
        return luaL_error(L, "no body source is waiting for a chunk (g:feed must follow "
                             "g:next returning false, source)");
    lua_settop(L, 3);
    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TSTRING);
    G->waiting = 0;
    lua_getuservalue(L, 1); /* 4 */
    if (lua_isnil(L, 2)) {
        if (!lua_isnil(L, 3)) {
            lua_pushvalue(L, 3);
            lua_rawseti(L, 4, G_ERR);
            return 0;
        }
        G->in_last = 1;
        G->in_off = G->in_len = 0;
        return 0;
    }
    lua_pushvalue(L, 2);
    lua_rawseti(L, 4, G_CUR);
    G->in_off = 0;
    G->in_len = lua_rawlen(L, 2);
    return 0;
}

static const luaL_Reg gen_methods[] = {
    {"next", gen_next},
    {"feed", gen_feed},
    {NULL, NULL}
};

static const luaL_Reg gen_meta[] = {
    {"__gc", gen_gc},
    {"__close", gen_gc},
    {NULL, NULL}
};

static const luaL_Reg file_methods[] = {
    {"close", file_close},
    {NULL, NULL}
};

static const luaL_Reg file_meta[] = {
    {"__gc", file_close},
    {"__close", file_close},
    {"__tostring", file_tostring},
    {NULL, NULL}
};

static const luaL_Reg funcs[] = {
    {"message", core_message},
    {"file", core_file},
    {NULL, NULL}
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *meta,
                      const luaL_Reg *methods)
{
    if (luaL_newmetatable(L, name)) {
        luaL_setfuncs(L, meta, 0);
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushstring(L, name);
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
}

void smtp_open_mime(lua_State *L)
{
    new_class(L, GEN_MT, gen_meta, gen_methods);
    new_class(L, FILE_MT, file_meta, file_methods);
    luaL_setfuncs(L, funcs, 0);
}
