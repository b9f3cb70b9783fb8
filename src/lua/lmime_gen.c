/*
 * lmime_gen.c -- socket.smtp.core: the generator object core.message
 * returns (lmime_gen.h). g:next() runs the program lmime.c built: the
 * bodies it can read itself (Lua strings, smtp.file files) it feeds to
 * the generator directly, in large blocks; for a Lua source it returns
 * the source to the caller, which calls it in its own frame (it may
 * yield) and hands the chunk back with g:feed().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lbind.h"
#include "lmime_gen.h"
#include "mime/mime_msg.h"
#include "base/smtp_errors.h"

#define GEN_MT "socket.smtp.core.generator"

#if LUA_VERSION_NUM == 501
#define lua_getuservalue(L, i) lua_getfenv(L, i)
#define lua_setuservalue(L, i) lua_setfenv(L, i)
#endif

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

void lmime_gen_grow(lua_State *L, lgen *G)
{
    size_t t, o;
    if (mime_gen_sizes(&G->g, &t, &o) != 0)
        luaL_error(L, "message too large");
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

int lmime_gen_scan(lua_State *L, lgen *G, int idx, mime_cte_scan *scan)
{
    int err = 0, more;
    size_t got;
    FILE *f = G->files->take(L, idx, &err);
    if (f == NULL)
        return err;
    mime_cte_scan_init(scan);
    do {
        got = fread(G->buf, 1, sizeof G->buf, f);
        more = mime_msg_scan(scan, G->buf, got);
    } while (got == sizeof G->buf && more);
    err = ferror(f) ? errno : 0;
    G->files->give_back(L, idx, f);
    return err;
}

lgen *lmime_gen_new(lua_State *L, const lbind_files *files)
{
    lgen *G = (lgen *)lua_newuserdatauv(L, sizeof *G, 1);
    memset(G, 0, offsetof(lgen, out));
    G->files = files;
    mime_gen_init(&G->g, G->out, sizeof G->out);
    luaL_setmetatable(L, GEN_MT);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setuservalue(L, -3);
    return G;
}

void lmime_gen_restart(lgen *G)
{
    G->nbodies = 0;
    mime_gen_init(&G->g, G->out, sizeof G->out);
    mime_gen_memory(&G->g, G->text, G->textcap, G->ops, G->capops);
}

/* ---- running ------------------------------------------------------------- */

/* Pushes the bodies table (the generator's uservalue); when the debug
 * library replaced it by something else, a fresh one in its place: the
 * bodies are gone then, and g:next() fails ("internal: body lost"). */
static void push_bodies(lua_State *L)
{
    lua_getuservalue(L, 1);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setuservalue(L, 1);
    }
}

/* nil, message, name: a failure while producing the message (sticky;
 * its name, smtp_errname(code), is given this once, and none for code 0). */
static int gen_fail(lua_State *L, const char *msg, int code)
{
    close_input(check_gen(L, 1));
    push_bodies(L);
    lua_pushstring(L, msg);
    lua_rawseti(L, -2, G_ERR);
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    if (code == 0)
        return 2;
    lua_pushstring(L, smtp_errname(code));
    return 3;
}

static int gen_run(lua_State *L, lgen *G);

/* (guarded) gen_run */
static int next_guarded(lua_State *L)
{
    return gen_run(L, (lgen *)lua_touserdata(L, 1));
}
static const lbind_inner next_guarded_in = {next_guarded};

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
    lua_settop(L, 1);
    /* the mark is cleared however gen_run ends (lbind_guarded): an error
     * out of a push must not leave the generator refusing for good */
    n = lbind_guarded(L, &G->busy, &next_guarded_in);
    /* it returned: an error out of it (a memory error; on 5.1 and LuaJIT a
     * finalizer's, also from the collection Lua 5.1 runs as the inner call
     * returns) left these set for the next call (gen_run) */
    G->unfinished = 0;
    G->pend = NULL;
    if (G->closed) { /* closed meanwhile (or before): nothing is pointed to now */
        free_program(L, G);
        close_input(G);
    }
    return n;
}

/* The chunk p[0..n), engine memory (valid until the engine's next call),
 * pushed: the push can raise after the engine let go of it, so it stays
 * pending until g:next() returns it (gen_next), and an interrupted
 * g:next() is followed by one that hands it out (below). */
static int push_chunk(lua_State *L, lgen *G, const char *p, size_t n)
{
    G->pend = p;
    G->pendlen = n;
    lua_pushlstring(L, p, n);
    return 1;
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
    push_bodies(L); /* 2: bodies */
    lua_rawgeti(L, 2, G_ERR);
    if (!lua_isnil(L, -1)) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pop(L, 1);
    if (G->unfinished) { /* the last g:next() ended by an error */
        if (G->pend != NULL) /* in its push: that chunk, then on as before */
            return push_chunk(L, G, G->pend, G->pendlen);
        /* elsewhere: what the generator holds may be half-done; it stops */
        return gen_fail(L, "message generator: an error interrupted an earlier g:next()", 0);
    }
    G->unfinished = 1; /* until gen_next sees the guarded call return */
    for (;;) {
        mime_gen_event ev;
        mime_gen_act act = mime_gen_next(&G->g, &ev);
        if (act == MIME_GEN_OUTPUT) {
            return push_chunk(L, G, ev.data, ev.len);
        }
        if (act == MIME_GEN_DONE) {
            /* the program is spent: its memory goes back now, not when
             * the collector gets to the generator */
            free_program(L, G);
            G->done = 1;
            return 0;
        }
        if (act == MIME_GEN_ERROR)
            return gen_fail(L, smtp_errmsg(ev.err), ev.err);
        /* NEED_BODY ev.id */
        if (G->in != IN_NONE && G->in_id == ev.id && G->in_off < G->in_len) {
            const char *p;
            if (G->in == IN_FILE) {
                p = G->buf;
            } else {
                size_t n = 0;
                lua_rawgeti(L, 2, G_CUR);
                p = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
                lua_pop(L, 1); /* anchored in the bodies table */
                if (p == NULL || n != G->in_len) /* (the debug library) */
                    return gen_fail(L, "message generator: the body it was reading "
                                       "was taken from it", 0);
            }
            if (ev.sample) {
                if (mime_gen_sample(&G->g, p + G->in_off, G->in_len - G->in_off) != 0) {
                    mime_gen_event fl;
                    if (mime_gen_flush(&G->g, &fl) == MIME_GEN_OUTPUT) {
                        return push_chunk(L, G, fl.data, fl.len);
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
                    return push_chunk(L, G, fl.data, fl.len);
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
            if (!G->files->is(L, body)) /* its metatable changed since (debug library) */
                return gen_fail(L, "message generator: a file body is no longer a file", 0);
            if (G->in != IN_FILE || G->in_id != ev.id) {
                int err = 0;
                close_input(G);
                G->file = G->files->take(L, body, &err); /* ours until closed */
                if (G->file == NULL)
                    return gen_fail(L, G->files->push_error(L, body, err), SMTP_E_FILE);
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
                    return gen_fail(L, G->files->push_error(L, body, errno ? errno : EIO),
                                    SMTP_E_FILE);
                G->in_last = 1;
            }
            if (G->recheck && mime_msg_recheck(&G->scan, G->buf, got) != 0) {
                size_t n;
                const char *where = G->files->field(L, body, LBIND_FILE_PATH, &n);
                return gen_fail(L, lua_pushfstring(L, "%s: changed since encoding = \"auto\" "
                    "found it 7bit: it now has a NUL, 8-bit data or a line over 998 octets",
                    where != NULL ? where : "?"), SMTP_E_FILE_CHANGED);
            }
            lua_pop(L, 1);
            G->in_off = 0;
            G->in_len = got;
            continue;
        }
        case LUA_TFUNCTION:
            /* a Lua source: the caller calls it, in its frame */
            if (G->in == IN_STRING && G->in_id == ev.id && G->in_last) {
                /* its last chunk was fed: the body is over, the same six
                 * lines as for a string above, kept inline so that each
                 * case of this switch reads whole */
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
                    return push_chunk(L, G, fl.data, fl.len);
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
            return gen_fail(L, "internal: body lost", 0);
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
    push_bodies(L); /* 4 */
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

void lmime_gen_open(lua_State *L)
{
    lua_pushcfunction(L, lbind_guard_entry); /* upvalue 1: lbind_guarded */
    lbind_class(L, GEN_MT, gen_methods, gen_meta, 1);
}
