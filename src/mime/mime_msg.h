/*
 * mime_msg.h -- the message policy: what a part's header block holds, in
 * which order, and what the generator is told about each body. Sans I/O.
 *
 * The binding walks the caller's message table and hands each part to
 * this engine; the engine decides, the binding only reads Lua values into
 * these calls and reports what they return. For each part:
 *
 *   mime_msg_part_begin(m)
 *   mime_msg_add(m, name, value)...        the caller's header fields
 *   mime_msg_top(m, ...)                   the whole message: defaults
 *                                          (Date, Message-ID, X-Mailer) and
 *                                          MIME-Version: 1.0
 *   then by the kind of body:
 *     multipart  mime_msg_boundary(rnd) -> a boundary;
 *                mime_msg_multipart_type -> its Content-Type value;
 *                mime_msg_set(m, CONTENT_TYPE, ...); emit; then
 *                mime_msg_open(boundary), mime_msg_text(preamble,
 *                epilogue), each part (mime_msg_enter / _leave),
 *                mime_msg_close
 *     file       mime_msg_file (Content-Type, Content-Disposition from
 *                mime_msg_disposition); with encoding "auto" the caller
 *                scans the whole file (mime_msg_scan) and mime_msg_auto_file
 *                says whether it must be checked again as it is sent
 *                (mime_msg_recheck)
 *     any leaf   mime_msg_leaf: the default Content-Type, the transfer
 *                encoding (RFC 2045 6.4 for composite types, a NUL or a
 *                line over 998 octets in a string sent as given) and its
 *                header
 *   mime_msg_emit(m, g, auto_id)           the header block, sorted,
 *                                          written into the mime_gen
 *                                          program (resumable after
 *                                          -SMTP_E_BUSY)
 *
 * Header order: the names of MIME_MSG_ORDER first, in that order, then the
 * others by lower-case name, each name's fields in the order given. A
 * part whose headers came as a list ({ {name, value}, ... }) keeps the
 * caller's order; the fields the engine adds follow them.
 *
 * Caches, per message (mime_msg_init; they survive mime_msg_restart):
 *   - header names, prepared once (lower case, rank, canonical form),
 *     found again by the ADDRESS of the name string: sound only while the
 *     caller keeps every string whose address is in the cache alive and
 *     unchanged -- mime_msg_add says when a name entered it (*anchor);
 *     names met when the cache is full are prepared for one part only;
 *   - header lines written into the program, found again by the address
 *     of the value string, then compared byte by byte with the text
 *     written: a value repeated through the message is copied, not
 *     formatted again; a different value at a reused address never is.
 *
 * Pointers the caller passes (names, values, boundaries) must stay valid
 * until the part is emitted (boundaries: until mime_msg_close).
 */
#ifndef MIME_MSG_H
#define MIME_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "mime_enc.h"
#include "mime_gen.h"
#include "mime_hdr.h"
#include "base/smtp_errors.h"

#ifndef MIME_MSG_HEADERS_MAX
#define MIME_MSG_HEADERS_MAX 128 /* the caller's header fields of one part */
#endif

/* The header names a part is sorted by, in order: X(ID, lower-case name).
 * The ranks MIME_MSG_H_<ID> are generated from this list. */
#define MIME_MSG_ORDER(X)                                                     \
    X(DATE, "date")                                                           \
    X(FROM, "from")                                                           \
    X(SENDER, "sender")                                                       \
    X(REPLY_TO, "reply-to")                                                   \
    X(TO, "to")                                                               \
    X(CC, "cc")                                                               \
    X(BCC, "bcc")                                                             \
    X(SUBJECT, "subject")                                                     \
    X(MESSAGE_ID, "message-id")                                               \
    X(IN_REPLY_TO, "in-reply-to")                                             \
    X(REFERENCES, "references")                                               \
    X(MIME_VERSION, "mime-version")                                           \
    X(CONTENT_TYPE, "content-type")                                           \
    X(CTE, "content-transfer-encoding")                                       \
    X(CONTENT_DISPOSITION, "content-disposition")                             \
    X(CONTENT_DESCRIPTION, "content-description")                             \
    X(CONTENT_ID, "content-id")                                               \
    X(X_MAILER, "x-mailer")

enum {
#define MIME_MSG_RANK_ENUM(id, name) MIME_MSG_H_##id,
    MIME_MSG_ORDER(MIME_MSG_RANK_ENUM)
#undef MIME_MSG_RANK_ENUM
    MIME_MSG_H__COUNT,
    MIME_MSG_H_OTHER = 1000 /* the rank of every other name */
};

/* The defaults of the whole message, in the order they are added: the
 * caller gives a value for each (or none), mime_msg_top uses those the
 * message lacks. MIME-Version is always "1.0" and cannot be changed. */
#define MIME_MSG_DEFAULTS(X) X(DATE) X(MESSAGE_ID) X(X_MAILER)
#define MIME_MSG_COUNT_ONE(id) +1
enum { MIME_MSG_NDEFAULTS = 0 MIME_MSG_DEFAULTS(MIME_MSG_COUNT_ONE) };

/* Default Content-Type of a leaf (LuaSocket's), of a file body and of a
 * multipart body. */
#define MIME_MSG_LEAF_TYPE "text/plain; charset=\"iso-8859-1\""
#define MIME_MSG_FILE_TYPE "application/octet-stream"
#define MIME_MSG_MULTIPART_TYPE "multipart/mixed"

/* A boundary: "=_" and 2 hex digits for each of MIME_MSG_BOUNDARY_RANDOM
 * random bytes ("=_" cannot occur in base64 or quoted-printable text). */
#define MIME_MSG_BOUNDARY_RANDOM 18
#define MIME_MSG_BOUNDARY_LEN (2 + 2 * MIME_MSG_BOUNDARY_RANDOM)

/* Fields the engine may add to a part: Date, Message-ID, X-Mailer,
 * MIME-Version, Content-Type, Content-Transfer-Encoding and
 * Content-Disposition (and one spare). */
#define MIME_MSG_GEN_HEADERS 8

#define MIME_MSG_NAME_BITS 6 /* the name cache: open addressing, 2^bits slots */
#define MIME_MSG_NAME_SLOTS (1 << MIME_MSG_NAME_BITS)
#define MIME_MSG_LINE_SLOTS 64 /* the line cache: direct-mapped, a power of 2 */

/* The kinds of a leaf's body. */
enum {
    MIME_MSG_STRING, /* a string, known whole now */
    MIME_MSG_NONE,   /* no body: an empty one */
    MIME_MSG_FILE,   /* an smtp.file */
    MIME_MSG_SOURCE  /* a source: its bytes come when the message is sent */
};

/* The engine's state: allocate it (e.g. as a userdata) and never read its
 * fields; they are here for its size and the inline accessors below. */
typedef struct {
    const char *ptr;   /* the name string (its address is the key) */
    size_t len;
    int rank;
    int rc;            /* 0, or SMTP_E_HDR_NAME: hn is then unusable */
    char lname[40];    /* lower case (empty when too long to be a known one) */
    mime_hdr_name hn;
} mime_msg_name;

typedef struct {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
    const mime_msg_name *k;
    int seq;
} mime_msg_field;

typedef struct {
    const mime_msg_name *k;
    size_t vlen;
    size_t off, len;   /* the line in the program's text */
} mime_msg_line;

typedef struct {
    /* where the part being built is ("mesgt.body[2].body[1]") */
    int index[MIME_GEN_MAX_DEPTH + 2];
    int depth;
    /* boundaries of the open multiparts */
    const char *open[MIME_GEN_MAX_DEPTH + 2];
    size_t openlen[MIME_GEN_MAX_DEPTH + 2];
    int nopen;
    int clash;
    /* the caches */
    int nnames;
    mime_msg_name names[MIME_MSG_NAME_SLOTS];
    mime_msg_line lines[MIME_MSG_LINE_SLOTS];
    /* one part's fields (a part's headers are written before its children
     * are looked at, so all parts share them) */
    mime_msg_field hs[MIME_MSG_HEADERS_MAX + MIME_MSG_GEN_HEADERS];
    int n;
    int listed;
    mime_msg_name spill[MIME_MSG_HEADERS_MAX + 8];
    int nspill;
    /* mime_msg_emit's progress */
    int at;
    int failed;
} mime_msg;

/* A new message: empty caches. */
void mime_msg_init(mime_msg *m);

/* The message is built again from the start (a boundary clashed): the
 * line cache is emptied (the program's text starts again), the name cache
 * kept. */
void mime_msg_restart(mime_msg *m);

/* ---- where we are -------------------------------------------------------- */

/* Into part i (1-based) of the current multipart; back out of it. */
static inline void mime_msg_enter(mime_msg *m, int i)
{
    if (m->depth < MIME_GEN_MAX_DEPTH + 1)
        m->depth++;
    m->index[m->depth] = i;
}
static inline void mime_msg_leave(mime_msg *m)
{
    if (m->depth > 0)
        m->depth--;
}

/* The part is nested deeper than the generator allows. */
static inline int mime_msg_too_deep(const mime_msg *m)
{
    return m->depth > MIME_GEN_MAX_DEPTH;
}

/* The current part as the caller wrote it, "mesgt.body[2].body[1]", in
 * out[0..cap) (NUL-terminated, cut at a whole ".body[i]"); returns out. */
const char *mime_msg_path(const mime_msg *m, char *out, size_t cap);

/* ---- a part's header fields ---------------------------------------------- */

/* A new part: no fields. */
static inline void mime_msg_part_begin(mime_msg *m)
{
    m->n = 0;
    m->nspill = 0;
    m->listed = 0;
    m->at = 0;
    m->failed = -1;
}

/* The caller's fields came as a list: kept in its order, not sorted. */
static inline void mime_msg_listed(mime_msg *m, int listed)
{
    m->listed = listed != 0;
}

/* The caller's fields so far (at most MIME_MSG_HEADERS_MAX: check first). */
static inline int mime_msg_count(const mime_msg *m)
{
    return m->n;
}

/* The name cache's first slot for the name string at p: Fibonacci
 * hashing of its address (the top bits of the product). */
static inline unsigned mime_msg_name_slot(const char *p)
{
    return (unsigned)(((uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15)) >>
                      (64 - MIME_MSG_NAME_BITS));
}

/* The prepared form of the name p[0..n) when it is not in its first
 * slot (mime_msg_add looks there itself): found further on, or prepared;
 * *added when it entered the cache. Not for callers. */
const mime_msg_name *mime_msg_name_of(mime_msg *m, const char *p, size_t n, int *added);

/* A caller's field. Returns 0, or -SMTP_E_ARG_TOO_LONG when the part has
 * MIME_MSG_HEADERS_MAX already. *anchor is set to 1 when the name string
 * entered the name cache: the caller keeps it alive until the message is
 * built. The name is checked when the part is emitted. Inline: the
 * binding calls it for every field of every part, and most names are
 * found in their first slot. */
static inline int mime_msg_add(mime_msg *m, const char *name, size_t nlen, const char *value,
                               size_t vlen, int *anchor)
{
    mime_msg_field *h;
    const mime_msg_name *e;
    *anchor = 0;
    if (m->n >= MIME_MSG_HEADERS_MAX)
        return -SMTP_E_ARG_TOO_LONG;
    e = &m->names[mime_msg_name_slot(name)];
    if (e->ptr != name || e->len != nlen)
        e = mime_msg_name_of(m, name, nlen, anchor);
    h = &m->hs[m->n];
    h->name = name;
    h->nlen = nlen;
    h->value = value;
    h->vlen = vlen;
    h->k = e;
    h->seq = m->n;
    m->n++;
    return 0;
}

/* The rank of a lower-case name (MIME_MSG_H_OTHER when not in the list),
 * and the name of a rank (NULL for none). */
int mime_msg_rank(const char *lname);
const char *mime_msg_known(int rank);

/* Whether the part has a field of that rank; the value of the first. */
int mime_msg_has(const mime_msg *m, int rank);
const char *mime_msg_value(const mime_msg *m, int rank, size_t *vlen);

/* Sets the field of a known rank: added when the part has none, replaced
 * (the first such field) with replace. */
void mime_msg_set(mime_msg *m, int rank, const char *value, size_t vlen, int replace);

/* Removes every field of that rank. */
void mime_msg_drop(mime_msg *m, int rank);

/* The i-th default rank of MIME_MSG_DEFAULTS (0-based), -1 past the end. */
int mime_msg_default_rank(int i);

/* The top part: the default of default rank i (value NULL: none given)
 * when it has none, for each i; then MIME-Version: 1.0 in place of any
 * the caller gave. vals/lens have one entry per MIME_MSG_DEFAULTS. */
void mime_msg_top(mime_msg *m, const char *const *vals, const size_t *lens);

/* ---- multipart bodies ---------------------------------------------------- */

/* A boundary from MIME_MSG_BOUNDARY_RANDOM random bytes into
 * out[0..MIME_MSG_BOUNDARY_LEN). That it occurs in none of the strings
 * it encloses is checked as they are met (mime_msg_check): on a clash
 * the caller builds the message again with new boundaries. */
void mime_msg_boundary(const unsigned char *rnd, char *out);

/* The Content-Type value of a multipart part with boundary bd: the
 * caller's type (or MIME_MSG_MULTIPART_TYPE), "; boundary=\"bd\"".
 * Returns its length; writes it into out when cap is enough. */
size_t mime_msg_multipart_type(const mime_msg *m, const char *bd, size_t blen,
                               char *out, size_t cap);

/* A multipart with boundary bd is open (until mime_msg_close): no string
 * checked meanwhile may contain it. */
void mime_msg_open(mime_msg *m, const char *bd, size_t blen);
void mime_msg_close(mime_msg *m);

/* Checks s[0..n) against the open boundaries. */
void mime_msg_check(mime_msg *m, const char *s, size_t n);

/* A boundary occurred in a checked string: build again. */
static inline int mime_msg_clash(const mime_msg *m)
{
    return m->clash;
}

/* Whether bd[0..blen) occurs in s[0..n). */
int mime_msg_contains(const char *s, size_t n, const char *bd, size_t blen);

/* A preamble or epilogue s[0..n), sent as given (it cannot be encoded):
 * 0, -SMTP_E_CONTENT_NUL with *at the 1-based octet of the first NUL, or
 * -SMTP_E_LINE_TOO_LONG with *at the length of the first line over
 * MIME_BODY_LINE_MAX (RFC 5322 3.5; RFC 5321 4.5.3.1.6). When 0 the text
 * is also checked against the open boundaries. */
int mime_msg_text(mime_msg *m, const char *s, size_t n, size_t *at);

/* ---- leaves -------------------------------------------------------------- */

/* A file body's Content-Disposition value: "attachment; filename=\"...\""
 * for name[0..nl) (NULL: the last segment of path[0..pl)), '"' and '\\'
 * escaped. Returns its length; writes it into out when cap is enough. */
size_t mime_msg_disposition(const char *name, size_t nl, const char *path, size_t pl,
                            char *out, size_t cap);

/* A file body's headers: its Content-Type (ctype NULL: none given) and
 * Content-Disposition (disp NULL: none) unless the part has them, then
 * MIME_MSG_FILE_TYPE when it still has no Content-Type. */
void mime_msg_file(mime_msg *m, const char *ctype, size_t ctlen, const char *disp,
                   size_t dlen);

/* encoding = "auto" for a file: the caller scans the whole file in blocks
 * (mime_msg_scan returns 0 once the rest cannot change the result), then
 * mime_msg_auto_file gives the encoding and whether the file must be
 * scanned again as it is sent (*recheck: it was found 7bit, and must not
 * go out as 7bit if it changed meanwhile). */
int mime_msg_scan(mime_cte_scan *s, const void *buf, size_t n);
int mime_msg_auto_file(const mime_cte_scan *s, int *recheck);

/* The re-check as the file is sent (s initialised with mime_cte_scan_init
 * when it is opened): 0, or -SMTP_E_CONTENT_NUL when the file is no
 * longer 7bit (a NUL, 8-bit data or a line over 998 octets). */
int mime_msg_recheck(mime_cte_scan *s, const void *buf, size_t n);

/* A leaf: kind MIME_MSG_*, body s[0..n) for a string (else ignored),
 * cte the encoding asked for (MIME_CTE_*, MIME_GEN_AUTO, or MIME_GEN_RAW
 * when none: has_enc 0). Sets the default Content-Type (not for a file:
 * mime_msg_file did), checks a string against the open boundaries,
 * resolves "auto" for what is known now and, for a string given no
 * encoding and no Content-Transfer-Encoding header, whose type may be
 * encoded (mime_gen_encodable: not multipart or message, RFC 2045 6.4),
 * encodes it when it cannot go out as given (mime_gen_cte_plain: a NUL
 * or a line over 998 octets). Writes the Content-Transfer-Encoding field
 * for the encoding used (none for MIME_GEN_AUTO: chosen when sent).
 * Returns the encoding for mime_gen_body. */
int mime_msg_leaf(mime_msg *m, int kind, const char *s, size_t n, int cte, int has_enc);

/* ---- writing ------------------------------------------------------------- */

/* Writes the part's header block into g: the fields sorted (unless
 * listed), Content-Transfer-Encoding chosen at run time for body auto_id
 * when auto_id > 0, the blank line. Returns 0; -SMTP_E_BUSY when g needs
 * more memory (grow it and call again: it goes on where it stopped); or
 * -SMTP_E_HDR_* for a field that cannot be written (mime_msg_failed_name
 * names it). */
int mime_msg_emit(mime_msg *m, mime_gen *g, unsigned auto_id);

/* The name of the field mime_msg_emit failed on, as given; NULL when it
 * failed on no field (an error of the program, not of a header). */
const char *mime_msg_failed_name(const mime_msg *m, size_t *nlen);

#endif
