/*
 * lfile.c -- socket.smtp.core: smtp.file, a file body (lfile.h).
 *
 * A file object owns at most one handle: the one core.file opened. The
 * first generator that reads the body takes it over (it then belongs to
 * that generator, which closes it); every other reader opens the path
 * itself. So no handle is ever shared, and f:close() cannot pull a file
 * from under a generator.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* open, fstat, fdopen */
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "lbind.h"
#include "lfile.h"
#include "mime/mime_enc.h"
#include "mime/mime_gen.h"

#define FILE_MT "socket.smtp.core.file"

#if LUA_VERSION_NUM == 501
#define lua_getuservalue(L, i) lua_getfenv(L, i)
#define lua_setuservalue(L, i) lua_setfenv(L, i)
#endif

typedef struct {
    FILE *f;              /* owned; NULL once taken over or closed */
    int encoding;         /* MIME_CTE_* or MIME_GEN_AUTO */
    int has_encoding;
} lfile;

/* The object's uservalue table holds path, content_type and filename at
 * LBIND_FILE_PATH, LBIND_FILE_TYPE, LBIND_FILE_NAME. */

#define NOT_REGULAR (-1) /* open_regular's error for a FIFO, a directory... */

/* path opened for reading, only if it is a regular file: a FIFO or a
 * device would block or never end. NULL with *err an errno value or
 * NOT_REGULAR. */
static FILE *open_regular(const char *path, int *err)
{
#if defined(_WIN32)
    FILE *f = fopen(path, "rb");
    *err = f == NULL ? errno : 0;
    return f;
#else
    struct stat st;
    FILE *f;
    int fd;
#ifdef O_CLOEXEC
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
#else
    fd = open(path, O_RDONLY | O_NONBLOCK);
#endif
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *err = S_ISREG(st.st_mode) ? errno : NOT_REGULAR;
        close(fd);
        return NULL;
    }
    f = fdopen(fd, "rb");
    if (f == NULL) {
        *err = errno;
        close(fd);
    }
    return f;
#endif
}

static const char *push_error(lua_State *L, const char *path, int err)
{
    return lua_pushfstring(L, "%s: %s", path,
                           err == NOT_REGULAR ? "not a regular file" : strerror(err));
}

static lfile *check_file(lua_State *L, int idx)
{
    return (lfile *)luaL_checkudata(L, idx, FILE_MT);
}

static int file_is(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, FILE_MT) != NULL;
}

static int file_encoding(lua_State *L, int idx)
{
    return check_file(L, idx)->encoding;
}

/* -- file | nil, err = core.file(path [, {content_type=, filename=, encoding=}]) */
static int core_file(lua_State *L)
{
    size_t plen;
    const char *path = luaL_checklstring(L, 1, &plen);
    lfile *lf;
    FILE *f;
    int err;
    lua_settop(L, 2);
    if (memchr(path, '\0', plen) != NULL) {
        /* the system would open the path cut at the NUL: another file */
        luaL_pushfail(L);
        lbind_push_shown(L, path, plen);
        lua_pushfstring(L, "%s: a path cannot contain a NUL byte", lua_tostring(L, -1));
        lua_remove(L, -2);
        return 2;
    }
    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lf = (lfile *)lua_newuserdatauv(L, sizeof *lf, 1); /* 3 */
    lf->f = NULL;
    lf->encoding = MIME_CTE_BASE64;
    lf->has_encoding = 0;
    luaL_setmetatable(L, FILE_MT);
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, LBIND_FILE_PATH);
    if (lua_istable(L, 2)) {
        if (lbind_opt_lstring(L, 2, "content_type", "option '%s'", NULL) != NULL)
            lua_rawseti(L, -2, LBIND_FILE_TYPE);
        if (lbind_opt_lstring(L, 2, "filename", "option '%s'", NULL) != NULL)
            lua_rawseti(L, -2, LBIND_FILE_NAME);
        lua_getfield(L, 2, "encoding");
        if (!lua_isnil(L, -1)) {
            lf->encoding = lbind_cte(L, -1, "option 'encoding'");
            lf->has_encoding = 1;
        }
        lua_pop(L, 1);
    }
    lua_setuservalue(L, 3);
    /* opened last: nothing above can raise with the file open */
    f = open_regular(path, &err);
    if (f == NULL) {
        luaL_pushfail(L);
        push_error(L, path, err);
        return 2;
    }
    lf->f = f;
    return 1;
}

/* -- file:close()  (also __gc and __close: idempotent) */
static int file_close(lua_State *L)
{
    lfile *lf = check_file(L, 1);
    if (lf->f != NULL) {
        fclose(lf->f);
        lf->f = NULL;
    }
    return 0;
}

/* Pushes field `which` of the object's uservalue table and returns it as a
 * string (NULL when it is not one). The uservalue is read as no table at
 * all when the debug library replaced it by something else. */
static const char *push_field(lua_State *L, int idx, int which)
{
    lua_getuservalue(L, idx);
    if (lua_istable(L, -1))
        lua_rawgeti(L, -1, which);
    else
        lua_pushnil(L);
    lua_remove(L, -2);
    return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
}

/* -- s = tostring(file) */
static int file_tostring(lua_State *L)
{
    const char *p;
    check_file(L, 1);
    p = push_field(L, 1, LBIND_FILE_PATH);
    lua_pushfstring(L, "smtp file (%s)", p != NULL ? p : "?");
    return 1;
}

static const char *file_field(lua_State *L, int idx, int which, size_t *len)
{
    check_file(L, idx);
    if (push_field(L, idx, which) == NULL) {
        *len = 0;
        return NULL;
    }
    return lua_tolstring(L, -1, len);
}

static FILE *file_take(lua_State *L, int idx, int *err)
{
    lfile *lf = check_file(L, idx);
    FILE *f = lf->f;
    const char *path;
    lf->f = NULL;
    if (f != NULL && fseek(f, 0, SEEK_SET) == 0)
        return f;
    if (f != NULL)
        fclose(f);
    path = push_field(L, idx, LBIND_FILE_PATH);
    if (path == NULL) { /* (the uservalue replaced by the debug library) */
        lua_pop(L, 1);
        *err = EINVAL;
        return NULL;
    }
    f = open_regular(path, err);
    lua_pop(L, 1);
    return f;
}

static void file_give_back(lua_State *L, int idx, FILE *f)
{
    lfile *lf = check_file(L, idx);
    if (lf->f == NULL && fseek(f, 0, SEEK_SET) == 0)
        lf->f = f;
    else
        fclose(f);
}

/* "path: reason" for an error of file_take or of reading. */
static const char *file_push_error(lua_State *L, int idx, int err)
{
    const char *p;
    check_file(L, idx);
    p = push_field(L, idx, LBIND_FILE_PATH);
    p = push_error(L, p != NULL ? p : "?", err);
    lua_remove(L, -2); /* the path */
    return p;
}

static const luaL_Reg file_methods[] = {
    {"close", file_close},
    {NULL, NULL}
};

static const luaL_Reg file_meta[] = {
    {"__gc", file_close},
    {"__close", file_close},
    {"__tostring", file_tostring},
    {NULL, NULL}
};

static const luaL_Reg funcs[] = {
    {"file", core_file},
    {NULL, NULL}
};

static const lbind_files files = {
    file_is, file_encoding, file_field, file_take, file_give_back, file_push_error
};

const lbind_files *smtp_open_file(lua_State *L)
{
    lbind_class(L, FILE_MT, file_methods, file_meta, 0);
    luaL_setfuncs(L, funcs, 0);
    return &files;
}
