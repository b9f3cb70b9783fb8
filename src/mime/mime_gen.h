/*
 * mime_gen.h -- the streaming MIME message generator, sans I/O.
 *
 * A message is compiled once into a program: literal text (header blocks,
 * boundary lines, preambles, epilogues) and BODY steps. Running the program
 * fills an output block; at a BODY step the generator asks the caller for
 * that body's bytes (MIME_GEN_NEED_BODY with the body's id), encodes what
 * it is fed (base64, quoted-printable, line ends, or nothing) and goes on.
 * It never reads a file, never calls back: the caller feeds, from a string,
 * a file or a source of its own, as much or as little at a time as it has.
 *
 * Building (the binding walks the caller's message description):
 *   mime_gen_init(g, out, outcap)
 *   mime_gen_header(...)...  mime_gen_end_headers(g)     -- a part's headers
 *   mime_gen_body(g, id, cte, flags)                      -- a leaf's body
 *   mime_gen_multipart_begin(g, boundary, preamble) / _part(g) / _end(g, epilogue)
 *   mime_gen_seal(g)                                      -- ready to run
 * The layout is LuaSocket's: headers, blank line; for a multipart body the
 * preamble and CRLF, then "CRLF--b CRLF" before each part, "CRLF--b-- CRLF
 * CRLF" after the last, then the epilogue and CRLF.
 *
 * Memory: the program lives in two arrays the caller provides and grows.
 * A build call that needs more room returns SMTP_E_BUSY and sets
 * g->need_text / g->need_ops; the caller grows them (mime_gen_memory) and
 * calls again. Nothing is left half-appended by a failed call.
 */
#ifndef MIME_GEN_H
#define MIME_GEN_H

#include <stddef.h>
#include "mime_enc.h"
#include "mime_hdr.h"

#ifndef MIME_GEN_MAX_DEPTH
#define MIME_GEN_MAX_DEPTH 32 /* nested multiparts */
#endif
#ifndef MIME_GEN_DIRECT_MIN
#define MIME_GEN_DIRECT_MIN 4096 /* text runs this long are output uncopied */
#endif
#ifndef MIME_GEN_BOUNDARY_MAX
#define MIME_GEN_BOUNDARY_MAX 70 /* RFC 2046 5.1.1 */
#endif

/* Transfer encodings a body can get (MIME_CTE_* of mime_enc.h), plus: */
enum {
    MIME_GEN_RAW = -1, /* sent as given (LuaSocket's behaviour) */
    MIME_GEN_AUTO = -2 /* chosen from the first bytes fed */
};

typedef struct {
    unsigned op;  /* MIME_OP_* (mime_gen.c) */
    unsigned id;  /* BODY: the caller's body id */
    int cte;      /* BODY: MIME_CTE_* or MIME_GEN_RAW */
    unsigned flags;
    size_t off;   /* TEXT: offset in text */
    size_t len;   /* TEXT: length */
} mime_op;

typedef enum {
    MIME_GEN_OUTPUT,    /* ev->data[0..len): take it (valid until the next call);
                           at most outcap bytes: the output block, or a run
                           of the program's text (MIME_GEN_DIRECT_MIN or
                           more, when the block is empty) */
    MIME_GEN_NEED_BODY, /* feed body ev->id (mime_gen_feed / mime_gen_feed_end);
                           with ev->sample, only show its first bytes
                           (mime_gen_sample) and feed them again later */
    MIME_GEN_DONE,      /* the message is complete */
    MIME_GEN_ERROR      /* ev->err */
} mime_gen_act;

typedef struct {
    const char *data;
    size_t len;
    unsigned id;
    int sample;
    int err;
} mime_gen_event;

typedef struct {
    int err;                 /* sticky */
    int sealed;
    /* program, in caller memory */
    mime_op *ops;
    size_t nops, capops;
    char *text;
    size_t textlen, textcap;
    size_t need_text, need_ops; /* after SMTP_E_BUSY: what must fit */
    size_t hint;             /* the text the whole program will likely need */
    /* building */
    unsigned depth;
    size_t bd_off[MIME_GEN_MAX_DEPTH];     /* boundary of each open multipart */
    size_t bd_len[MIME_GEN_MAX_DEPTH];
    /* running */
    size_t pc;               /* current op */
    size_t textpos;          /* inside the current TEXT op */
    int body;                /* a body is being fed */
    int cte;                 /* its encoding */
    union {
        mime_b64 b64;
        mime_qp qp;
        mime_eol eol;
    } enc;
    /* output block, in caller memory */
    char *out;
    size_t outlen, outcap;
} mime_gen;

/* Start an empty program. out/outcap: the output block (at least 256
 * bytes; 64 KiB or more for speed). */
void mime_gen_init(mime_gen *g, char *out, size_t outcap);

/* The program's memory: text (bytes) and ops (mime_op entries). The caller
 * moves the contents when it grows them (realloc does). */
void mime_gen_memory(mime_gen *g, char *text, size_t textcap, mime_op *ops,
                     size_t capops);

/* A header field (validated, encoded and folded by mime_hdr_format).
 * Returns 0, -SMTP_E_HDR_* (nothing appended) or -SMTP_E_BUSY. */
int mime_gen_header(mime_gen *g, const char *name, size_t nlen,
                    const char *value, size_t vlen, unsigned flags);

/* The same for a name prepared with mime_hdr_name_init. */
int mime_gen_header_named(mime_gen *g, const mime_hdr_name *hn,
                          const char *value, size_t vlen, unsigned flags);

/* After -SMTP_E_BUSY: the text bytes and ops the program needs room for
 * (give at least that much with mime_gen_memory). */
void mime_gen_need(const mime_gen *g, size_t *text, size_t *ops);

/* The sizes to give the program's memory after -SMTP_E_BUSY, from its
 * present ones: each doubled (text from 4096, ops from 64) until what
 * mime_gen_need asks fits, the text straight to the hint of
 * mime_gen_project when that is larger (up to 4 times the need), so that
 * a large message is not copied at each doubling. 0, or
 * -SMTP_E_ARG_TOO_LONG when a size would not fit a size_t. */
int mime_gen_sizes(const mime_gen *g, size_t *text, size_t *ops);

/* A multipart's parts so far, done of total, took the text from start to
 * now: the text they will likely take, projected over them all (plus an
 * eighth), becomes the hint mime_gen_sizes grows to. Called before each
 * part; used from the ninth part up to the one before the last, and a
 * projection that would not fit a size_t is dropped. */
void mime_gen_project(mime_gen *g, size_t start, size_t done, size_t total);

/* The program's text so far: its length, and where it starts (valid until
 * the memory moves). */
static inline size_t mime_gen_textlen(const mime_gen *g) { return g->textlen; }
static inline const char *mime_gen_textptr(const mime_gen *g) { return g->text; }

/* Literal text (already valid message bytes). 0 or -SMTP_E_BUSY. */
int mime_gen_text(mime_gen *g, const char *s, size_t n);

/* The blank line that ends a part's headers. */
int mime_gen_end_headers(mime_gen *g);

/* A leaf body: the caller will be asked for body `id`. cte: MIME_CTE_*,
 * MIME_GEN_RAW, or MIME_GEN_AUTO after mime_gen_cte_auto. flags: MIME_QP_*
 * for quoted-printable. */
int mime_gen_body(mime_gen *g, unsigned id, int cte, unsigned flags);

/* Among a part's headers, where its Content-Transfer-Encoding goes when
 * it is chosen from the content at run time (a stream whose first bytes
 * are not known yet): the generator asks for a sample of body `id` there
 * (NEED_BODY with ev->sample) and writes the header for what it chose. */
int mime_gen_cte_auto(mime_gen *g, unsigned id);

/* The first bytes of the body asked for with ev->sample (n may be 0: an
 * empty body). Nothing is consumed: feed them again when asked for the
 * body. Returns 0 or -SMTP_E_BUSY (take OUTPUT first). */
int mime_gen_sample(mime_gen *g, const char *data, size_t n);

/* A multipart body (after its headers, whose Content-Type names the
 * boundary): the boundary (1..70 bytes, checked: bchars of RFC 2046) and
 * the preamble (NULL: none). Then mime_gen_part before each part and
 * mime_gen_multipart_end after the last, with the epilogue (NULL: none).
 * -SMTP_E_HDR_SYNTAX for a bad boundary, -SMTP_E_ARG_TOO_LONG past
 * MIME_GEN_MAX_DEPTH. */
int mime_gen_multipart_begin(mime_gen *g, const char *bd, size_t blen,
                             const char *pre, size_t plen);
int mime_gen_part(mime_gen *g);
int mime_gen_multipart_end(mime_gen *g, const char *epi, size_t elen);

/* The program is complete. */
int mime_gen_seal(mime_gen *g);

/* Run: what to do next. */
mime_gen_act mime_gen_next(mime_gen *g, mime_gen_event *ev);

/* Hand out what the output block holds now, even if not full (OUTPUT), or
 * report that it is empty (returns MIME_GEN_DONE without changing state). */
mime_gen_act mime_gen_flush(mime_gen *g, mime_gen_event *ev);

/* Bytes of the body asked for. Returns how many were taken: fewer than n
 * when the output block is full (mime_gen_next then gives OUTPUT). */
size_t mime_gen_feed(mime_gen *g, const char *data, size_t n);

/* The body is over. 0, or -SMTP_E_BUSY when the output block has no room
 * for the encoder's last bytes (take OUTPUT, call again). */
int mime_gen_feed_end(mime_gen *g);

/* The body being fed is passed through unchanged (MIME_GEN_RAW): callers
 * may then hand its bytes out themselves once the block is flushed. */
int mime_gen_raw_body(const mime_gen *g);

/* The encoding of a leaf given none (no `encoding`, no
 * Content-Transfer-Encoding header: LuaSocket sends such a body as given)
 * whose whole content body[0..n) is known before its headers: MIME_GEN_RAW
 * when it can go out as given, that is without a NUL and without a line
 * over 998 octets (MIME_BODY_LINE_MAX; a CR or an LF ends a line, as the
 * DATA filter counts them); otherwise what the encoding "auto" takes for
 * it (mime_cte_choose: quoted-printable or base64), whose header the
 * caller then writes. RFC 5321 4.5.3.1.6: such a line must not be sent. */
int mime_gen_cte_plain(const char *body, size_t n);

/* Text that cannot be encoded (a preamble, an epilogue): 0 when no line
 * of s[0..n) is longer than 998 octets (MIME_BODY_LINE_MAX; CR and LF end
 * lines), else the length of the first longer line. */
size_t mime_gen_line_over(const char *s, size_t n);

/* The Content-Transfer-Encoding header value of MIME_CTE_* cte. */
const char *mime_gen_cte_name(int cte);

/* The code of an encoding as a caller names it, s[0..n): "7bit", "8bit",
 * "quoted-printable", "base64" (MIME_CTE_*) or "auto" (MIME_GEN_AUTO),
 * exactly so written; -SMTP_E_MSG_ENCODING for anything else, which is
 * below every code. */
int mime_gen_cte_code(const char *s, size_t n);

/* Whether a leaf given no encoding may be encoded by the generator
 * (mime_gen_cte_plain) when its body cannot go out as given: 0 when its
 * Content-Type value ctype[0..n) names a composite type, "multipart/..."
 * or "message/..." (any case, after white space). RFC 2045 6.4 forbids any
 * encoding but 7bit, 8bit and binary for those (a base64 multipart has no
 * parts for its reader): such a body is sent as given, and the DATA
 * filter refuses a line over 998 octets. */
int mime_gen_encodable(const char *ctype, size_t n);

#endif
