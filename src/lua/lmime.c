/*
 * lmime.c -- socket.smtp.core: the Lua binding of the MIME generator.
 *
 * core.message(mesgt, defaults) walks the caller's message table once and
 * hands each part to the message engine (mime_msg.h), which decides its
 * header fields, their order and the encoding of its body, and writes
 * them into a mime_gen program; bodies are noted by id. The generator it
 * returns (lmime_gen.c) runs that program. The caller's tables are only
 * read. The two files are one binding; file bodies are read through the
 * lbind_files table the module entry passes to smtp_open_mime.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lbind.h"
#include "lmime.h"
#include "lmime_gen.h"
#include "mime/mime_body.h"
#include "mime/mime_gen.h"
#include "mime/mime_msg.h"
#include "base/smtp_errors.h"
#include "base/smtp_random.h"

#ifndef LMIME_INLINE_MAX
#define LMIME_INLINE_MAX 2048       /* unencoded strings this short join the program's text */
#endif

/* ---- compiling the message table ---------------------------------------------- */

typedef struct {
    lua_State *L;
    lgen *G;
    const lbind_files *files;
    int bodies;        /* stack index of the generator's uservalue table */
    int defaults;      /* stack index of the defaults table (top level only) */
    int anchors;       /* stack index of a table holding the cached names */
    int nanchors;
    int keys;          /* stack index of the first of the field names (KEY_*) */
    char path[400];    /* "mesgt.body[2].body[1]", made by path() for messages */
    char numbuf[MIME_MSG_HEADERS_MAX][32]; /* numbers as header values (at most 24 bytes) */
    mime_msg m;        /* the policy: fields, order, caches, boundaries */
    int *named;        /* core.message's: the code of a failure build_error raised */
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

/* The current part as the caller wrote it ("mesgt.body[2].body[1]"). */
static const char *path(build *B)
{
    return mime_msg_path(&B->m, B->path, sizeof B->path);
}

/* A build failure whose nil, message is already on the stack top: below
 * every -SMTP_E_... an engine call returns, so never taken for one. */
#define BUILD_FAILED (-SMTP_E__COUNT)

/* A header's name as messages show it: canonical form, other than
 * printable characters as "?"; or, for EHDR_NAME, quoted as written. */
static const char *push_header_name(lua_State *L, const char *name, size_t nlen, int err)
{
    char canon[64];
    size_t n = nlen < sizeof canon - 1 ? nlen : sizeof canon - 1, i;
    if (err == SMTP_E_HDR_NAME) {
        lbind_push_shown(L, name, nlen);
        return lua_tostring(L, -1);
    }
    mime_hdr_canonic(name, n, canon);
    for (i = 0; i < n; i++)
        if (canon[i] < 33 || canon[i] > 126)
            canon[i] = '?';
    lua_pushlstring(L, canon, n);
    return lua_tostring(L, -1);
}

/* A header error: pushes nil, message, name (the error's own name,
 * "EHDR_NAME", "EHDR_CRLF", ...: smtp_errname); returns BUILD_FAILED. */
static int header_error(build *B, const char *name, size_t nlen, int err)
{
    lua_State *L = B->L;
    luaL_pushfail(L);
    push_header_name(L, name, nlen, err);
    if (err == SMTP_E_HDR_NAME)
        lua_pushfstring(L, "invalid header name %s in %s", lua_tostring(L, -1), path(B));
    else
        lua_pushfstring(L, "invalid header %s in %s: %s", lua_tostring(L, -1), path(B),
                        smtp_errmsg(err));
    lua_remove(L, -2);
    lua_pushstring(L, smtp_errname(err));
    return BUILD_FAILED;
}

/* Raises a build failure with the message luaL_error would give (no
 * position: the running function is C), noting its code for core.message,
 * which returns nil, message, name (smtp_errname). The code is set only
 * once the message is made: anything else raised (a metamethod's error,
 * memory) stays unnamed. */
static int build_error(build *B, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(B->L, fmt, ap);
    va_end(ap);
    *B->named = code;
    return lua_error(B->L);
}

/* Run a build step, growing the memory as often as it asks. */
#define BUILD(B, call)                                    \
    do {                                                  \
        int rc_;                                          \
        while ((rc_ = (call)) == -SMTP_E_BUSY)            \
            lmime_gen_grow((B)->L, (B)->G);                         \
        if (rc_ < 0)                                      \
            return rc_;                                   \
    } while (0)

/* The header value at stack top, for the field named name[0..nlen): a
 * string (the stack keeps it alive), or a number formatted into the
 * build's own buffer. */
static const char *take_value(build *B, const char *name, size_t nlen, size_t *vlen)
{
    lua_State *L = B->L;
    int t = lua_type(L, -1);
    if (t == LUA_TNUMBER) {
        char *buf = B->numbuf[mime_msg_count(&B->m)];
        if (lbind_number_text(L, -1, buf, sizeof B->numbuf[0]) != 0)
            build_error(B, SMTP_E_HDR_SYNTAX, "invalid header %s in %s: not a finite number",
                       push_header_name(L, name, nlen, 0), path(B));
        *vlen = strlen(buf);
        return buf;
    }
    if (t != LUA_TSTRING)
        build_error(B, SMTP_E_MSG_TYPE, "bad header %s in %s (string expected, got %s)",
                   push_header_name(L, name, nlen, 0), path(B), lua_typename(L, t));
    return lua_tolstring(L, -1, vlen);
}

/* A caller's field to the engine: its name is the string at stack index
 * idx, anchored for the whole build when it enters the name cache (which
 * knows it by its address: no other string can take that address
 * meanwhile). */
static inline void add_field(build *B, const char *name, size_t nlen, const char *v,
                             size_t vlen, int idx)
{
    int anchor;
    mime_msg_add(&B->m, name, nlen, v, vlen, &anchor);
    if (anchor) {
        lua_pushvalue(B->L, idx);
        lua_rawseti(B->L, B->anchors, ++B->nanchors);
    }
}

/* Collect the headers of the part at `part`. Its `headers` field and every
 * name and value string taken are pushed and stay on the stack until the
 * part is built: nothing the build runs afterwards (metamethods, a
 * collection) can free a string we point to. */
static void collect(build *B, int part)
{
    lua_State *L = B->L;
    int ht, listed;
    mime_msg_part_begin(&B->m);
    field(B, part, KEY_HEADERS);
    ht = lua_gettop(L);
    if (lua_isnil(L, ht))
        return;
    if (!lua_istable(L, ht))
        build_error(B, SMTP_E_MSG_TYPE, "bad %s.headers (table expected, got %s)", path(B),
                    luaL_typename(L, ht));
    luaL_checkstack(L, 2 * MIME_MSG_HEADERS_MAX + 8, "too many headers");
    lua_rawgeti(L, ht, 1);
    listed = lua_istable(L, -1);
    lua_pop(L, 1);
    mime_msg_listed(&B->m, listed);
    if (listed) {
        /* { {name, value}, ... }: order kept, names may repeat */
        int i;
        for (i = 1;; i++) {
            const char *name, *v;
            size_t nlen, vlen;
            lua_rawgeti(L, ht, i);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            if (!lua_istable(L, -1))
                build_error(B, SMTP_E_MSG_TYPE, "bad %s.headers[%d] (table {name, value} expected, got %s)",
                           path(B), i, luaL_typename(L, -1));
            if (mime_msg_count(&B->m) >= MIME_MSG_HEADERS_MAX)
                build_error(B, SMTP_E_HDR_TOO_MANY, "too many headers in %s (at most %d)", path(B),
                           MIME_MSG_HEADERS_MAX);
            lua_rawgeti(L, -1, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                build_error(B, SMTP_E_MSG_TYPE, "bad %s.headers[%d][1] (string expected, got %s)",
                           path(B), i, luaL_typename(L, -1));
            name = lua_tolstring(L, -1, &nlen);
            lua_rawgeti(L, -2, 2);
            v = take_value(B, name, nlen, &vlen);
            lua_remove(L, -3); /* the pair; its name and value stay */
            add_field(B, name, nlen, v, vlen, lua_gettop(L) - 1);
        }
    } else {
        lua_pushnil(L);
        while (lua_next(L, ht) != 0) {
            const char *name, *v;
            size_t nlen, vlen;
            if (lua_type(L, -2) != LUA_TSTRING)
                build_error(B, SMTP_E_MSG_TYPE, "bad header name in %s (string expected, got %s)",
                           path(B), luaL_typename(L, -2));
            if (mime_msg_count(&B->m) >= MIME_MSG_HEADERS_MAX)
                build_error(B, SMTP_E_HDR_TOO_MANY, "too many headers in %s (at most %d)", path(B),
                           MIME_MSG_HEADERS_MAX);
            name = lua_tolstring(L, -2, &nlen);
            v = take_value(B, name, nlen, &vlen);
            add_field(B, name, nlen, v, vlen, lua_gettop(L) - 1);
            lua_pushvalue(L, -2); /* the key again, for lua_next: name, value stay */
        }
    }
}

/* The rest of emit_headers after mime_msg_emit returned rc != 0: more
 * memory as often as it asks, a field that cannot be written reported. */
static int emit_rest(build *B, unsigned auto_id, int rc)
{
    while (rc == -SMTP_E_BUSY) {
        lmime_gen_grow(B->L, B->G);
        rc = mime_msg_emit(&B->m, &B->G->g, auto_id);
    }
    if (rc < 0) {
        size_t nlen;
        const char *name = mime_msg_failed_name(&B->m, &nlen);
        if (name != NULL)
            return header_error(B, name, nlen, -rc);
    }
    return rc;
}

/* The part's header block, with the Content-Transfer-Encoding of body
 * auto_id chosen at run time when auto_id > 0 (every part comes here:
 * the usual case inline). */
static inline int emit_headers(build *B, unsigned auto_id)
{
    int rc = mime_msg_emit(&B->m, &B->G->g, auto_id);
    return rc == 0 ? 0 : emit_rest(B, auto_id, rc);
}

/* Register a body value (stack top) under a new id; pops it. */
static unsigned new_body(build *B)
{
    lgen *G = B->G;
    G->nbodies++;
    lua_rawseti(B->L, B->bodies, (int)G->nbodies);
    return G->nbodies;
}

static int build_part(build *B, int part, int top);

/* The preamble or epilogue at stack top: a string (a number becomes one,
 * as LuaSocket's concatenation makes it), sent as given. */
static const char *text_field(build *B, const char *name, size_t *len)
{
    lua_State *L = B->L;
    const char *s;
    size_t at;
    char num[32];
    int rc;
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        build_error(B, SMTP_E_MSG_TYPE, "bad %s.body.%s (string expected, got %s)", path(B), name,
                   luaL_typename(L, -1));
    s = lua_tolstring(L, -1, len);
    rc = mime_msg_text(&B->m, s, *len, &at);
    if (rc == 0)
        return s;
    snprintf(num, sizeof num, "%lu", (unsigned long)at);
    if (rc == -SMTP_E_CONTENT_NUL)
        build_error(B, SMTP_E_CONTENT_NUL, "bad %s.body.%s (a NUL byte at octet %s: RFC 5322 3.5)",
                    path(B), name, num);
    build_error(B, SMTP_E_LINE_TOO_LONG, "bad %s.body.%s (a line of %s octets, over the limit of "
                "%d: RFC 5321 4.5.3.1.6)", path(B), name, num, MIME_BODY_LINE_MAX);
    return NULL;
}

static int build_multipart(build *B, int body)
{
    lua_State *L = B->L;
    size_t plen = 0, elen = 0;
    const char *pre = NULL, *epi = NULL, *bd;
    size_t blen, start, nparts;
    int i;
    bd = lua_tolstring(L, -1, &blen); /* the boundary, pushed by the caller */
    mime_msg_open(&B->m, bd, blen);   /* anchored on the stack meanwhile */
    field(B, body, KEY_PREAMBLE);     /* both stay on the stack */
    if (!lua_isnil(L, -1))
        pre = text_field(B, "preamble", &plen);
    field(B, body, KEY_EPILOGUE);
    if (!lua_isnil(L, -1))
        epi = text_field(B, "epilogue", &elen);
    BUILD(B, mime_gen_multipart_begin(&B->G->g, bd, blen, pre, plen));
    start = mime_gen_textlen(&B->G->g);
    nparts = lua_rawlen(L, body);
    luaL_checkstack(L, 16, "message too deep");
    for (i = 1;; i++) {
        int rc;
        lua_rawgeti(L, body, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        mime_gen_project(&B->G->g, start, (size_t)i - 1, nparts);
        BUILD(B, mime_gen_part(&B->G->g));
        mime_msg_enter(&B->m, i);
        if (!lua_istable(L, -1))
            return build_error(B, SMTP_E_MSG_TYPE, "bad %s (table expected, got %s)", path(B),
                               luaL_typename(L, -1));
        rc = build_part(B, lua_gettop(L), 0);
        if (rc != 0)
            return rc;
        mime_msg_leave(&B->m);
        lua_pop(L, 1);
    }
    BUILD(B, mime_gen_multipart_end(&B->G->g, epi, elen));
    mime_msg_close(&B->m);
    lua_pop(L, 2);
    return 0;
}

/* Pushes a new random boundary (mime_msg_boundary). */
static void next_boundary(build *B)
{
    unsigned char rnd[MIME_MSG_BOUNDARY_RANDOM];
    char bd[MIME_MSG_BOUNDARY_LEN];
    if (smtp_random(rnd, sizeof rnd) != 0)
        luaL_error(B->L, "no source of random bytes for a boundary");
    mime_msg_boundary(rnd, bd);
    lua_pushlstring(B->L, bd, sizeof bd);
}

/* A multipart part: its headers with the boundary, then its parts. */
static int build_multipart_part(build *B, int body, int part)
{
    lua_State *L = B->L;
    size_t blen, ctlen;
    const char *bd;
    char *ct;
    int rc;
    next_boundary(B); /* pushes the boundary */
    bd = lua_tolstring(L, -1, &blen);
    ctlen = mime_msg_multipart_type(&B->m, bd, blen, NULL, 0);
    ct = (char *)lua_newuserdatauv(L, ctlen, 0); /* the content type, until emitted */
    mime_msg_multipart_type(&B->m, bd, blen, ct, ctlen);
    mime_msg_set(&B->m, MIME_MSG_H_CONTENT_TYPE, ct, ctlen, 1);
    if ((rc = emit_headers(B, 0)) != 0)
        return rc;
    lua_pop(L, 1);                  /* the content type (copied out) */
    rc = build_multipart(B, body); /* pops the boundary */
    if (rc != 0)
        return rc; /* nil, message on the stack top */
    lua_settop(L, part);
    return 0;
}

/* A file body's headers; its encoding, with "auto" resolved by a look at
 * the whole file. */
static int file_leaf(build *B, int body, int cte, int *recheck)
{
    lua_State *L = B->L;
    const char *ct, *disp = NULL;
    size_t ctlen, dlen = 0;
    ct = B->files->field(L, body, LBIND_FILE_TYPE, &ctlen); /* stays on the stack */
    if (!mime_msg_has(&B->m, MIME_MSG_H_CONTENT_DISPOSITION)) {
        size_t nl, pl = 0;
        const char *name = B->files->field(L, body, LBIND_FILE_NAME, &nl), *p = NULL;
        char *d;
        if (name == NULL)
            p = B->files->field(L, body, LBIND_FILE_PATH, &pl);
        dlen = mime_msg_disposition(name, nl, p, pl, NULL, 0);
        d = (char *)lua_newuserdatauv(L, dlen, 0); /* anchored on the stack until the end */
        mime_msg_disposition(name, nl, p, pl, d, dlen);
        disp = d;
    }
    mime_msg_file(&B->m, ct, ctlen, disp, dlen);
    if (cte == MIME_GEN_AUTO) {
        /* the whole file decides (a first read, in blocks, constant
         * memory: a NUL or a long line anywhere must not go out as 7bit),
         * then the handle goes back for the second; a 7bit file is
         * scanned again as it is sent (it may change) */
        mime_cte_scan scan;
        int err = lmime_gen_scan(L, B->G, body, &scan);
        if (err != 0)
            return build_error(B, SMTP_E_FILE, "%s: %s", path(B),
                               B->files->push_error(L, body, err));
        cte = mime_msg_auto_file(&scan, recheck);
    }
    return cte;
}

static int build_part(build *B, int part, int top)
{
    lua_State *L = B->L;
    int body, rc, cte = MIME_GEN_RAW, auto_id = 0, has_enc = 0, kind, recheck = 0;
    size_t sl = 0;
    const char *str = "";
    if (mime_msg_too_deep(&B->m))
        return build_error(B, SMTP_E_ARG_TOO_LONG, "%s: multipart nested too deeply", path(B));
    if (top)
        luaL_checkstack(L, 16, "message too deep"); /* then once a multipart */
    collect(B, part); /* pushes headers */
    field(B, part, KEY_BODY);
    body = lua_gettop(L);
    kind = lua_type(L, body);
    field(B, part, KEY_ENCODING);
    if (!lua_isnil(L, -1)) {
        cte = lbind_cte(L, -1, NULL);
        if (cte == -SMTP_E_MSG_ENCODING) {
            char what[sizeof B->path + 16];
            snprintf(what, sizeof what, "%s.encoding", path(B));
            *B->named = SMTP_E_MSG_ENCODING; /* its error, made before anything runs */
            cte = lbind_cte(L, -1, what);
            *B->named = 0;
        }
        has_enc = 1;
    }
    lua_pop(L, 1);
    if (top) {
        /* defaults of the whole message (they stay on the stack) */
        const char *vals[MIME_MSG_NDEFAULTS];
        size_t lens[MIME_MSG_NDEFAULTS];
        int i;
        for (i = 0; i < MIME_MSG_NDEFAULTS; i++) {
            lua_getfield(L, B->defaults, mime_msg_known(mime_msg_default_rank(i)));
            vals[i] = NULL;
            lens[i] = 0;
            if (lua_type(L, -1) == LUA_TSTRING)
                vals[i] = lua_tolstring(L, -1, &lens[i]);
            else
                lua_pop(L, 1);
        }
        mime_msg_top(&B->m, vals, lens);
    }
    if (kind == LUA_TTABLE && !B->files->is(L, body)) {
        if (has_enc)
            return build_error(B, SMTP_E_MSG_ENCODING, "bad %s.encoding (a multipart body is not "
                               "encoded)", path(B));
        return build_multipart_part(B, body, part);
    }
    if (kind == LUA_TUSERDATA && B->files->is(L, body)) {
        if (!has_enc)
            cte = B->files->encoding(L, body);
        has_enc = 1;
        cte = file_leaf(B, body, cte, &recheck);
        cte = mime_msg_leaf(&B->m, MIME_MSG_FILE, NULL, 0, cte, has_enc);
    } else if (kind == LUA_TSTRING || kind == LUA_TNIL) {
        if (kind == LUA_TSTRING)
            str = lua_tolstring(L, body, &sl); /* anchored */
        cte = mime_msg_leaf(&B->m, kind == LUA_TSTRING ? MIME_MSG_STRING : MIME_MSG_NONE,
                            str, sl, cte, has_enc);
    } else if (kind == LUA_TFUNCTION) {
        cte = mime_msg_leaf(&B->m, MIME_MSG_SOURCE, NULL, 0, cte, has_enc);
    } else {
        return build_error(B, SMTP_E_MSG_TYPE, "bad %s.body (string, function, table or smtp.file "
                           "expected, got %s)", path(B), luaL_typename(L, body));
    }
    if (cte == MIME_GEN_RAW && kind != LUA_TFUNCTION && sl <= LMIME_INLINE_MAX) {
        /* a short string sent as it is: copied into the program, where it
         * joins the text around it (no body step, no anchor) */
        if ((rc = emit_headers(B, 0)) != 0)
            return rc;
        BUILD(B, mime_gen_text(&B->G->g, str, sl));
        lua_settop(L, part);
        return 0;
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
        if ((rc = emit_headers(B, (unsigned)auto_id)) != 0)
            return rc;
        BUILD(B, mime_gen_body(&B->G->g, id, cte, MIME_QP_SAFE));
    }
    lua_settop(L, part);
    return 0;
}

/* The file-body table, as a light userdata and back. */
typedef union {
    const lbind_files *c;
    void *p;
} files_ptr;

/* The build of core.message, run protected: (mesgt, defaults, named,
 * files) -> g or nil, message, name; named: core.message's int, for
 * build_error; files: its upvalue, how file bodies are read. */
static int build_message(lua_State *L)
{
    build *B;
    lgen *G;
    int rc, *named = (int *)lua_touserdata(L, 3);
    files_ptr files;
    files.p = lua_touserdata(L, 4);
    lua_settop(L, 2);
    G = lmime_gen_new(L, files.c);       /* 3: g, 4: bodies */
    B = (build *)lua_newuserdatauv(L, sizeof *B, 0); /* 5: scratch, collected */
    B->L = L;
    B->G = G;
    B->files = files.c;
    B->bodies = 4;
    B->defaults = 2;
    B->named = named;
    mime_msg_init(&B->m);
    lua_newtable(L);                     /* 6: the cached names, kept alive */
    B->anchors = 6;
    B->nanchors = 0;
    B->keys = 7;                         /* 7..: the field names */
    for (rc = 0; rc < KEY_COUNT; rc++)
        lua_pushstring(L, key_names[rc]);
    do {
        /* (again, with new boundaries, if one occurred in a string) */
        mime_msg_restart(&B->m);         /* the text starts again */
        lmime_gen_restart(G);
        lua_settop(L, 6 + KEY_COUNT);
        lua_pushvalue(L, 1);             /* the part */
        rc = build_part(B, lua_gettop(L), 1);
    } while (rc == 0 && mime_msg_clash(&B->m));
    if (rc == BUILD_FAILED)
        return 3; /* nil, message, name pushed by header_error */
    if (rc < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path(B), smtp_errmsg(-rc));
        lua_pushstring(L, smtp_errname(-rc));
        return 3;
    }
    while ((rc = mime_gen_seal(&G->g)) == -SMTP_E_BUSY)
        lmime_gen_grow(L, G);
    lua_pushvalue(L, 3);
    return 1;
}

/* -- g | nil, err [, name] = core.message(mesgt, defaults)
 * defaults: date, message-id, x-mailer (strings, used when the message has
 * none). Only arguments that are not tables raise: whatever the tables
 * hold, and whatever their metamethods do, is nil, err. What is wrong with
 * the message itself also gives its error's name (smtp_errname: EHDR_*,
 * EMSG_TYPE, EMSG_ENCODING, EHDR_TOO_MANY, ECONTENT_NUL, ELINE_TOO_LONG,
 * EARG_TOO_LONG, EFILE); a metamethod's own error has none. */
static int core_message(lua_State *L)
{
    int named = 0;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_pushcfunction(L, build_message);
    lua_insert(L, 1);
    lua_pushlightuserdata(L, &named);
    lua_pushvalue(L, lua_upvalueindex(1));
    if (lua_pcall(L, 4, LUA_MULTRET, 0) == 0)
        return lua_gettop(L);
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pushfstring(L, "error object (%s) raised while reading the message table",
                        luaL_typename(L, -1));
    }
    luaL_pushfail(L);
    lua_insert(L, -2);
    if (named == 0)
        return 2;
    lua_pushstring(L, smtp_errname(named));
    return 3;
}

static const luaL_Reg funcs[] = {
    {"message", core_message},
    {NULL, NULL}
};

void smtp_open_mime(lua_State *L, const lbind_files *files)
{
    files_ptr up;
    up.c = files;
    lmime_gen_open(L);
    lua_pushlightuserdata(L, up.p); /* upvalue 1 of core.message */
    luaL_setfuncs(L, funcs, 1);
}
