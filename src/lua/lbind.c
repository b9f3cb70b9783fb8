/*
 * lbind.c -- helpers shared by the binding files (lbind.h).
 */
#include "lbind.h"
#include "base/smtp_errors.h"

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
    int nargs = lua_gettop(L), rc;
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
    return lua_gettop(L);
}
