/*
 * lsmtp.c -- socket.smtp.core: the Lua binding of the SMTP client engine.
 *
 * Only translation happens here: argument checks, the userdata that holds
 * the engine, engine events to Lua values, error codes to strings. No
 * protocol logic, no I/O, no calls into Lua code.
 */
#include <string.h>

#include "lbind.h"
#include "lfile.h"
#include "lhost.h"
#include "lmime.h"
#include "lmime_enc.h"
#include "lsasl.h"
#include "base/smtp_random.h"
#include "sasl/sasl.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_cmd.h"

#define SMTP_CORE_VERSION "smtp-native 0.1.0"
#define CLIENT_MT "socket.smtp.core.client"

#if defined(_WIN32)
#define SMTP_EXPORT __declspec(dllexport)
#else
#define SMTP_EXPORT __attribute__((visibility("default")))
#endif

/* The client userdata: the engine, and a mark set while a method pushes
 * from engine memory. Pushing a string can run a collection and its
 * finalizers before the bytes are copied (LuaJIT collects first); a
 * finalizer that called the same client then would change or wipe the
 * bytes being copied, so every method refuses while the mark is set. Such
 * pushes (c:body, c:caps, a write holding credentials) run under
 * lbind_guarded, which clears the mark however it ends: an error out of a
 * push (a memory error; on 5.1 and LuaJIT, a finalizer's error) must not
 * leave the client refusing for good. Bounded bytes are copied to the C
 * stack first and pushed from there, with no mark (c:next, c:has, the
 * line c:mail returns). */
typedef struct {
    smtp_client c; /* first: a pointer to it is a pointer to the whole */
    int busy;
    int act;        /* c:next(): the engine's action (smtp_act) and event, */
    smtp_event ev;  /* read by its guarded push */
} lclient;

/* The client of a guarded inner function: the stack's first value, which
 * the method has checked. */
#define GUARDED_CLIENT(L) (&((lclient *)lua_touserdata(L, 1))->c)

static int guarded(lua_State *L, const lbind_inner *inner)
{
    return lbind_guarded(L, &((lclient *)lua_touserdata(L, 1))->busy, inner);
}

/* The engine of the client userdata at idx; raises when it is not one, or
 * when one of its methods is running (re-entered from a finalizer). The
 * SASL binding gets it from luaopen (smtp_open_sasl). */
static smtp_client *check_client_at(lua_State *L, int idx)
{
    lclient *u = (lclient *)luaL_checkudata(L, idx, CLIENT_MT);
    if (u->busy)
        luaL_error(L, "smtp client busy: called again while one of its methods runs "
                      "(from a finalizer?)");
    return &u->c;
}

static smtp_client *check_client(lua_State *L)
{
    return check_client_at(L, 1);
}

/* The bytes of output not handed out yet. */
static size_t out_len(const smtp_client *c)
{
    size_t n;
    smtp_client_output(c, &n);
    return n;
}

/* true, line: the command line just queued (without CRLF), for messages;
 * copied out of the engine before anything can run Lua code. Never used
 * for AUTH, whose lines hold credentials. */
static int push_queued(lua_State *L, size_t before, int rc)
{
    char line[SMTP_CMD_MAX]; /* what smtp_client queues with SMTP_CMD_MAX */
    size_t n;
    const char *out;
    if (rc != 0)
        return lbind_fail_code(L, -rc);
    out = smtp_client_output(check_client(L), &n);
    n -= before + 2;
    if (n > sizeof line)
        return luaL_error(L, "smtp engine: a command line over %d bytes", SMTP_CMD_MAX);
    memcpy(line, out + before, n);
    lua_pushboolean(L, 1);
    lua_pushlstring(L, line, n);
    return 2;
}

/* -- c = core.new() */
static int core_new(lua_State *L)
{
    lclient *u = (lclient *)lua_newuserdatauv(L, sizeof *u, 0);
    smtp_client_init(&u->c);
    u->busy = 0;
    luaL_setmetatable(L, CLIENT_MT);
    return 1;
}

/* -- true | nil, msg, name = c:greeting() */
static int client_greeting(lua_State *L)
{
    return lbind_rc(L, smtp_client_greeting(check_client(L)));
}

/* -- true, line | nil, msg, name = c:ehlo(domain [, helo_fallback]) */
static int client_ehlo(lua_State *L)
{
    smtp_client *c = check_client(L);
    size_t n;
    const char *d = luaL_checklstring(L, 2, &n);
    size_t before = out_len(c);
    return push_queued(L, before, smtp_client_ehlo(c, d, n, lua_toboolean(L, 3)));
}

/* -- true, line | nil, msg, name = c:helo(domain) */
static int client_helo(lua_State *L)
{
    smtp_client *c = check_client(L);
    size_t n;
    const char *d = luaL_checklstring(L, 2, &n);
    size_t before = out_len(c);
    return push_queued(L, before, smtp_client_helo(c, d, n));
}

/* An engine call that takes two strings: MAIL and RCPT (the address, the
 * ESMTP parameters), AUTH PLAIN and AUTH LOGIN (user, password). */
typedef int (*two_string_cmd)(smtp_client *c, const char *s1, size_t n1, const char *s2,
                              size_t n2);

/* MAIL or RCPT: the address, then the optional parameters. */
static int queue_address(lua_State *L, two_string_cmd cmd)
{
    smtp_client *c = check_client(L);
    size_t n, pn = 0;
    const char *a = luaL_checklstring(L, 2, &n);
    const char *p = luaL_optlstring(L, 3, "", &pn);
    size_t before = out_len(c);
    return push_queued(L, before, cmd(c, a, n, p, pn));
}

/* -- true, line | nil, msg, name = c:mail(from [, params]) */
static int client_mail(lua_State *L) { return queue_address(L, smtp_client_mail); }

/* -- true, line | nil, msg, name = c:rcpt(to [, params]) */
static int client_rcpt(lua_State *L) { return queue_address(L, smtp_client_rcpt); }

/* -- true | nil, msg, name = c:data() / c:rset() / c:noop() / c:quit() */
static int client_data(lua_State *L) { return lbind_rc(L, smtp_client_data(check_client(L))); }
static int client_rset(lua_State *L) { return lbind_rc(L, smtp_client_rset(check_client(L))); }
static int client_noop(lua_State *L) { return lbind_rc(L, smtp_client_noop(check_client(L))); }
static int client_quit(lua_State *L) { return lbind_rc(L, smtp_client_quit(check_client(L))); }

/* AUTH PLAIN or AUTH LOGIN: user and password. */
static int queue_auth(lua_State *L, two_string_cmd cmd)
{
    smtp_client *c = check_client(L);
    size_t un, pn;
    const char *u = luaL_checklstring(L, 2, &un);
    const char *p = luaL_checklstring(L, 3, &pn);
    return lbind_rc(L, cmd(c, u, un, p, pn));
}

/* -- true | nil, msg, name = c:auth_plain(user, password) */
static int client_auth_plain(lua_State *L) { return queue_auth(L, smtp_client_auth_plain); }

/* -- true | nil, msg, name = c:auth_login(user, password) */
static int client_auth_login(lua_State *L) { return queue_auth(L, smtp_client_auth_login); }

/* -- true | nil, msg, name = c:starttls() / c:tls_done() */
static int client_starttls(lua_State *L) { return lbind_rc(L, smtp_client_starttls(check_client(L))); }
static int client_tls_done(lua_State *L) { return lbind_rc(L, smtp_client_tls_done(check_client(L))); }
/* -- true | nil, msg, name = c:lost(): a write failed (smtp_client_lost) */
static int client_lost(lua_State *L) { return lbind_rc(L, smtp_client_lost(check_client(L))); }

/* -- true | nil, msg, name = c:auth(mechanism [, initial_response])
 * The initial response is raw bytes (the engine encodes it); absent (nil)
 * it is not sent. Challenges come back from c:next() as "challenge". */
static int client_auth(lua_State *L)
{
    smtp_client *c = check_client(L);
    size_t mn, irn = 0;
    const char *m = luaL_checklstring(L, 2, &mn);
    const char *ir = luaL_optlstring(L, 3, NULL, &irn);
    return lbind_rc(L, smtp_client_auth(c, m, mn, (const unsigned char *)ir, irn, ir != NULL));
}

/* -- true | nil, msg, name = c:auth_response(bytes) / c:auth_cancel() */
static int client_auth_response(lua_State *L)
{
    smtp_client *c = check_client(L);
    size_t n;
    const char *d = luaL_checklstring(L, 2, &n);
    return lbind_rc(L, smtp_client_auth_response(c, (const unsigned char *)d, n));
}
static int client_auth_cancel(lua_State *L) { return lbind_rc(L, smtp_client_auth_cancel(check_client(L))); }

/* -- n = c:discarded(): bytes dropped after a STARTTLS 220 */
static int client_discarded(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)smtp_client_discarded(check_client(L)));
    return 1;
}

/* -- out = c:body(chunk)
 * Message content, filtered (CRLF, dot-stuffing). Returns the bytes to
 * write now, possibly "": the tail is held back for c:body_end(). */
static int body_guarded(lua_State *L)
{
    smtp_client *c = GUARDED_CLIENT(L);
    size_t n, used = 0;
    const char *s = lua_tolstring(L, 2, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (used < n) {
        smtp_event ev;
        int rc;
        used += smtp_client_body(c, s + used, n - used);
        if ((rc = smtp_client_body_error(c, NULL, NULL)) != 0) {
            /* nothing of this chunk is handed out: the connection is to
             * be closed without the end-of-data marker */
            char msg[SMTP_BODY_ERROR_TEXT_MAX];
            smtp_client_body_error_text(c, msg, sizeof msg);
            return lbind_fail(L, msg, smtp_errname(rc));
        }
        if (used == n)
            break;
        if (smtp_client_next(c, &ev) != SMTP_ACT_WRITE)
            return luaL_error(L, "smtp engine: output block stuck");
        luaL_addlstring(&b, ev.data, ev.len);
    }
    luaL_pushresult(&b);
    return 1;
}
static const lbind_inner body_guarded_in = {body_guarded};

static int client_body(lua_State *L)
{
    smtp_client *c = check_client(L);
    luaL_checkstring(L, 2);
    if (smtp_client_state(c) != SMTP_S_BODY)
        return lbind_fail_code(L, SMTP_E_BAD_STATE);
    lua_settop(L, 2);
    return guarded(L, &body_guarded_in);
}

/* -- true | nil, msg, name = c:body_end() */
static int client_body_end(lua_State *L)
{
    return lbind_rc(L, smtp_client_body_end(check_client(L)));
}

/* -- true | nil, msg, name = c:feed(bytes | nil)   (nil: the peer closed) */
static int client_feed(lua_State *L)
{
    smtp_client *c = check_client(L);
    size_t n = 0;
    const char *s = lua_isnoneornil(L, 2) ? "" : luaL_checklstring(L, 2, &n);
    return lbind_rc(L, smtp_client_feed(c, s, n));
}

/* The bytes of a write, reply or challenge event: data[0..n) (the reply's
 * text), the reply's enhanced code (or NULL) and code. Engine memory. */
typedef struct {
    const char *data, *enh;
    size_t n;
    int code;
} event_bytes;

static event_bytes bytes_of(int act, const smtp_event *ev)
{
    event_bytes b;
    b.data = ev->data;
    b.n = ev->len;
    b.enh = NULL;
    b.code = 0;
    if (act == SMTP_ACT_REPLY) {
        b.data = smtp_reply_text(ev->reply, &b.n);
        b.enh = smtp_reply_enhanced(ev->reply);
        b.code = smtp_reply_code(ev->reply);
    }
    return b;
}

/* -- "write", bytes, secret | "read", want | "idle"
 *    | "reply", cmd, ok, code, text, enhanced | "challenge", text
 *    | "error", msg, name = c:next()
 * A write, reply or challenge from b, which the caller keeps valid. */
static int push_bytes(lua_State *L, int act, const smtp_event *ev, const event_bytes *b)
{
    if (act == SMTP_ACT_WRITE) {
        lua_pushliteral(L, "write");
        lua_pushlstring(L, b->data, b->n);
        lua_pushinteger(L, (lua_Integer)ev->secret);
        return 3;
    }
    if (act == SMTP_ACT_CHALLENGE) {
        lua_pushliteral(L, "challenge");
        lua_pushlstring(L, b->data, b->n);
        return 2;
    }
    lua_pushliteral(L, "reply");
    lua_pushstring(L, smtp_client_cmd_name(ev->cmd)); /* a static string */
    lua_pushboolean(L, ev->ok);
    lua_pushinteger(L, b->code);
    lua_pushlstring(L, b->data, b->n);
    if (b->enh != NULL)
        lua_pushstring(L, b->enh);
    else
        lua_pushnil(L);
    return 6;
}

/* (guarded) the event taken into the client, from the engine's memory */
static int next_guarded(lua_State *L)
{
    lclient *u = (lclient *)lua_touserdata(L, 1);
    event_bytes b = bytes_of(u->act, &u->ev);
    return push_bytes(L, u->act, &u->ev, &b);
}
static const lbind_inner next_guarded_in = {next_guarded};

/* Every event's bytes (at most the output block, SMTP_OUT_MAX, or a
 * reply, SMTP_REPLY_MAX) are taken into this frame's own memory before
 * anything can run Lua code (the engine call runs none), and pushed from
 * there without a busy mark or a protected call: a finalizer that
 * re-enters the client cannot change what this call returns. A write that
 * holds credentials is never copied to a second place: it is pushed
 * guarded, from the engine's memory. */
static int client_next(lua_State *L)
{
    lclient *u;
    char copy[SMTP_OUT_MAX];
    smtp_event ev;
    event_bytes b;
    size_t en;
    int act;
    check_client(L);
    lua_settop(L, 1);
    luaL_checkstack(L, 8, NULL); /* the guarded path's room, made before the engine call */
    u = (lclient *)lua_touserdata(L, 1);
    act = u->act = smtp_client_next(&u->c, &u->ev);
    ev = u->ev;
    switch (act) {
    case SMTP_ACT_READ:
        lua_pushliteral(L, "read");
        lua_pushinteger(L, (lua_Integer)ev.want);
        return 2;
    case SMTP_ACT_ERROR:
        lua_pushliteral(L, "error");
        lua_pushstring(L, smtp_errmsg(ev.err));
        lua_pushstring(L, smtp_errname(ev.err));
        return 3;
    case SMTP_ACT_IDLE:
        lua_pushliteral(L, "idle");
        return 1;
    case SMTP_ACT_WRITE:
    case SMTP_ACT_REPLY:
    case SMTP_ACT_CHALLENGE:
        b = bytes_of(act, &ev);
        en = b.enh != NULL ? strlen(b.enh) + 1 : 0;
        if ((act == SMTP_ACT_WRITE && ev.secret != 0) || b.n > sizeof copy - en)
            break;
        memcpy(copy, b.data, b.n);
        b.data = copy;
        if (b.enh != NULL)
            b.enh = (const char *)memcpy(copy + b.n, b.enh, en);
        return push_bytes(L, act, &ev, &b);
    default:
        break;
    }
    return guarded(L, &next_guarded_in);
}

/* -- params | nil = c:has(keyword)   (params "" for a bare keyword),
 * copied out of the engine before anything can run Lua code */
static int client_has(lua_State *L)
{
    char copy[SMTP_CAPS_MAX]; /* the whole of what smtp_caps keeps */
    size_t n, pn;
    const smtp_caps *caps = smtp_client_caps(check_client(L)); /* the object first */
    const char *k = luaL_checklstring(L, 2, &n);
    const char *p = smtp_caps_find(caps, k, n, &pn);
    if (p == NULL) {
        lua_pushnil(L);
        return 1;
    }
    if (pn > sizeof copy)
        return luaL_error(L, "smtp engine: a capability over %d bytes", SMTP_CAPS_MAX);
    memcpy(copy, p, pn);
    lua_pushlstring(L, copy, pn);
    return 1;
}

/* -- t = c:caps()   { KEYWORD = params, ... } from the last EHLO */
static int caps_guarded(lua_State *L)
{
    const smtp_caps *caps = smtp_client_caps(GUARDED_CLIENT(L));
    size_t pos = 0, kn, pn;
    const char *k, *p;
    lua_newtable(L);
    while (smtp_caps_next(caps, &pos, &k, &kn, &p, &pn)) {
        lua_pushlstring(L, k, kn);
        lua_pushlstring(L, p, pn);
        lua_rawset(L, -3);
    }
    return 1;
}
static const lbind_inner caps_guarded_in = {caps_guarded};

static int client_caps(lua_State *L)
{
    check_client(L);
    lua_settop(L, 1);
    return guarded(L, &caps_guarded_in);
}

/* -- names = c:mechs()   AUTH mechanisms offered that the engine knows */
static int client_mechs(lua_State *L)
{
    unsigned mechs = smtp_caps_mechs(smtp_client_caps(check_client(L)));
    int i, k = 0;
    lua_newtable(L);
    for (i = 0; smtp_caps_mech_name(i) != NULL; i++) {
        if (mechs & (1u << i)) {
            lua_pushstring(L, smtp_caps_mech_name(i));
            lua_rawseti(L, -2, ++k);
        }
    }
    return 1;
}

/* -- n | nil = c:size()   SIZE limit offered (nil: none or unlimited) */
static int client_size(lua_State *L)
{
    unsigned long long size = smtp_caps_size(smtp_client_caps(check_client(L)));
    if (size > 0)
        lua_pushnumber(L, (lua_Number)size);
    else
        lua_pushnil(L);
    return 1;
}

/* -- name | nil, msg, name = c:sasl_choose(forced, have_password, have_token)
 * The mechanism to use among those the last EHLO offered (its AUTH lines,
 * as parsed); forced: nil, a name, or names separated by spaces or commas,
 * tried in that order. */
static int client_sasl_choose(lua_State *L)
{
    smtp_client *c = check_client(L);
    size_t fn = 0;
    const char *forced = luaL_optlstring(L, 2, NULL, &fn);
    unsigned have = (lua_toboolean(L, 3) ? SASL_HAVE_PASSWORD : 0) |
                    (lua_toboolean(L, 4) ? SASL_HAVE_TOKEN : 0);
    int m = sasl_choose(smtp_caps_mechs(smtp_client_caps(c)), forced, fn, have);
    if (m < 0)
        return lbind_fail_code(L, -m);
    lua_pushstring(L, sasl_mech_name(m));
    return 1;
}

/* -- name = c:state() */
static int client_state(lua_State *L)
{
    lua_pushstring(L, smtp_client_state_name(smtp_client_state(check_client(L))));
    return 1;
}

/* -- n = c:pending()   commands sent or queued without a reply yet */
static int client_pending(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)smtp_client_pending(check_client(L)));
    return 1;
}

/* -- s = tostring(c) */
static int client_tostring(lua_State *L)
{
    smtp_client *c = check_client(L);
    lua_pushfstring(L, "smtp client (%s): %p", smtp_client_state_name(smtp_client_state(c)),
                    (void *)c);
    return 1;
}

/* -- true | nil, msg, name = core.check(kind, value)
 * kind: "from", "rcpt" (an address as MAIL/RCPT take it), "domain"
 * (EHLO argument), "text" (no CR, LF or NUL). Lets callers refuse
 * arguments before anything is sent. */
static int core_check(lua_State *L)
{
    static const char *const kinds[] = {"from", "rcpt", "domain", "text", NULL};
    int kind = luaL_checkoption(L, 1, NULL, kinds);
    size_t n;
    smtp_piece p[SMTP_ENVELOPE_PIECES];
    int k, rc;
    const char *s = luaL_checklstring(L, 2, &n);
    switch (kind) {
    case 0:
    case 1: /* the line MAIL/RCPT would send, without parameters */
        rc = smtp_cmd_envelope(p, &k, kind == 0, s, n, NULL, 0);
        if (rc == 0)
            rc = smtp_cmd_fits(p, k, SMTP_CMD_MAX);
        break;
    case 2:
        rc = smtp_cmd_domain(s, n);
        break;
    default:
        rc = smtp_cmd_check(s, n);
        break;
    }
    return lbind_rc(L, rc);
}

/* -- bytes | nil, err = core.random(n)   n bytes from the OS generator */
static int core_random(lua_State *L)
{
    lua_Integer want = luaL_checkinteger(L, 1);
    char buf[256];
    luaL_argcheck(L, want >= 0 && want <= (lua_Integer)sizeof buf, 1,
                  "must be between 0 and 256");
    if (smtp_random(buf, (size_t)want) != 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "no source of random bytes");
        return 2;
    }
    lua_pushlstring(L, buf, (size_t)want);
    return 1;
}

/* The class's tables, alike in shape to every binding's (lfile.c, lmime_enc.c,
 * lmime_gen.c, lsasl.c): data for lbind_class, one set a class. */
static const luaL_Reg client_methods[] = {
    {"greeting", client_greeting},
    {"ehlo", client_ehlo},
    {"helo", client_helo},
    {"mail", client_mail},
    {"rcpt", client_rcpt},
    {"data", client_data},
    {"rset", client_rset},
    {"noop", client_noop},
    {"quit", client_quit},
    {"auth_plain", client_auth_plain},
    {"auth_login", client_auth_login},
    {"auth", client_auth},
    {"auth_response", client_auth_response},
    {"auth_cancel", client_auth_cancel},
    {"starttls", client_starttls},
    {"tls_done", client_tls_done},
    {"lost", client_lost},
    {"discarded", client_discarded},
    {"body", client_body},
    {"body_end", client_body_end},
    {"feed", client_feed},
    {"next", client_next},
    {"has", client_has},
    {"caps", client_caps},
    {"mechs", client_mechs},
    {"size", client_size},
    {"sasl_choose", client_sasl_choose},
    {"state", client_state},
    {"pending", client_pending},
    {NULL, NULL}
};

static const luaL_Reg client_meta[] = {
    {"__tostring", client_tostring},
    {NULL, NULL}
};

static const luaL_Reg core_funcs[] = {
    {"new", core_new},
    {"random", core_random},
    {"check", core_check},
    {NULL, NULL}
};

SMTP_EXPORT int luaopen_socket_smtp_core(lua_State *L);
SMTP_EXPORT int luaopen_socket_smtp_core(lua_State *L)
{
    lua_pushcfunction(L, lbind_guard_entry); /* upvalue 1: lbind_guarded */
    lbind_class(L, CLIENT_MT, client_methods, client_meta, 1);
    luaL_newlib(L, core_funcs);
    smtp_open_mime(L, smtp_open_file(L)); /* file bodies are message bodies */
    smtp_open_encoders(L);
    smtp_open_sasl(L, check_client_at);
    smtp_open_host(L);
    lua_pushliteral(L, SMTP_CORE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
