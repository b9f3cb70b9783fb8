/*
 * lmime_enc.h -- the content-transfer encoders of the socket.smtp.core
 * binding (lmime_enc.c).
 */
#ifndef LMIME_ENC_H
#define LMIME_ENC_H

struct lua_State; /* lua.h is for the binding files (l*.c) only */

/* Adds encoder and choose to the module table on top of the stack, and
 * registers the "socket.smtp.core.encoder" metatable. */
void smtp_open_encoders(struct lua_State *L);

#endif
