/*
 * lbind.h -- helpers shared by the binding files (src/lua/l*.c), private
 * to them: class registration, the fail convention, optional fields,
 * the guarded call, and the file-body interface (lbind_files).
 *
 * Nothing here knows a binding file or an engine's policy; the shims for
 * older Lua versions are in compat.h (included from here).
 */
#ifndef LBIND_H
#define LBIND_H

#include <stddef.h>
#include <stdio.h>
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

/* Pushes s[0..n) quoted, control characters escaped: "x-a\r\nbcc". */
void lbind_push_shown(lua_State *L, const char *s, size_t n);

/* The encoding named by the value at idx (mime_gen_cte_code): MIME_CTE_*
 * or MIME_GEN_AUTO. Anything else raises "bad <what> (...)", or, when
 * what is NULL, gives -SMTP_E_MSG_ENCODING. */
int lbind_cte(lua_State *L, int idx, const char *what);

/* The number at idx as header text in buf[0..cap) (cap 32 or more):
 * integers exactly, other finite numbers so that they read back the same.
 * 0, or -1 for NaN and the infinities. */
int lbind_number_text(lua_State *L, int idx, char *buf, size_t cap);

/* A file body (smtp.file) as the message binding reads it, without
 * knowing the file binding: the module entry hands what smtp_open_file
 * returns to smtp_open_mime. idx is the object's stack index. */
enum { LBIND_FILE_PATH = 1, LBIND_FILE_TYPE, LBIND_FILE_NAME };
typedef struct {
    /* whether the value at idx is a file body */
    int (*is)(lua_State *L, int idx);
    /* its encoding: MIME_CTE_* or MIME_GEN_AUTO (base64 when none given) */
    int (*encoding)(lua_State *L, int idx);
    /* pushes its path, content_type or filename (LBIND_FILE_*): the
     * string, or nil (then NULL is returned) */
    const char *(*field)(lua_State *L, int idx, int which, size_t *len);
    /* the file for a new reader, at its start: the object's own handle,
     * taken over (the caller closes it), or the path opened again; NULL
     * with *err set for push_error */
    FILE *(*take)(lua_State *L, int idx, int *err);
    /* a handle back from a reader done before its end: kept, or closed */
    void (*give_back)(lua_State *L, int idx, FILE *f);
    /* pushes and returns "path: reason" for an error of take or of
     * reading (an errno value, or take's own) */
    const char *(*push_error)(lua_State *L, int idx, int err);
} lbind_files;

/* Runs inner with the arguments on the stack (the object first) in
 * protected mode, with *busy set for the whole call: a method that copies
 * engine memory into Lua strings does it in inner, where any collection
 * (and a finalizer that calls the same object, refused while *busy is set)
 * can happen. *busy is set before anything can allocate, and cleared
 * however inner ends; an error goes on to the caller as it was. Returns
 * inner's results, with no stale copy of the arguments left on the stack
 * above them (the collector sees what it sees after a plain C function).
 * busy points into the object's userdata, which the stack anchors. The
 * calling function's upvalue 1 must be lbind_guard_entry (lbind_class
 * with nup 1): pushing it allocates nothing, where lua_pushcfunction
 * would (5.1, LuaJIT). */
typedef struct {
    lua_CFunction fn;
} lbind_inner;
int lbind_guarded(lua_State *L, int *busy, const lbind_inner *inner);
int lbind_guard_entry(lua_State *L);

#endif
