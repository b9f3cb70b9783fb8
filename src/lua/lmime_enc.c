/*
 * lmime_enc.c -- socket.smtp.core: the Lua binding of the content-transfer
 * encoders (mime_enc.h).
 *
 *   e = core.encoder(kind [, opts])   kind "base64" | "quoted-printable" | "eol"
 *   out = e:update(chunk)             encoded bytes so far ("" possible)
 *   out = e:finish()                  the rest; e starts a new stream
 *   name = core.choose(sample)        "7bit" | "quoted-printable" | "base64"
 *
 * Only translation happens here. The encoder state is the userdata itself
 * (fixed size, nothing to free), and each chunk is one C call that encodes
 * straight into a luaL_Buffer sized with mime_X_bound: no per-byte Lua
 * calls, no copies of the engine's output.
 */
#include <string.h>

#include "lbind.h"
#include "lmime_enc.h"
#include "mime/mime_enc.h"

#define ENCODER_MT "socket.smtp.core.encoder"

enum { ENC_B64, ENC_QP, ENC_EOL };
static const char *const kind_names[] = {"base64", "quoted-printable", "eol", NULL};

typedef struct {
    int kind;
    union {
        mime_b64 b64;
        mime_qp qp;
        mime_eol eol;
    } u;
} encoder;

/* Room in a luaL_Buffer for one mime_X_update call (STYLE.md 9): at least
 * MIME_ENC_MIN_CAP bytes, so that each step makes progress where the room
 * is fixed (compat.h, compat_prepbuffer). */
typedef char enc_buffersize_check[(!COMPAT_PREPBUFFER_FIXED || LUAL_BUFFERSIZE >= MIME_ENC_MIN_CAP)
                                      ? 1 : -1];

static encoder *check_encoder(lua_State *L)
{
    return (encoder *)luaL_checkudata(L, 1, ENCODER_MT);
}

static size_t enc_bound(const encoder *e, size_t n)
{
    switch (e->kind) {
    case ENC_B64: return mime_b64_bound(&e->u.b64, n);
    case ENC_QP: return mime_qp_bound(&e->u.qp, n);
    default: return mime_eol_bound(&e->u.eol, n);
    }
}

static size_t enc_update(encoder *e, const unsigned char *in, size_t n,
                         size_t *used, char *out, size_t cap)
{
    switch (e->kind) {
    case ENC_B64: return mime_b64_update(&e->u.b64, in, n, used, out, cap);
    case ENC_QP: return mime_qp_update(&e->u.qp, in, n, used, out, cap);
    default: return mime_eol_update(&e->u.eol, in, n, used, out, cap);
    }
}

static size_t enc_finish(encoder *e, char *out, size_t cap)
{
    switch (e->kind) {
    case ENC_B64: return mime_b64_finish(&e->u.b64, out, cap);
    case ENC_QP: return mime_qp_finish(&e->u.qp, out, cap);
    default: return mime_eol_finish(&e->u.eol, out, cap);
    }
}

/* opts.<name> as a boolean (nil: dflt); raises on another type. */
static int opt_boolean(lua_State *L, const char *name, int dflt)
{
    int t;
    lua_getfield(L, 2, name);
    t = lua_type(L, -1);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN) {
        luaL_argerror(L, 2, lua_pushfstring(L, "opts.%s: boolean expected, got %s", name,
                                            luaL_typename(L, -1)));
    }
    if (t == LUA_TBOOLEAN)
        dflt = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return dflt;
}

/* opts.linelen: nil (76), 0, or a multiple of 4 up to 996 (the line and its
 * CRLF within SMTP's 1000). */
static unsigned opt_linelen(lua_State *L)
{
    lua_Number v;
    unsigned linelen = 76;
    lua_getfield(L, 2, "linelen");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_argerror(L, 2, lua_pushfstring(L, "opts.linelen: number expected, got %s",
                                                luaL_typename(L, -1)));
        v = lua_tonumber(L, -1);
        if (!(v >= 0 && v <= 996) || v != (lua_Number)(unsigned)v || (unsigned)v % 4 != 0)
            luaL_argerror(L, 2, "opts.linelen: 0 or a multiple of 4 up to 996 expected");
        linelen = (unsigned)v;
    }
    lua_pop(L, 1);
    return linelen;
}

/* Every key of opts must be one this kind knows (catches typos). */
static void check_opt_keys(lua_State *L, int kind)
{
    static const char *const known[][3] = {
        {"linelen", NULL, NULL}, {"binary", "safe", NULL}, {NULL, NULL, NULL}};
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
        int k, found = 0;
        lua_pop(L, 1); /* the value */
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *key = lua_tostring(L, -1);
            for (k = 0; k < 3 && known[kind][k] != NULL; k++)
                if (strcmp(key, known[kind][k]) == 0)
                    found = 1;
        }
        if (!found) {
            const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                            : luaL_typename(L, -1);
            luaL_argerror(L, 2, lua_pushfstring(L, "opts.%s: not an option of %s encoders",
                                                key, kind_names[kind]));
        }
    }
}

/* -- e = core.encoder(kind [, opts])
 *    kind: "base64" | "quoted-printable" | "eol"
 *    opts: base64 { linelen = 76 } (0: one line); quoted-printable
 *    { binary = false, safe = true } */
static int core_encoder(lua_State *L)
{
    int kind = luaL_checkoption(L, 1, NULL, kind_names);
    unsigned linelen = 76, flags = MIME_QP_SAFE;
    encoder *e;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        check_opt_keys(L, kind);
        if (kind == ENC_B64)
            linelen = opt_linelen(L);
        if (kind == ENC_QP)
            flags = (opt_boolean(L, "binary", 0) ? MIME_QP_BINARY : 0) |
                    (opt_boolean(L, "safe", 1) ? MIME_QP_SAFE : 0);
    }
    e = (encoder *)lua_newuserdatauv(L, sizeof *e, 0);
    e->kind = kind;
    if (kind == ENC_B64)
        mime_b64_init(&e->u.b64, linelen);
    else if (kind == ENC_QP)
        mime_qp_init(&e->u.qp, flags);
    else
        mime_eol_init(&e->u.eol);
    luaL_setmetatable(L, ENCODER_MT);
    return 1;
}

/* -- out = e:update(chunk)
 * The encoding of chunk as far as it can be done yet ("" possible): a
 * base64 group or a quoted-printable decision may wait for the next bytes. */
static int encoder_update(lua_State *L)
{
    encoder *e = check_encoder(L);
    size_t n;
    const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 2, &n);
    luaL_Buffer b;
    lua_settop(L, 2); /* the buffer's stack use starts above the arguments */
    luaL_buffinit(L, &b);
    while (n > 0) {
        size_t want = enc_bound(e, n), cap, used = 0, w;
        char *out;
        if (want == (size_t)-1)
            return luaL_error(L, "chunk too large to encode");
        if (want < MIME_ENC_MIN_CAP)
            want = MIME_ENC_MIN_CAP;
        out = compat_prepbuffer(&b, want, &cap);
        w = enc_update(e, in, n, &used, out, cap);
        luaL_addsize(&b, w);
        in += used;
        n -= used;
    }
    luaL_pushresult(&b);
    return 1;
}

/* -- out = e:finish()
 * What is still pending (padding, held-back bytes, the final CRLF of a
 * base64 line); the encoder is then ready for a new stream. */
static int encoder_finish(lua_State *L)
{
    encoder *e = check_encoder(L);
    char buf[MIME_ENC_FINISH_MAX];
    size_t w = enc_finish(e, buf, sizeof buf);
    lua_pushlstring(L, buf, w);
    return 1;
}

/* -- s = tostring(e)   "socket.smtp.core.encoder (base64): 0x..." */
static int encoder_tostring(lua_State *L)
{
    encoder *e = check_encoder(L);
    lua_pushfstring(L, "%s (%s): %p", ENCODER_MT, kind_names[e->kind], (void *)e);
    return 1;
}

/* -- name = core.choose(sample)
 *    "7bit" | "quoted-printable" | "base64" for content starting with
 *    sample (never "8bit": that depends on the server). */
static int core_choose(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    switch (mime_cte_choose((const unsigned char *)s, n)) {
    case MIME_CTE_7BIT: lua_pushliteral(L, "7bit"); break;
    case MIME_CTE_8BIT: lua_pushliteral(L, "8bit"); break;
    case MIME_CTE_QP: lua_pushliteral(L, "quoted-printable"); break;
    default: lua_pushliteral(L, "base64"); break;
    }
    return 1;
}

/* The class's tables, alike in shape to every binding's: data for
 * lbind_class (see lsmtp.c's client_methods). */
static const luaL_Reg encoder_methods[] = {
    {"update", encoder_update},
    {"finish", encoder_finish},
    {NULL, NULL}
};

static const luaL_Reg encoder_meta[] = {
    {"__tostring", encoder_tostring},
    {NULL, NULL}
};

static const luaL_Reg encoder_funcs[] = {
    {"encoder", core_encoder},
    {"choose", core_choose},
    {NULL, NULL}
};

void smtp_open_encoders(lua_State *L)
{
    lbind_class(L, ENCODER_MT, encoder_methods, encoder_meta, 0);
    luaL_setfuncs(L, encoder_funcs, 0);
}
