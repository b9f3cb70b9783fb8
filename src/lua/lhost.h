/*
 * lhost.h -- the certificate name check of the socket.smtp.core binding
 * (lhost.c).
 */
#ifndef LHOST_H
#define LHOST_H

struct lua_State; /* lua.h is for the binding files (l*.c) only */

/* Adds verify_host and ip to the module table on top of the stack. */
void smtp_open_host(struct lua_State *L);

#endif
