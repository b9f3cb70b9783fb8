/*
 * lhost.c -- socket.smtp.core.verify_host and core.ip: the server
 * certificate's names against the host, for lua/socket/smtp/tls.lua.
 *
 *   true | nil, msg, "ETLS_HOST" = core.verify_host(host, names)
 *   4 | 16 | nil = core.ip(text)
 *
 * The rules (which field counts, how a name matches) are smtp_host's; this
 * file walks the Lua lists and words the failure.
 */
#include <string.h>
#include "lbind.h"
#include "lhost.h"
#include "smtp/smtp_host.h"

/* Whether a string of names[key] (a list, possibly absent) is a name of
 * field f that names host (smtp_host_name_matches). */
static int any_name(lua_State *L, int names, const char *key, smtp_host_field f,
                    const char *host, size_t hn)
{
    int i, found = 0;
    lua_getfield(L, names, key);
    if (lua_istable(L, -1)) {
        for (i = 1; !found; i++) {
            size_t n;
            const char *s;
            lua_rawgeti(L, -1, i);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            s = lua_tolstring(L, -1, &n);
            found = s != NULL && smtp_host_name_matches(f, s, n, host, hn);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return found;
}

static int count(lua_State *L, int names, const char *field)
{
    int n;
    lua_getfield(L, names, field);
    n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    lua_pop(L, 1);
    return n;
}

/* Room for what a certificate holds, as messages show it: at most
 * NAMES_SHOWN names of each of the three fields, each cut to NAME_SHOWN. */
#define NAMES_SHOWN 20
#define NAME_SHOWN 255
#define NAMES_TEXT (3 * NAMES_SHOWN * (NAME_SHOWN + 8) + 1)

/* Appends what names[field] holds to out ("DNS:a, IP:1.2.3.4, CN=b"),
 * printable, in C memory: no Lua buffer shares the stack with the table. */
static size_t add_names(lua_State *L, char *out, size_t at, int names, const char *field,
                        const char *label)
{
    int i, n;
    lua_getfield(L, names, field);
    n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    for (i = 1; i <= n && i <= NAMES_SHOWN; i++) {
        lua_rawgeti(L, -1, i);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t k, len, ln = strlen(label);
            const char *s = lua_tolstring(L, -1, &len);
            if (at > 0) {
                memcpy(out + at, ", ", 2);
                at += 2;
            }
            memcpy(out + at, label, ln);
            at += ln;
            for (k = 0; k < len && k < NAME_SHOWN; k++) /* shown printable */
                out[at++] = (s[k] >= 32 && s[k] < 127) ? s[k] : '?';
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return at;
}

/* -- 4 | 16 | nil = core.ip(text): the size of the IP address written, if
 * it is one ("[v6]" too) */
static int core_ip(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char addr[16];
    size_t k = smtp_host_ip(s, n, addr);
    if (k == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)k);
    return 1;
}

/* -- true | nil, msg, "ETLS_HOST" = core.verify_host(host, names)
 * names: { dns = {...}, ip = {...}, cn = {...} } from the server's
 * certificate (subjectAltName dNSName and iPAddress, subject CN). The
 * rules are smtp_host's (which field counts: smtp_host_field_for). */
static int core_verify_host(lua_State *L)
{
    size_t hn;
    const char *host = luaL_checklstring(L, 1, &hn);
    static const char *const keys[] = {"dns", "ip", "cn"}; /* by smtp_host_field */
    smtp_host_field f;
    int san;
    size_t at;
    char *text;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    san = count(L, 2, "dns") + count(L, 2, "ip");
    f = smtp_host_field_for(host, hn, (size_t)san);
    if (any_name(L, 2, keys[f], f, host, hn)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    text = (char *)lua_newuserdatauv(L, NAMES_TEXT, 0); /* 3: scratch, collected */
    at = add_names(L, text, 0, 2, "dns", "DNS:");
    at = add_names(L, text, at, 2, "ip", "IP:");
    at = add_names(L, text, at, 2, "cn", "CN=");
    luaL_pushfail(L);
    lua_pushliteral(L, "certificate does not match host \"");
    lua_pushlstring(L, host, hn);
    lua_pushliteral(L, "\": it holds ");
    if (at == 0)
        lua_pushliteral(L, "no name");
    else
        lua_pushlstring(L, text, at);
    if (at > 0 && san > 0 && count(L, 2, "cn") > 0)
        lua_pushliteral(L, " (its CN does not count: it has subjectAltName)");
    else
        lua_pushliteral(L, "");
    lua_concat(L, 5);
    lua_pushliteral(L, "ETLS_HOST");
    return 3;
}

static const luaL_Reg host_funcs[] = {
    {"verify_host", core_verify_host},
    {"ip", core_ip},
    {NULL, NULL}
};

void smtp_open_host(lua_State *L)
{
    luaL_setfuncs(L, host_funcs, 0);
}
