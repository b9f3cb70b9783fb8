/*
 * lmime.h -- the MIME parts of the socket.smtp.core binding.
 */
#ifndef LMIME_H
#define LMIME_H

#include <stddef.h>
#include "lua.h"

/* Adds message, file (lmime.c) to the module table on top of the stack. */
void smtp_open_mime(lua_State *L);

/* n bytes from the operating system's random generator: 0, or -1 when
 * there is none (lsmtp.c). */
int smtp_random(void *buf, size_t n);

#endif
