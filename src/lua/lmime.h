/*
 * lmime.h -- the MIME parts of the socket.smtp.core binding.
 */
#ifndef LMIME_H
#define LMIME_H

#include "lbind.h"

/* Adds message (lmime.c, with its generator class, lmime_gen.c) to the
 * module table on top of the stack. File bodies are read through files
 * (what smtp_open_file returned). */
void smtp_open_mime(lua_State *L, const lbind_files *files);

#endif
