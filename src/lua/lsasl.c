/*
 * lsasl.c -- socket.smtp.core.sasl: SASL mechanisms for AUTH, bound to the
 * SMTP engine so that no response ever comes back to Lua.
 *
 *   m | nil, msg, name = core.sasl_choose(offered, forced, have_password,
 *                                         have_token)
 *   x | nil, msg, name = core.sasl(mechanism, params)
 *   true | nil, msg, name = x:start(c)          queue AUTH on client c
 *   true | nil, msg, name = x:step(c, text)     answer a "challenge"
 *   true | nil, msg, name = x:success()         after the 235
 *   x:clear()                                   wipe (also on collection)
 *
 * The responses (which carry the password, or prove it) are computed into
 * the SASL engine and copied from there straight into the SMTP engine's
 * output, which wipes them once written; Lua sees only the server's
 * challenges. The client nonce comes from smtp_random() (base/smtp_random.h).
 */
#include <string.h>
#include "lbind.h"
#include "lsasl.h"
#include "base/smtp_random.h"
#include "mime/mime_enc.h"
#include "sasl/sasl.h"
#include "smtp/smtp_client.h"

#define SASL_MT "socket.smtp.core.sasl"

/* The upvalue of the methods: how to reach the engine of a client object
 * (given by the module entry, which owns that class). */
typedef struct {
    lsasl_client_fn client;
} lsasl_hooks;

static smtp_client *check_client(lua_State *L, int idx)
{
    const lsasl_hooks *h = (const lsasl_hooks *)lua_touserdata(L, lua_upvalueindex(1));
    return h->client(L, idx);
}

static sasl_client *check_sasl(lua_State *L)
{
    return (sasl_client *)luaL_checkudata(L, 1, SASL_MT);
}

static int push_sasl_err(lua_State *L, int err, const char *field)
{
    if (field == NULL)
        return lbind_fail_code(L, err);
    return lbind_fail(L, lua_pushfstring(L, "%s %s", field, smtp_errmsg(err)), smtp_errname(err));
}

/* A peer fault of x, with the server's own words when it gave some
 * (SCRAM's e=, OAuth's JSON). */
static int push_peer_err(lua_State *L, const sasl_client *x, int err)
{
    size_t en = 0;
    const char *et = sasl_client_errtext(x, &en);
    if (err != SMTP_E_SASL_SERVER_ERROR || et == NULL || en == 0)
        return push_sasl_err(L, err, NULL);
    return lbind_fail(L, lua_pushfstring(L, "%s: %s", smtp_errmsg(err), et), smtp_errname(err));
}

/* -- name | nil, msg, name = core.sasl_choose(offered, forced, password?, token?)
 * offered: the parameters of the EHLO AUTH line; forced: nil, a name, or
 * names separated by spaces or commas, tried in that order. */
static int core_sasl_choose(lua_State *L)
{
    size_t on, fn = 0;
    const char *offered = luaL_checklstring(L, 1, &on);
    const char *forced = luaL_optlstring(L, 2, NULL, &fn);
    unsigned have = (lua_toboolean(L, 3) ? SASL_HAVE_PASSWORD : 0) |
                    (lua_toboolean(L, 4) ? SASL_HAVE_TOKEN : 0);
    int m = sasl_choose(sasl_mech_mask(offered, on), forced, fn, have);
    if (m < 0)
        return push_sasl_err(L, -m, NULL);
    lua_pushstring(L, sasl_mech_name(m));
    return 1;
}

/* -- x | nil, msg, name = core.sasl(mechanism, params)
 * params: user, password, token, authzid, host, service, realm, port. */
static int core_sasl(lua_State *L)
{
    size_t mn;
    const char *mech = luaL_checklstring(L, 1, &mn);
    sasl_params p;
    unsigned char rnd[18];
    char nonce[32];
    sasl_client *x;
    int m, rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    m = sasl_mech_find(mech, mn);
    if (m < 0)
        return push_sasl_err(L, SMTP_E_SASL_BAD_MECH, NULL);
    memset(&p, 0, sizeof p);
    p.user = lbind_opt_lstring(L, 2, "user", "params.%s", &p.userlen);
    p.password = lbind_opt_lstring(L, 2, "password", "params.%s", &p.passwordlen);
    p.token = lbind_opt_lstring(L, 2, "token", "params.%s", &p.tokenlen);
    p.authzid = lbind_opt_lstring(L, 2, "authzid", "params.%s", &p.authzidlen);
    p.host = lbind_opt_lstring(L, 2, "host", "params.%s", &p.hostlen);
    p.service = lbind_opt_lstring(L, 2, "service", "params.%s", &p.servicelen);
    p.realm = lbind_opt_lstring(L, 2, "realm", "params.%s", &p.realmlen);
    lua_getfield(L, 2, "port");
    p.port = lua_isnumber(L, -1) ? (unsigned)lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    if (smtp_random(rnd, sizeof rnd) != 0)
        return luaL_error(L, "no source of random bytes for the client nonce");
    p.noncelen = sasl_nonce_text(rnd, sizeof rnd, nonce, sizeof nonce);
    p.nonce = nonce;
    x = (sasl_client *)lua_newuserdatauv(L, sizeof *x, 0);
    memset(x, 0, sizeof *x);
    luaL_setmetatable(L, SASL_MT);
    rc = sasl_client_init(x, m, &p);
    memset(rnd, 0, sizeof rnd);
    if (rc < 0) {
        const char *field = sasl_client_field(x);
        sasl_client_clear(x);
        return push_sasl_err(L, -rc, field);
    }
    return 1;
}

/* -- true | nil, msg, name = x:start(c): queue AUTH with the initial
 * response, if the mechanism has one */
static int sasl_start(lua_State *L)
{
    sasl_client *x = check_sasl(L);
    smtp_client *c = check_client(L, 2);
    const char *out = NULL, *name = sasl_mech_name(sasl_client_mech(x));
    size_t n = 0;
    int rc = sasl_client_start(x, &out, &n);
    if (rc < 0)
        return push_sasl_err(L, -rc, NULL);
    if (name == NULL)
        return push_sasl_err(L, SMTP_E_SASL_BAD_STATE, NULL);
    rc = smtp_client_auth(c, name, strlen(name), (const unsigned char *)out, n, out != NULL);
    if (rc != 0)
        return lbind_fail_code(L, -rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* -- true | nil, msg, name = x:step(c, text)
 * text: the challenge as the server sent it (base64). The answer goes
 * on the engine: the response, or "*" when the challenge is refused
 * (then nil, why: the server's final reply is still to be read). */
static int sasl_step(lua_State *L)
{
    sasl_client *x = check_sasl(L);
    smtp_client *c = check_client(L, 2);
    size_t tn;
    const char *text = luaL_checklstring(L, 3, &tn);
    unsigned char ch[MIME_B64_DECODED_MAX(SASL_CHALLENGE_MAX * 4 / 3 + 4)];
    const char *out = NULL;
    size_t n = 0;
    long dn;
    int rc, arc;
    if (tn > sizeof ch / 3 * 4) {
        arc = smtp_client_auth_cancel(c);
        if (arc != 0)
            return lbind_fail_code(L, -arc);
        return push_sasl_err(L, SMTP_E_SASL_CHALLENGE_TOO_LONG, NULL);
    }
    dn = mime_b64_decode(text, tn, ch);
    if (dn < 0) {
        arc = smtp_client_auth_cancel(c);
        if (arc != 0)
            return lbind_fail_code(L, -arc);
        return lbind_fail(L, "malformed server challenge (not base64)",
                          smtp_errname(SMTP_E_SASL_MALFORMED));
    }
    rc = sasl_client_step(x, (const char *)ch, (size_t)dn, &out, &n);
    memset(ch, 0, sizeof ch);
    if (rc < 0) {
        arc = smtp_client_auth_cancel(c);
        if (arc != 0)
            return lbind_fail_code(L, -arc);
        return push_peer_err(L, x, -rc);
    }
    arc = smtp_client_auth_response(c, (const unsigned char *)out, n);
    if (arc != 0)
        return lbind_fail_code(L, -arc);
    if (rc == SASL_REFUSED)
        return push_peer_err(L, x, SMTP_E_SASL_SERVER_ERROR);
    lua_pushboolean(L, 1);
    return 1;
}

/* -- true | nil, msg, name = x:success(): the server said 235; SCRAM and
 * DIGEST-MD5 must have proved by then that it knows the password */
static int sasl_success(lua_State *L)
{
    sasl_client *x = check_sasl(L);
    int rc = sasl_client_success(x, NULL, 0);
    if (rc < 0)
        return push_peer_err(L, x, -rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* -- x:clear() / __gc / __close: wipe the secrets */
static int sasl_clear(lua_State *L)
{
    sasl_client_clear(check_sasl(L));
    return 0;
}

/* The class's tables, alike in shape to every binding's: data for
 * lbind_class (see lsmtp.c's client_methods). */
static const luaL_Reg sasl_methods[] = {
    {"start", sasl_start},
    {"step", sasl_step},
    {"success", sasl_success},
    {"clear", sasl_clear},
    {NULL, NULL}
};

static const luaL_Reg sasl_meta[] = {
    {"__gc", sasl_clear},
    {"__close", sasl_clear},
    {NULL, NULL}
};

static const luaL_Reg sasl_funcs[] = {
    {"sasl", core_sasl},
    {"sasl_choose", core_sasl_choose},
    {NULL, NULL}
};

void smtp_open_sasl(lua_State *L, lsasl_client_fn client)
{
    lsasl_hooks *h = (lsasl_hooks *)lua_newuserdatauv(L, sizeof *h, 0);
    h->client = client;
    lbind_class(L, SASL_MT, sasl_methods, sasl_meta, 1);
    luaL_setfuncs(L, sasl_funcs, 0);
}
