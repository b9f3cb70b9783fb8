/*
 * lsasl.h -- the SASL part of the socket.smtp.core binding (lsasl.c).
 */
#ifndef LSASL_H
#define LSASL_H

#include "smtp/smtp_client.h"
struct lua_State; /* lua.h is for the binding files (l*.c) only */

/* The engine of the client object at idx (raising when it is not one):
 * the module entry, which owns the client class, passes it in, so that
 * this binding file knows no other. */
typedef smtp_client *(*lsasl_client_fn)(struct lua_State *L, int idx);

/* Adds sasl and sasl_choose to the module table on top of the stack, and
 * registers the "socket.smtp.core.sasl" metatable, whose start and step
 * reach a client through client. */
void smtp_open_sasl(struct lua_State *L, lsasl_client_fn client);

#endif
