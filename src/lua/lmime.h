/*
 * lmime.h -- the MIME parts of the socket.smtp.core binding.
 */
#ifndef LMIME_H
#define LMIME_H

#include <stddef.h>
struct lua_State; /* lua.h is for the binding files (l*.c) only */

/* Adds message (lmime.c, with its generator class, lmime_gen.c) and file
 * (lfile.c, whose objects are message bodies) to the module table on top
 * of the stack. */
void smtp_open_mime(struct lua_State *L);

#endif
