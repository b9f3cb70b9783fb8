/*
 * lmime_gen.h -- the generator object of core.message (lmime_gen.c),
 * shared with the build (lmime.c) that fills its program: the two files
 * are one binding, core.message, and this header is private to them.
 */
#ifndef LMIME_GEN_H
#define LMIME_GEN_H

#include <stdio.h>
#include "lbind.h"
#include "mime/mime_enc.h"
#include "mime/mime_gen.h"

#ifndef LMIME_OUT_MAX
#define LMIME_OUT_MAX (64 * 1024)   /* output block: one chunk of the source */
#endif
#ifndef LMIME_READ_MAX
#define LMIME_READ_MAX (48 * 1024)  /* file read block (base64: one output block) */
#endif
#ifndef LMIME_PASS_MIN
#define LMIME_PASS_MIN (16 * 1024)  /* unencoded strings this large are not copied */
#endif

enum { IN_NONE, IN_STRING, IN_FILE };

typedef struct {
    mime_gen g;
    const lbind_files *files; /* how file bodies are read */
    char *text;           /* program memory, from the Lua allocator */
    size_t textcap;
    mime_op *ops;
    size_t capops;
    unsigned nbodies;
    int done;             /* the message is complete, the program freed */
    int closed;           /* __close or __gc ran: every method refuses */
    int waiting;          /* g:next() handed out a Lua source: g:feed() is due */
    int busy;             /* g:next() runs: pushing its chunk may run finalizers
                           * before the copy (LuaJIT), which must not re-enter */
    int unfinished;       /* the last g:next() ended by an error (not returned) */
    const char *pend;     /* the chunk whose push raised: the next g:next()'s */
    size_t pendlen;
    /* the input being fed */
    int in;               /* IN_* */
    unsigned in_id;       /* body it belongs to */
    size_t in_off, in_len;
    int in_last;          /* a Lua source said its chunk was the last (nil) */
    FILE *file;           /* the file body being read: owned (files->take) */
    int err;              /* a read error (errno) */
    int recheck;          /* that file is 7bit by a scan at build: scanned again */
    mime_cte_scan scan;   /* (as it is read, so that a change cannot go out) */
    char out[LMIME_OUT_MAX];
    char buf[LMIME_READ_MAX];
} lgen;

/* Slots of the generator's uservalue table. */
enum { G_CUR = -1, G_ERR = -2 }; /* bodies are at 1..nbodies */
/* A file body that encoding = "auto" found 7bit when the message was
 * built: true at G_RECHECK(id); it is scanned again as it is sent. */
#define G_RECHECK(id) (G_ERR - (int)(id))

/* Pushes a new generator with an empty program, then its uservalue table
 * (the bodies by id, and the slots above). */
lgen *lmime_gen_new(lua_State *L, const lbind_files *files);

/* The program is built again from the start (same memory). */
void lmime_gen_restart(lgen *G);

/* Grows the program memory to what the generator asked for (after
 * -SMTP_E_BUSY); raises when it cannot. */
void lmime_gen_grow(lua_State *L, lgen *G);

/* The whole of file body idx scanned (mime_msg_scan) through the
 * generator's read block, in constant memory, then its handle given back
 * for the send. 0, or an error for files->push_error. */
int lmime_gen_scan(lua_State *L, lgen *G, int idx, mime_cte_scan *scan);

/* Registers the generator class. */
void lmime_gen_open(lua_State *L);

#endif
