/*
 * mime_enc.h -- content transfer encoders (RFC 2045 6.7, 6.8).
 *
 * Each encoder is a resumable state machine with an explicit finish
 * (STYLE.md 4): init, update any number of times with input split
 * anywhere, finish. The output does not depend on how the input was split.
 *
 *   size_t mime_X_update(st, in, n, &used, out, cap)
 *       encodes as much of in[0..n) as fits in out[0..cap); *used tells
 *       how much input was taken; returns the bytes written. With
 *       cap >= mime_X_bound(st, n) it takes all the input. It always makes
 *       progress when cap >= MIME_ENC_MIN_CAP and n > 0.
 *   size_t mime_X_finish(st, out, cap)
 *       writes what is pending (cap >= MIME_ENC_FINISH_MAX) and resets the
 *       state for a new stream; returns the bytes written. With less room
 *       than it needs it writes nothing, returns 0 and keeps the state.
 *   size_t mime_X_bound(st, n)
 *       room enough for update to take n more bytes (SIZE_MAX when that
 *       does not fit in a size_t); finish needs its own room.
 *
 * No allocation, no global mutable state, no I/O: the state structs are
 * plain fixed-size values (copy them to fork a stream).
 */
#ifndef MIME_ENC_H
#define MIME_ENC_H

#include <stddef.h>

/* Any update makes progress with at least this much output room. */
#define MIME_ENC_MIN_CAP 16
/* Room finish may need. */
#define MIME_ENC_FINISH_MAX 16

/* ---- base64 ------------------------------------------------------------ */

/* Length of the base64 form of n bytes (no line breaks). */
#define MIME_B64_LEN(n) ((((n) + 2) / 3) * 4)

/* One-shot: encode in[0..n) into out (room for MIME_B64_LEN(n) bytes), no
 * line breaks. Returns the bytes written. */
size_t mime_b64_encode(const unsigned char *in, size_t n, char *out);

/* One-shot strict decoder (RFC 4648 4, as SASL challenges are sent):
 * in[0..n) must be whole groups of the base64 alphabet, "=" padding only
 * at the end and the unused bits zero; nothing else (no white space).
 * Writes at most MIME_B64_DECODED_MAX(n) bytes to out; returns their
 * number, or -1 when the input is not canonical base64. */
#define MIME_B64_DECODED_MAX(n) (((n) / 4) * 3)
long mime_b64_decode(const char *in, size_t n, unsigned char *out);

/* Streaming base64. linelen 0: one unbroken line (LuaSocket's mime.b64);
 * otherwise lines of linelen characters (a multiple of 4; 76 for MIME;
 * other values are rounded down to one, and 1..3 up to 4), each ended by
 * CRLF, the last one included (Python's base64.encodebytes with CRLF).
 * Empty input gives empty output. Lines of 76 and linelen 0 take a fast
 * path: whole 57-byte blocks, two table lookups per three bytes. */
typedef struct {
    unsigned char pend[3]; /* input waiting to make a group of three */
    unsigned npend;
    unsigned col;          /* characters on the current output line */
    unsigned linelen;
} mime_b64;

void mime_b64_init(mime_b64 *st, unsigned linelen);
size_t mime_b64_update(mime_b64 *st, const unsigned char *in, size_t n,
                       size_t *used, char *out, size_t cap);
size_t mime_b64_finish(mime_b64 *st, char *out, size_t cap);
size_t mime_b64_bound(const mime_b64 *st, size_t n);

/* ---- quoted-printable --------------------------------------------------- */

enum {
    /* Binary: CR and LF are data (=0D, =0A), there are no hard line breaks.
     * Without it (text), CRLF, and a bare CR or bare LF, are line breaks and
     * come out as CRLF. */
    MIME_QP_BINARY = 1,
    /* Safety for the transport (RFC 2049 3): a '.' starting a line and the
     * 'F' of a line starting "From " are encoded (=2E, =46). */
    MIME_QP_SAFE = 2
};

/* '=' and bytes outside 33..126 are encoded as =XX (upper-case hex); space
 * and tab are literal except right before a hard line break or at the end
 * of the input, where they are encoded (=20, =09). Output lines are at most
 * 76 characters: a line that goes on after a soft line break ("=" CRLF)
 * holds at most 75 and the '='; a line ended by a hard break or by the end
 * of the input may use all 76. A soft break never splits an =XX. Every
 * CRLF out of the encoder is a hard break (text) or a soft one; the output
 * holds only printable ASCII, space, tab and those CRLFs.
 * With MIME_QP_SAFE the start of every output line counts, after a soft
 * break too. Python's quopri and LuaSocket's mime.qp/qpwrap differ from
 * these rules in places: see spec/c/ref_enc.py. */
typedef struct {
    unsigned flags;
    unsigned col;          /* characters on the current output line */
    int held;              /* '\r' when the last byte was a CR (text mode): an
                            * LF next belongs to the same break; else -1 */
    unsigned char look[5]; /* input taken but not yet encoded: bytes whose
                            * encoding depends on what follows them (a space
                            * or tab, a byte at the end of a line, "From ") */
    unsigned nlook;
} mime_qp;

/* The same four calls as base64's above (init, update, finish, bound): one
 * shape for every streaming encoder, which lmime_enc.c drives alike. */
void mime_qp_init(mime_qp *st, unsigned flags);
size_t mime_qp_update(mime_qp *st, const unsigned char *in, size_t n,
                      size_t *used, char *out, size_t cap);
size_t mime_qp_finish(mime_qp *st, char *out, size_t cap);
size_t mime_qp_bound(const mime_qp *st, size_t n);

/* ---- line ends ------------------------------------------------------------ */

/* Every CRLF, bare CR and bare LF becomes CRLF: "\r\n" is one break, "\n\r"
 * two, "\r\r\n" two (LuaSocket's mime.eol pairs them otherwise: one, one
 * and three). Nothing else changes and nothing is added at the end. For
 * 7bit/8bit text. */
typedef struct {
    int cr; /* the last byte was a CR */
} mime_eol;

void mime_eol_init(mime_eol *st);
size_t mime_eol_update(mime_eol *st, const unsigned char *in, size_t n,
                       size_t *used, char *out, size_t cap);
size_t mime_eol_finish(mime_eol *st, char *out, size_t cap);
size_t mime_eol_bound(const mime_eol *st, size_t n);

/* ---- choosing an encoding ------------------------------------------------- */

enum { MIME_CTE_7BIT, MIME_CTE_8BIT, MIME_CTE_QP, MIME_CTE_BASE64 };

/* For encoding = "auto": looks at a sample of the content (all of it, or
 * its first bytes for a stream) and picks 7bit (only printable ASCII,
 * space, tab, CR and LF, and lines of at most 998 bytes), quoted-printable
 * (otherwise, while at most one byte in six is 8-bit or a control
 * character other than tab, CR, LF: QP is then the shorter), or base64
 * (a NUL anywhere, or more such bytes). Never MIME_CTE_8BIT: whether 8bit
 * may be sent depends on the server (8BITMIME), which the caller knows. */
int mime_cte_choose(const unsigned char *sample, size_t n);

/* The same choice over content seen in pieces (a file read in blocks):
 * init, update with each piece, then result == mime_cte_choose of the
 * pieces joined. Constant memory. */
typedef struct {
    size_t n, line, longest, high, ctrl;
    int nul;
} mime_cte_scan;

void mime_cte_scan_init(mime_cte_scan *s);
void mime_cte_scan_update(mime_cte_scan *s, const unsigned char *in, size_t n);
int mime_cte_scan_result(const mime_cte_scan *s);

#endif
