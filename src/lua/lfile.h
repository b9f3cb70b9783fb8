/*
 * lfile.h -- smtp.file, the file body object of socket.smtp.core.
 *
 * core.file(path, opts) opens the file at once (so that a missing file is
 * an error before any mail is sent) and keeps the path, the options and
 * the handle. The message generator (lmime.c) reads file bodies through
 * the functions below: it takes the handle over, or opens the path again.
 */
#ifndef LFILE_H
#define LFILE_H

#include <stddef.h>
#include <stdio.h>
#include "base/smtp_errors.h"
struct lua_State; /* lua.h is for the binding files (l*.c) only */

/* Registers the file class and adds file (core.file) to the module table
 * on top of the stack. */
void smtp_open_file(struct lua_State *L);

/* The parts of a file object (lfile_field). */
enum { LFILE_PATH = 1, LFILE_TYPE, LFILE_NAME };

/* Not an encoding name (lfile_encoding_code): the one list's code for
 * it, with the engines' sign. No encoding code is negative below
 * MIME_GEN_AUTO (lfile.c checks this when it is compiled). */
#define LFILE_NO_ENCODING (-SMTP_E_MSG_ENCODING)

/* Whether the value at idx is a file object. */
int lfile_is(struct lua_State *L, int idx);

/* Its encoding: MIME_CTE_* or MIME_GEN_AUTO (base64 when none given). */
int lfile_encoding(struct lua_State *L, int idx);

/* Pushes its path, content_type or filename (LFILE_*): the string, or nil
 * (then NULL is returned). */
const char *lfile_field(struct lua_State *L, int idx, int which, size_t *len);

/* Pushes its path ("?" returned if it has none). */
const char *lfile_push_path(struct lua_State *L, int idx);

/* The file for a new reader, at its start: the object's own handle, taken
 * over (the caller owns it now and closes it), or the path opened again.
 * NULL with *err set (an errno value, or one lfile_push_error explains). */
FILE *lfile_take(struct lua_State *L, int idx, int *err);

/* The handle given back by a reader done with it before its end (the
 * build's look at the content): kept by the object, else closed. */
void lfile_give_back(struct lua_State *L, int idx, FILE *f);

/* Pushes (and returns) "path: reason" for an error of lfile_take or of
 * reading. */
const char *lfile_push_error(struct lua_State *L, const char *path, int err);

/* MIME_CTE_* or MIME_GEN_AUTO for an encoding name at idx, or
 * LFILE_NO_ENCODING; lfile_encoding_of raises "bad <what> (...)" instead. */
int lfile_encoding_code(struct lua_State *L, int idx);
int lfile_encoding_of(struct lua_State *L, int idx, const char *what);

/* Pushes s[0..n) quoted, control characters escaped: "x-a\r\nbcc". */
void lfile_push_shown(struct lua_State *L, const char *s, size_t n);

#endif
