/*
 * lbind.h -- helpers shared by the binding files (src/lua/l*.c), private
 * to them: class registration, the fail convention, optional fields.
 *
 * Nothing here knows a binding file or an engine's policy; the shims for
 * older Lua versions are in compat.h (included from here).
 */
#ifndef LBIND_H
#define LBIND_H

#include <stddef.h>
#include "compat.h"

/* Registers the metatable tname (once per state): meta's functions as
 * metamethods (__gc, __close, __tostring, ...; meta may be NULL), a table
 * of methods as __index, and __name = tname (5.1-5.2 do not set it). The
 * nup values on top of the stack become upvalues of every function of
 * methods and meta, and are popped. Leaves the stack as it was below them.
 * Each class's luaL_Reg tables (methods, meta, and its module functions)
 * stay in its own file: data, alike in shape from file to file. */
void lbind_class(lua_State *L, const char *tname, const luaL_Reg *methods,
                 const luaL_Reg *meta, int nup);

/* nil, msg, name: the fail convention of every binding. Returns 3. */
int lbind_fail(lua_State *L, const char *msg, const char *name);

/* nil, message, name for an smtp_errors.h code (SMTP_E_*, positive).
 * Returns 3. */
int lbind_fail_code(lua_State *L, int err);

/* true, or lbind_fail_code(-rc) when rc != 0: rc is an engine function's
 * result, 0 or -SMTP_E_... Returns 1 or 3. */
int lbind_rc(lua_State *L, int rc);

/* t[field] (t an absolute index) as a string left on the stack, so that it
 * stays alive; NULL, nothing pushed and *len = 0 (len may be NULL) when the
 * field is nil. Any other type raises "bad <what> (string expected, got
 * <type>)", what being the format `what` with the field name for its %s
 * (e.g. "params.%s", "option '%s'"). */
const char *lbind_opt_lstring(lua_State *L, int t, const char *field, const char *what,
                              size_t *len);

/* Runs inner with the arguments on the stack (the object first) in
 * protected mode, with *busy set for the whole call: a method that copies
 * engine memory into Lua strings does it in inner, where any collection
 * (and a finalizer that calls the same object, refused while *busy is set)
 * can happen. *busy is set before anything can allocate, and cleared
 * however inner ends; an error goes on to the caller as it was. Returns
 * inner's results. busy points into the object's userdata, which the
 * stack anchors. The calling function's upvalue 1 must be
 * lbind_guard_entry (lbind_class with nup 1): pushing it allocates
 * nothing, where lua_pushcfunction would (5.1, LuaJIT). */
typedef struct {
    lua_CFunction fn;
} lbind_inner;
int lbind_guarded(lua_State *L, int *busy, const lbind_inner *inner);
int lbind_guard_entry(lua_State *L);

#endif
