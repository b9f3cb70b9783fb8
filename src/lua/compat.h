/*
 * compat.h -- one source for Lua 5.1/LuaJIT through 5.4.
 *
 * The binding is written against the 5.4 API; this header shims what older
 * versions lack (the LPeg lptypes.h / LuaSocket compat.c shape). Included
 * by the binding files (l*.c) only: the engines never see Lua.
 */
#ifndef SMTP_COMPAT_H
#define SMTP_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if LUA_VERSION_NUM == 501

/* Plain 5.1 lacks these; LuaJIT 2.1 has some. Our static copies are used
 * either way, under their own names, so nothing clashes. */
static inline void compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        lua_pushstring(L, l->name);
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -(nup + 1));
        lua_pushcclosure(L, l->func, nup);
        lua_settable(L, -(nup + 3));
    }
    lua_pop(L, nup);
}
#define luaL_setfuncs compat_setfuncs

static inline void *compat_testudata(lua_State *L, int ud, const char *tname)
{
    void *p = lua_touserdata(L, ud);
    if (p != NULL && lua_getmetatable(L, ud)) {
        luaL_getmetatable(L, tname);
        if (!lua_rawequal(L, -1, -2))
            p = NULL;
        lua_pop(L, 2);
        return p;
    }
    return NULL;
}
#define luaL_testudata compat_testudata

#ifndef lua_rawlen
#define lua_rawlen(L, i) lua_objlen(L, i)
#endif
#ifndef luaL_newlib /* LuaJIT 2.1 has it as a macro */
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, l, 0))
#endif

static inline void compat_setmetatable(lua_State *L, const char *tname)
{
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}
#define luaL_setmetatable compat_setmetatable

/* A userdata's user value is its environment table in 5.1. */
#define lua_getuservalue(L, i) lua_getfenv(L, i)
#define lua_setuservalue(L, i) lua_setfenv(L, i)

#endif /* 5.1 */

/*
 * compat_prepbuffer(B, want, capp): room in a luaL_Buffer for one write of
 * up to want bytes. Returns the pointer and stores the room in *capp: want
 * on 5.2+ (luaL_prepbuffsize), LUAL_BUFFERSIZE on 5.1 and LuaJIT, which
 * lack luaL_prepbuffsize (COMPAT_PREPBUFFER_FIXED: the caller loops until
 * its input is used up).
 */
#if LUA_VERSION_NUM >= 502
#define COMPAT_PREPBUFFER_FIXED 0
#define compat_prepbuffer(B, want, capp) (*(capp) = (want), luaL_prepbuffsize((B), (want)))
#else
#define COMPAT_PREPBUFFER_FIXED 1
#define compat_prepbuffer(B, want, capp) (*(capp) = LUAL_BUFFERSIZE, luaL_prepbuffer(B))
#endif

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, s, n) lua_newuserdata(L, s)
#define luaL_pushfail(L) lua_pushnil(L)
#endif

#endif
