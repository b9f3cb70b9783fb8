/*
 * lsmtp.h -- the client class of the socket.smtp.core binding, for the
 * other binding files.
 */
#ifndef LSMTP_H
#define LSMTP_H

#include "smtp/smtp_client.h"
struct lua_State; /* lua.h is for the binding files (l*.c) only */

/* The engine of the client userdata at idx; raises when it is not one, or
 * when one of its methods is running (re-entered from a finalizer). */
smtp_client *lsmtp_check_client(struct lua_State *L, int idx);

#endif
