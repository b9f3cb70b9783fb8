/*
 * lbind.c -- helpers shared by the binding files (lbind.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbind.h"
#include "base/smtp_errors.h"
#include "mime/mime_gen.h"

void lbind_class(lua_State *L, const char *tname, const luaL_Reg *methods,
                 const luaL_Reg *meta, int nup)
{
    int i;
    if (luaL_newmetatable(L, tname)) {
        if (meta != NULL) {
            for (i = 0; i < nup; i++)
                lua_pushvalue(L, -(nup + 1));
            luaL_setfuncs(L, meta, nup);
        }
        lua_newtable(L);
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -(nup + 2));
        luaL_setfuncs(L, methods, nup);
        lua_setfield(L, -2, "__index");
        lua_pushstring(L, tname);
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1 + nup);
}

int lbind_fail(lua_State *L, const char *msg, const char *name)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, name);
    return 3;
}

int lbind_fail_code(lua_State *L, int err)
{
    return lbind_fail(L, smtp_errmsg(err), smtp_errname(err));
}

int lbind_rc(lua_State *L, int rc)
{
    if (rc != 0)
        return lbind_fail_code(L, -rc);
    lua_pushboolean(L, 1);
    return 1;
}

const char *lbind_opt_lstring(lua_State *L, int t, const char *field, const char *what,
                              size_t *len)
{
    size_t n = 0;
    const char *s = NULL;
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
    } else if (lua_type(L, -1) != LUA_TSTRING) {
        const char *type = luaL_typename(L, -1);
        luaL_error(L, "bad %s (string expected, got %s)", lua_pushfstring(L, what, field),
                   type);
    } else {
        s = lua_tolstring(L, -1, &n);
    }
    if (len != NULL)
        *len = n;
    return s;
}

int lbind_guard_entry(lua_State *L)
{
    const lbind_inner *in = (const lbind_inner *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return in->fn(L);
}

int lbind_guarded(lua_State *L, int *busy, const lbind_inner *inner)
{
    union {
        const lbind_inner *c;
        void *p;
    } in;
    int nargs = lua_gettop(L), rc, n;
    in.c = inner;
    luaL_checkstack(L, 3, NULL); /* may raise: the mark is not set yet */
    *busy = 1;
    lua_pushvalue(L, lua_upvalueindex(1)); /* lbind_guard_entry */
    lua_insert(L, 1);
    lua_pushlightuserdata(L, in.p);
    rc = lua_pcall(L, nargs + 1, LUA_MULTRET, 0);
    *busy = 0;
    if (rc != 0)
        return lua_error(L);
    n = lua_gettop(L);
    if (n < nargs + 3) {
        /* nil the slots the call used above its results (the function,
         * LuaJIT's frame link, the arguments, the light userdata): a stale
         * copy of the object there would stay reachable for the rest of
         * the collector's cycle (LuaJIT scans the slots of a frame not yet
         * written), later than from a plain C function, and so change the
         * order of finalizers. luaL_checkstack above made the room. */
        lua_settop(L, nargs + 3);
        lua_settop(L, n);
    }
    return n;
}

void lbind_push_shown(lua_State *L, const char *s, size_t n)
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

int lbind_cte(lua_State *L, int idx, const char *what)
{
    size_t n = 0;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    int cte = s != NULL ? mime_gen_cte_code(s, n) : -SMTP_E_MSG_ENCODING;
    if (cte != -SMTP_E_MSG_ENCODING || what == NULL)
        return cte;
    if (s != NULL) /* shown whole: a NUL byte must not cut it to a valid name */
        lbind_push_shown(L, s, n);
    return luaL_error(L, "bad %s (\"base64\", \"quoted-printable\", \"7bit\", \"8bit\" or "
                         "\"auto\" expected, got %s)", what,
                      s != NULL ? lua_tostring(L, -1) : luaL_typename(L, idx));
}

int lbind_number_text(lua_State *L, int idx, char *buf, size_t cap)
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
