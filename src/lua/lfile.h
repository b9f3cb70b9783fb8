/*
 * lfile.h -- smtp.file, the file body object of socket.smtp.core.
 *
 * core.file(path, opts) opens the file at once (so that a missing file is
 * an error before any mail is sent) and keeps the path, the options and
 * the handle. Other bindings read file bodies only through the table
 * smtp_open_file returns (lbind_files): the module entry hands it on.
 */
#ifndef LFILE_H
#define LFILE_H

#include "lbind.h"

/* Registers the file class, adds file (core.file) to the module table on
 * top of the stack, and returns how to read file bodies. */
const lbind_files *smtp_open_file(lua_State *L);

#endif
