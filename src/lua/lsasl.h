/*
 * lsasl.h -- the SASL part of the socket.smtp.core binding (lsasl.c).
 */
#ifndef LSASL_H
#define LSASL_H

struct lua_State; /* lua.h is for the binding files (l*.c) only */

/* Adds sasl and sasl_choose to the module table on top of the stack, and
 * registers the "socket.smtp.core.sasl" metatable. */
void smtp_open_sasl(struct lua_State *L);

#endif
