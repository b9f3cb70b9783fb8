/*
 * mime_hdr.c -- header fields: validation, RFC 2047 / RFC 2231 encoding and
 * folding; see mime_hdr.h for the contract.
 *
 * Shape. Every kind of header is written through one small line writer
 * (hw below). The writer receives the field as a sequence of "chunks": a
 * chunk starts with the white space in front of it (where a fold may go)
 * and goes on with text that must not be broken. When a line grows past 78
 * octets and its last chunk is not the first thing on the line, the writer
 * moves that chunk to a new line by putting CRLF in front of its white
 * space (RFC 5322 2.2.3: the CRLF goes before existing WSP, so unfolding
 * gives back the same text). That is greedy folding, done as the bytes
 * arrive, with no token list and no allocation. Chunks may form a "group"
 * (one address of a list, one parameter): a group that overflows a line
 * moves to a new line as a whole before it is broken inside, so lists
 * fold after their commas and semicolons. A line that stays above
 * 998 octets marks the field as too long; unstructured text then gets a
 * second pass that writes the whole value as encoded-words (which always
 * fold), every other kind fails with SMTP_E_HDR_TOO_LONG.
 *
 * The writer keeps counting when the output does not fit in cap, without
 * touching memory past it, so every validation error is reported as such
 * and SMTP_E_BUSY only when the field was fine but the room was short.
 *
 * Encoded-words (RFC 2047) are always "=?utf-8?B?...?=" or
 * "=?utf-8?Q?...?=", at most 75 characters, never splitting a UTF-8
 * character (bytes that are not valid UTF-8 are units of one byte). One run
 * of text (consecutive words that need encoding, with the white space
 * between them) is written as encoded-words separated by a single space,
 * which decoders drop (RFC 2047 6.2), so the text's own spaces are inside
 * the encoded-words. The run uses Q when its Q form is not longer than its B
 * form, else B. Q here encodes everything but letters, digits and
 * "!*+-/" (the set RFC 2047 5(3) allows in phrases, so the same encoder
 * serves Subject text, display names and comments), and a space as "_".
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include "mime_hdr.h"
#include "base/smtp_errors.h"

#define LINE_SOFT 78     /* RFC 5322 2.1.1: SHOULD, CRLF excluded */
#define LINE_HARD 998    /* RFC 5322 2.1.1: MUST, CRLF excluded */
#define EW_MAX 75        /* RFC 2047 2 */
#define EW_OVERHEAD 12   /* "=?utf-8?B?" + "?=" */
#define EW_MIN 24        /* smallest encoded-word we size to fit a line */
#define PCT_SEG_MIN 36   /* smallest RFC 2231 segment payload */

/* The bound. The costliest form per value byte is an RFC 2231
 * continuation: a segment line is CRLF SP name*N*= payload ';', with h =
 * len("name*N*=") <= MIME_HDR_ATTR_MAX + 23, and it is cut only when the
 * next character (<= 12 octets as %XX) does not fit, so it carries
 * used >= PCT_SEG_MIN - 11 octets of payload for >= used / 3 value bytes:
 * at most 3 + 3 * (4 + h) / used <= 3 + 3 * 67 / 25 < 11.1 octets per
 * byte. Encoded-words cost less: the smallest run (one byte, between
 * plain words) is "=?utf-8?Q?=01?=" and a separator, under 7 per byte
 * with the bytes that separate runs. 12 per byte plus the name and 64
 * covers every form; the tests and the fuzzer check it. */
#define BOUND_PER_BYTE 12
#define BOUND_EXTRA 64

static const char ew_prefix_q[] = "=?utf-8?Q?";
static const char ew_prefix_b[] = "=?utf-8?B?";
static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hexchars[] = "0123456789ABCDEF";

/* ---- names --------------------------------------------------------------- */

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

/* name[0..n) equals the NUL-terminated lower-case s, ignoring case */
static int name_is(const char *name, size_t n, const char *s)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] == '\0' || lower((unsigned char)name[i]) != (unsigned char)s[i])
            return 0;
    return s[n] == '\0';
}

typedef struct {
    const char *name; /* lower case */
    size_t len;
    int kind;
} kind_entry;

#define KIND(name, kind) {name, sizeof name - 1, kind}

/* Names with a kind other than unstructured. List-ID carries a phrase and
 * an angle-bracketed id (RFC 2919), which is what the address writer
 * handles (the phrase may be encoded); the other List-* fields hold URLs in
 * angle brackets (RFC 2369, 8058) and are structured. */
static const kind_entry kinds[] = {
    KIND("from", MIME_HDR_ADDRESS),
    KIND("to", MIME_HDR_ADDRESS),
    KIND("cc", MIME_HDR_ADDRESS),
    KIND("bcc", MIME_HDR_ADDRESS),
    KIND("reply-to", MIME_HDR_ADDRESS),
    KIND("sender", MIME_HDR_ADDRESS),
    KIND("resent-from", MIME_HDR_ADDRESS),
    KIND("resent-to", MIME_HDR_ADDRESS),
    KIND("resent-cc", MIME_HDR_ADDRESS),
    KIND("resent-bcc", MIME_HDR_ADDRESS),
    KIND("resent-sender", MIME_HDR_ADDRESS),
    KIND("disposition-notification-to", MIME_HDR_ADDRESS),
    KIND("mail-followup-to", MIME_HDR_ADDRESS),
    KIND("mail-reply-to", MIME_HDR_ADDRESS),
    KIND("list-id", MIME_HDR_ADDRESS),
    KIND("content-type", MIME_HDR_PARAMS),
    KIND("content-disposition", MIME_HDR_PARAMS),
    KIND("date", MIME_HDR_STRUCTURED),
    KIND("message-id", MIME_HDR_STRUCTURED),
    KIND("in-reply-to", MIME_HDR_STRUCTURED),
    KIND("references", MIME_HDR_STRUCTURED),
    KIND("mime-version", MIME_HDR_STRUCTURED),
    KIND("content-transfer-encoding", MIME_HDR_STRUCTURED),
    KIND("content-id", MIME_HDR_STRUCTURED),
    KIND("content-md5", MIME_HDR_STRUCTURED),
    KIND("content-language", MIME_HDR_STRUCTURED),
    KIND("content-location", MIME_HDR_STRUCTURED),
    KIND("resent-date", MIME_HDR_STRUCTURED),
    KIND("resent-message-id", MIME_HDR_STRUCTURED),
    KIND("received", MIME_HDR_STRUCTURED),
    KIND("return-path", MIME_HDR_STRUCTURED),
    KIND("dkim-signature", MIME_HDR_STRUCTURED),
    KIND("arc-seal", MIME_HDR_STRUCTURED),
    KIND("arc-message-signature", MIME_HDR_STRUCTURED),
    KIND("arc-authentication-results", MIME_HDR_STRUCTURED),
    KIND("authentication-results", MIME_HDR_STRUCTURED),
    KIND("autocrypt", MIME_HDR_STRUCTURED),
};

int mime_hdr_kind(const char *name, size_t n)
{
    size_t i;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].len == n && kinds[i].name[0] == lower((unsigned char)name[0]) &&
            name_is(name, n, kinds[i].name))
            return kinds[i].kind;
    if (n > 5 && name_is(name, 5, "list-"))
        return MIME_HDR_STRUCTURED;
    return MIME_HDR_UNSTRUCTURED;
}

int mime_hdr_check_name(const char *name, size_t n)
{
    size_t i;
    if (name == NULL || n == 0 || n > MIME_HDR_NAME_MAX)
        return -SMTP_E_HDR_NAME;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 33 || c > 126 || c == ':')
            return -SMTP_E_HDR_NAME;
    }
    return 0;
}

int mime_hdr_check_value(const char *value, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
            return -SMTP_E_HDR_CRLF;
    return 0;
}

/* The table of canonic() in lua/socket/smtp/message.lua (git 6f070e9),
 * so that names come out as they did; kept small on purpose. */
static const char *const canonic_special[] = {
    "MIME-Version", "Message-ID", "Content-ID", "Content-MD5",
    "DKIM-Signature", "List-ID", "Resent-Message-ID",
};

void mime_hdr_canonic(const char *name, size_t n, char *out)
{
    size_t i, k;
    int start = 1;
    for (k = 0; k < sizeof canonic_special / sizeof canonic_special[0]; k++) {
        const char *s = canonic_special[k];
        if (lower((unsigned char)s[0]) != lower((unsigned char)name[0]) || strlen(s) != n)
            continue;
        for (i = 0; i < n && s[i] != '\0'; i++)
            if (lower((unsigned char)name[i]) != lower((unsigned char)s[i]))
                break;
        if (i == n && s[i] == '\0') {
            memcpy(out, s, n);
            return;
        }
    }
    /* Lua: string.gsub(lower(name), "(%w)(%w*)", upper(a) .. b) */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (is_alnum(c)) {
            c = lower(c);
            if (start && c >= 'a' && c <= 'z')
                c = (unsigned char)(c - 'a' + 'A');
            start = 0;
        } else {
            start = 1;
        }
        out[i] = (char)c;
    }
}

size_t mime_hdr_bound(size_t nlen, size_t vlen)
{
    if (nlen > SIZE_MAX - BOUND_EXTRA)
        return SIZE_MAX;
    if (vlen > (SIZE_MAX - BOUND_EXTRA - nlen) / BOUND_PER_BYTE)
        return SIZE_MAX;
    return nlen + BOUND_EXTRA + BOUND_PER_BYTE * vlen;
}

/* ---- bytes --------------------------------------------------------------- */

static int is_wsp(unsigned char c) { return c == ' ' || c == '\t'; }

/* A control character other than TAB (CR, LF and NUL never get here). */
static int is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

/* Length of the UTF-8 sequence a well-formed string starting with lead
 * would have, and the range allowed for its second byte. 0: not a lead. */
static size_t utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            *lo = 0xA0;
        else if (c == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            *lo = 0x90;
        else if (c == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0;
}

static int utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0, k, len;
    unsigned char lo, hi;
    while (i < n) {
        len = utf8_lead(p[i], &lo, &hi);
        if (len == 0 || len > n - i)
            return 0;
        for (k = 1; k < len; k++) {
            unsigned char c = p[i + k];
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
                return 0;
        }
        i += len;
    }
    return 1;
}

/* Non-ASCII bytes that may not be written raw: 0 when p[0..n) is ASCII,
 * or valid UTF-8 in a MIME_HDR_UTF8 session. */
static int raw_8bit_bad(const unsigned char *p, size_t n, unsigned flags)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] >= 0x80)
            return !(flags & MIME_HDR_UTF8) || !utf8_valid(p, n);
    return 0;
}

/* ---- the line writer ----------------------------------------------------- */

typedef struct {
    char *out;
    size_t cap;
    size_t len;     /* bytes produced (keeps counting past cap) */
    size_t line;    /* where the current line starts */
    size_t chunk;   /* where the last chunk (its white space) starts */
    size_t group;   /* where the last group (address, parameter) starts */
    int foldable;   /* the last chunk may still move to a new line */
    int group_ok;   /* the last group may still move to a new line */
    int want_group; /* the next chunk starts a group */
    int atom;       /* the current line holds text, not only white space */
    int ctext;      /* text was put since the last chunk started */
    int busy;       /* out of room: memory is no longer touched */
    int toolong;    /* a line stays above LINE_HARD */
} hw;

static void hw_init(hw *w, char *out, size_t cap)
{
    w->out = out;
    w->cap = cap;
    w->len = w->line = w->chunk = w->group = 0;
    w->foldable = w->group_ok = w->want_group = 0;
    w->atom = w->ctext = w->busy = w->toolong = 0;
}

/* Put CRLF at out[at] (in front of the white space that starts the last
 * chunk or group). */
static void hw_fold_at(hw *w, size_t at)
{
    if (!w->busy) {
        if (w->cap - w->len < 2) {
            w->busy = 1;
        } else {
            memmove(w->out + at + 2, w->out + at, w->len - at);
            w->out[at] = '\r';
            w->out[at + 1] = '\n';
        }
    }
    w->len += 2;
    w->line = at + 2;
    if (w->chunk > at) {
        /* the group moved, with the chunk after its first text */
        w->chunk += 2;
        w->atom = 1;
    } else {
        w->foldable = 0;
        w->atom = w->ctext;
    }
    w->group_ok = 0;
}

/* Append bytes; fold when the line has grown too long: a whole group
 * first (an address, a parameter), then the last chunk. */
static void hw_bytes(hw *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (!w->busy) {
        if (n > w->cap - w->len)
            w->busy = 1;
        else
            memcpy(w->out + w->len, p, n);
    }
    w->len += n;
    if (w->len - w->line > LINE_SOFT && w->group_ok)
        hw_fold_at(w, w->group);
    if (w->len - w->line > LINE_SOFT && w->foldable)
        hw_fold_at(w, w->chunk);
    if (w->len - w->line > LINE_HARD)
        w->toolong = 1;
}

/* Text that must stay with what comes before it. */
static void hw_put(hw *w, const void *p, size_t n)
{
    hw_bytes(w, p, n);
    if (n > 0)
        w->atom = w->ctext = 1;
}

/* White space that is not a fold point (leading or trailing). */
static void hw_space(hw *w, const void *p, size_t n) { hw_bytes(w, p, n); }

/* Start a chunk: ws[0..n) is where it may be folded. With n == 0 the text
 * that follows is glued to what is already there. */
static void hw_chunk(hw *w, const void *ws, size_t n)
{
    int group = w->want_group;
    w->want_group = 0;
    if (n == 0)
        return;
    w->foldable = w->atom;
    w->chunk = w->len;
    w->ctext = 0;
    if (group) {
        w->group = w->chunk;
        w->group_ok = w->foldable;
    }
    hw_bytes(w, ws, n);
}

/* The next chunk starts a group: when a line overflows inside a group,
 * the whole group moves to a new line first. */
static void hw_group(hw *w) { w->want_group = 1; }

static void hw_end(hw *w)
{
    if (!w->busy) {
        if (w->cap - w->len < 2) {
            w->busy = 1;
        } else {
            w->out[w->len] = '\r';
            w->out[w->len + 1] = '\n';
        }
    }
    w->len += 2;
}

/* ---- semantic readers ---------------------------------------------------- */

/* A reader gives the bytes a piece of the field stands for: RAW the bytes
 * as they are, PHRASE a display name (quoted-strings without their quotes
 * and escapes, white space outside quotes as one space), COMMENT the inside
 * of a comment (escapes removed). */
enum { RD_RAW, RD_PHRASE, RD_COMMENT };

typedef struct {
    const unsigned char *p;
    size_t i, end;
    int mode;
    int inq;
} rd;

static void rd_init(rd *r, const unsigned char *p, size_t i, size_t end, int mode)
{
    r->p = p;
    r->i = i;
    r->end = end;
    r->mode = mode;
    r->inq = 0;
}

static int rd_byte(rd *r)
{
    while (r->i < r->end) {
        unsigned char c = r->p[r->i];
        if (r->mode == RD_RAW) {
            r->i++;
            return c;
        }
        if (r->mode == RD_COMMENT || r->inq) {
            if (c == '\\' && r->i + 1 < r->end) {
                r->i += 2;
                return r->p[r->i - 1];
            }
            if (c == '"' && r->inq) {
                r->inq = 0;
                r->i++;
                continue;
            }
            r->i++;
            return c;
        }
        if (c == '"') {
            r->inq = 1;
            r->i++;
            continue;
        }
        if (is_wsp(c)) {
            while (r->i < r->end && is_wsp(r->p[r->i]))
                r->i++;
            if (r->i == r->end)
                return -1;
            return ' ';
        }
        r->i++;
        return c;
    }
    return -1;
}

/* One character: a whole UTF-8 sequence, or one byte where the bytes are
 * not valid UTF-8. Returns its length (0 at the end); *valid is 0 when the
 * unit is a non-ASCII byte that does not start a valid sequence. */
static size_t rd_char(rd *r, unsigned char u[4], int *valid)
{
    int b = rd_byte(r);
    size_t len, k;
    unsigned char lo, hi;
    *valid = 1;
    if (b < 0)
        return 0;
    u[0] = (unsigned char)b;
    len = utf8_lead(u[0], &lo, &hi);
    if (len == 0) {
        *valid = 0;
        return 1;
    }
    for (k = 1; k < len; k++) {
        rd save = *r;
        b = rd_byte(r);
        if (b < 0 || b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
            *r = save;
            *valid = 0;
            return k;
        }
        u[k] = (unsigned char)b;
    }
    return len;
}

/* What a piece of text holds, to decide whether it must be encoded. */
typedef struct {
    size_t n;     /* bytes */
    int nonascii; /* a byte >= 0x80 */
    int invalid;  /* not valid UTF-8 */
    int ctl;      /* a control character */
    int ewlike;   /* "=?" somewhere: a decoder could take it for one */
} rd_stats;

static void rd_scan(const rd *src, rd_stats *st)
{
    rd r = *src;
    unsigned char u[4];
    size_t k, j;
    int valid, prev_eq = 0;
    memset(st, 0, sizeof *st);
    while ((k = rd_char(&r, u, &valid)) > 0) {
        st->n += k;
        if (!valid)
            st->invalid = 1;
        for (j = 0; j < k; j++) {
            if (u[j] >= 0x80)
                st->nonascii = 1;
            else if (is_ctl(u[j]))
                st->ctl = 1;
            if (prev_eq && u[j] == '?')
                st->ewlike = 1;
            prev_eq = u[j] == '=';
        }
    }
}

/* Must this text be written as encoded-words? */
static int must_encode(const rd_stats *st, unsigned flags)
{
    if (st->ctl || st->ewlike || st->invalid)
        return st->n > 0;
    return st->nonascii && !(flags & MIME_HDR_UTF8);
}

/* ---- encoded-words ------------------------------------------------------- */

static int q_plain(unsigned char c)
{
    return is_alnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_len(unsigned char c) { return (q_plain(c) || c == ' ') ? 1 : 3; }

/* Size of the next encoded-word: fill the current line when at least
 * EW_MIN fits there; else the word goes to a new line (full size) when the
 * writer may fold here, or stays (full size) when it may not. */
static size_t ew_size(const hw *w, size_t wsn, size_t whole)
{
    size_t cur = w->len - w->line, m;
    if (cur + EW_MIN <= LINE_SOFT) {
        m = LINE_SOFT - cur;
        if (m > EW_MAX)
            m = EW_MAX;
        /* a run that fits in one encoded-word is not split to fill a line */
        if (whole > m && whole <= EW_MAX && w->foldable)
            m = EW_MAX;
        return m;
    }
    if (!w->foldable)
        return EW_MAX;
    m = wsn < LINE_SOFT - EW_MIN ? LINE_SOFT - wsn : EW_MIN;
    return m > EW_MAX ? EW_MAX : m;
}

static void ew_write(hw *w, int q, const unsigned char *buf, size_t n)
{
    char enc[EW_MAX];
    size_t i, o = 0;
    if (q) {
        for (i = 0; i < n; i++) {
            unsigned char c = buf[i];
            if (q_plain(c)) {
                enc[o++] = (char)c;
            } else if (c == ' ') {
                enc[o++] = '_';
            } else {
                enc[o++] = '=';
                enc[o++] = hexchars[c >> 4];
                enc[o++] = hexchars[c & 15];
            }
        }
    } else {
        for (i = 0; i + 2 < n; i += 3) {
            unsigned long v = ((unsigned long)buf[i] << 16) |
                              ((unsigned long)buf[i + 1] << 8) | buf[i + 2];
            enc[o++] = b64chars[(v >> 18) & 63];
            enc[o++] = b64chars[(v >> 12) & 63];
            enc[o++] = b64chars[(v >> 6) & 63];
            enc[o++] = b64chars[v & 63];
        }
        if (i < n) {
            unsigned long v = (unsigned long)buf[i] << 16;
            if (i + 1 < n)
                v |= (unsigned long)buf[i + 1] << 8;
            enc[o++] = b64chars[(v >> 18) & 63];
            enc[o++] = b64chars[(v >> 12) & 63];
            enc[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
            enc[o++] = '=';
        }
    }
    hw_put(w, q ? ew_prefix_q : ew_prefix_b, sizeof ew_prefix_q - 1);
    hw_put(w, enc, o);
    hw_put(w, "?=", 2);
}

/* Write the text of src as one run of encoded-words. The first one starts a
 * chunk with ws[0..wsn) (glued when wsn == 0), the others are separated by
 * one space. In a comment the run is wrapped in parentheses. */
static void ew_run(hw *w, const rd *src, const void *ws, size_t wsn, int comment)
{
    rd r = *src, save;
    unsigned char u[4], buf[EW_MAX];
    size_t n = 0, qlen = 0, k, whole, len, enc, e;
    int b, q, valid, first = 1;

    while ((b = rd_byte(&r)) >= 0) {
        n++;
        qlen += q_len((unsigned char)b);
    }
    q = qlen <= 4 * ((n + 2) / 3);
    whole = EW_OVERHEAD + (q ? qlen : 4 * ((n + 2) / 3)) + (comment ? 1 : 0);
    r = *src;
    for (;;) {
        size_t m;
        save = r;
        if (rd_char(&r, u, &valid) == 0)
            break;
        r = save;
        if (first) {
            hw_chunk(w, ws, wsn);
            if (comment)
                hw_put(w, "(", 1);
        } else {
            hw_chunk(w, " ", 1);
        }
        m = ew_size(w, first ? wsn : 1, whole) - (comment ? 1 : 0);
        len = enc = 0;
        for (;;) {
            size_t j;
            save = r;
            k = rd_char(&r, u, &valid);
            if (k == 0)
                break;
            if (q) {
                e = enc;
                for (j = 0; j < k; j++)
                    e += q_len(u[j]);
            } else {
                e = 4 * ((len + k + 2) / 3);
            }
            if (len > 0 && e > m - EW_OVERHEAD) {
                r = save;
                break;
            }
            memcpy(buf + len, u, k);
            len += k;
            enc = e;
        }
        ew_write(w, q, buf, len);
        first = 0;
    }
    if (comment)
        hw_put(w, ")", 1);
}

/* ---- unstructured -------------------------------------------------------- */

static size_t word_end(const unsigned char *v, size_t i, size_t n)
{
    while (i < n && !is_wsp(v[i]))
        i++;
    return i;
}

/* Must the word v[0..n) be encoded? room: the most it may take on a line
 * (with the white space in front of it). */
static int word_needs(const unsigned char *v, size_t n, size_t room, unsigned flags)
{
    rd r;
    rd_stats st;
    if (n > room)
        return 1;
    rd_init(&r, v, 0, n, RD_RAW);
    rd_scan(&r, &st);
    return must_encode(&st, flags);
}

static void fmt_unstructured(hw *w, const unsigned char *v, size_t n,
                             unsigned flags, int all)
{
    size_t i = 0, ws = 0, we, prefix = w->len;
    int first = 1;
    rd r;

    if (all) {
        /* the fallback: the whole value, white space included */
        rd_init(&r, v, 0, n, RD_RAW);
        ew_run(w, &r, NULL, 0, 0);
        return;
    }
    while (i < n && is_wsp(v[i]))
        i++;
    hw_space(w, v, i);
    while (i < n) {
        size_t wsn = first ? 0 : i - ws;
        size_t room = first ? (LINE_HARD > prefix + i ? LINE_HARD - prefix - i : 0)
                            : (LINE_HARD > wsn ? LINE_HARD - wsn : 0);
        we = word_end(v, i, n);
        if (word_needs(v + i, we - i, room, flags)) {
            /* the run goes on over every following word that needs it too */
            size_t j = we;
            for (;;) {
                size_t k = j, e;
                while (k < n && is_wsp(v[k]))
                    k++;
                if (k == n)
                    break;
                e = word_end(v, k, n);
                if (!word_needs(v + k, e - k, LINE_HARD > k - j ? LINE_HARD - (k - j) : 0,
                                flags))
                    break;
                j = e;
            }
            rd_init(&r, v, i, j, RD_RAW);
            ew_run(w, &r, v + ws, wsn, 0);
            we = j;
        } else {
            hw_chunk(w, v + ws, wsn);
            hw_put(w, v + i, we - i);
        }
        first = 0;
        ws = i = we;
        while (i < n && is_wsp(v[i]))
            i++;
        if (i == n)
            hw_space(w, v + ws, n - ws);
    }
}

/* ---- structured ---------------------------------------------------------- */

/* Is v[i] white space where a fold may go? Not after a backslash: the CRLF
 * would split a quoted-pair. */
static int fold_wsp(const unsigned char *v, size_t s, size_t i)
{
    return is_wsp(v[i]) && !(i > s && v[i - 1] == '\\');
}

/* Write v[s..e) folding at its white space; the first piece starts a chunk
 * with ws[0..wsn). */
static void put_split(hw *w, const unsigned char *v, size_t s, size_t e,
                      const void *ws, size_t wsn)
{
    size_t i = s;
    while (i < e) {
        size_t b = i, t;
        while (i < e && fold_wsp(v, s, i))
            i++;
        t = i;
        while (t < e && !fold_wsp(v, s, t))
            t++;
        if (b == s)
            hw_chunk(w, ws, wsn);
        else
            hw_chunk(w, v + b, i - b);
        hw_put(w, v + i, t - i);
        i = t;
    }
}

static void trim(const unsigned char *v, size_t *s, size_t *e)
{
    while (*s < *e && is_wsp(v[*s]))
        (*s)++;
    while (*e > *s && is_wsp(v[*e - 1]))
        (*e)--;
}

static int fmt_structured(hw *w, const unsigned char *v, size_t n, unsigned flags)
{
    size_t s = 0, e = n;
    trim(v, &s, &e);
    if (raw_8bit_bad(v + s, e - s, flags))
        return SMTP_E_HDR_8BIT;
    put_split(w, v, s, e, NULL, 0);
    return 0;
}

/* ---- lexical scan of structured text ------------------------------------- */

enum { T_WS, T_QUOTED, T_COMMENT, T_ANGLE, T_COMMA, T_COLON, T_SEMI, T_ATOM };

/* The token at v[i] (i < n): its type, and *end. -1: an unterminated
 * quoted-string, comment or angle-addr. */
static int scan(const unsigned char *v, size_t n, size_t i, size_t *end)
{
    size_t j = i + 1;
    int depth = 1, inq = 0;
    unsigned char c = v[i];
    if (is_wsp(c)) {
        while (j < n && is_wsp(v[j]))
            j++;
        *end = j;
        return T_WS;
    }
    switch (c) {
    case '"':
        while (j < n) {
            if (v[j] == '\\')
                j += 2;
            else if (v[j++] == '"') {
                *end = j;
                return T_QUOTED;
            }
        }
        return -1;
    case '(':
        while (j < n) {
            if (v[j] == '\\') {
                j += 2;
                continue;
            }
            if (v[j] == '(')
                depth++;
            else if (v[j] == ')' && --depth == 0) {
                *end = j + 1;
                return T_COMMENT;
            }
            j++;
        }
        return -1;
    case '<':
        while (j < n) {
            if (v[j] == '\\' && inq) {
                j += 2;
                continue;
            }
            if (v[j] == '"')
                inq = !inq;
            else if (v[j] == '>' && !inq) {
                *end = j + 1;
                return T_ANGLE;
            }
            j++;
        }
        return -1;
    case ',':
        *end = j;
        return T_COMMA;
    case ':':
        *end = j;
        return T_COLON;
    case ';':
        *end = j;
        return T_SEMI;
    default:
        while (j < n && !is_wsp(v[j]) && v[j] != '"' && v[j] != '(' &&
               v[j] != '<' && v[j] != ',' && v[j] != ':' && v[j] != ';')
            j++;
        *end = j;
        return T_ATOM;
    }
}

/* ---- address lists ------------------------------------------------------- */

typedef struct {
    hw *w;
    const unsigned char *v;
    unsigned flags;
    int force;         /* encode every phrase and comment (second pass) */
    const void *ws;    /* white space in front of the next token */
    size_t wsn;
    int need_sp;       /* the next token needs a space before it: 1 after
                        * ',' ':' ';', 2 after an encoded-word */
} actx;

static void a_sep(actx *a)
{
    if (a->wsn == 0 && a->need_sp) {
        a->ws = " ";
        a->wsn = 1;
    }
    a->need_sp = 0;
}

/* A comment: verbatim, or its inside as encoded-words. */
static int a_comment(actx *a, size_t k, size_t ke)
{
    rd r;
    rd_stats st;
    rd_init(&r, a->v, k + 1, ke - 1, RD_COMMENT);
    rd_scan(&r, &st);
    if (must_encode(&st, a->flags) || (a->force && st.n > 0)) {
        ew_run(a->w, &r, a->ws, a->wsn, 1);
    } else {
        if (raw_8bit_bad(a->v + k, ke - k, a->flags))
            return SMTP_E_HDR_8BIT;
        put_split(a->w, a->v, k, ke, a->ws, a->wsn);
    }
    a->wsn = 0;
    return 0;
}

/* One address, group name or addr-spec: the tokens of v[s..e); the phrase
 * (display name) is v[s..pe). */
static int a_segment(actx *a, size_t s, size_t e, size_t pe)
{
    size_t k = s, ke, done = s;
    int t, rc;
    while (k < e) {
        t = scan(a->v, e, k, &ke);
        if (t == T_WS) {
            a->ws = a->v + k;
            a->wsn = ke - k;
            k = ke;
            continue;
        }
        a_sep(a);
        if (t == T_COMMENT) {
            if ((rc = a_comment(a, k, ke)) != 0)
                return rc;
            k = ke;
            continue;
        }
        if (k < pe && k >= done) {
            /* a phrase part: up to the next comment or the phrase end */
            size_t p = k, q = k, pk;
            rd r;
            rd_stats st;
            while (p < pe && scan(a->v, pe, p, &pk) != T_COMMENT) {
                if (!is_wsp(a->v[p]))
                    q = pk;
                p = pk;
            }
            rd_init(&r, a->v, k, q, RD_PHRASE);
            rd_scan(&r, &st);
            if (must_encode(&st, a->flags) || (a->force && st.n > 0)) {
                ew_run(a->w, &r, a->ws, a->wsn, 0);
                a->wsn = 0;
                a->need_sp = 2; /* RFC 2047 5(3) */
                k = q;
                continue;
            }
            done = q;
        }
        if (raw_8bit_bad(a->v + k, ke - k, a->flags))
            return SMTP_E_HDR_8BIT;
        if (t == T_QUOTED) {
            /* folds at its spaces too (RFC 5322 3.2.4 allows FWS there) */
            put_split(a->w, a->v, k, ke, a->ws, a->wsn);
        } else {
            hw_chunk(a->w, a->ws, a->wsn);
            hw_put(a->w, a->v + k, ke - k);
        }
        a->wsn = 0;
        k = ke;
    }
    return 0;
}

static int fmt_address(hw *w, const unsigned char *v, size_t n, unsigned flags,
                       int force)
{
    actx a;
    size_t s = 0, e = n, i, j, ke;
    int t, rc;
    trim(v, &s, &e);
    a.w = w;
    a.v = v;
    a.flags = flags;
    a.force = force;
    a.ws = NULL;
    a.wsn = 0;
    a.need_sp = 0;
    i = s;
    while (i < e) {
        size_t angle = e;
        t = -2;
        for (j = i; j < e; j = ke) {
            t = scan(v, e, j, &ke);
            if (t < 0)
                return SMTP_E_HDR_SYNTAX;
            if (t == T_COMMA || t == T_COLON || t == T_SEMI)
                break;
            if (t == T_ANGLE && angle == e)
                angle = j;
        }
        /* the phrase: before the angle-addr, or a group's name */
        rc = a_segment(&a, i, j, angle < e ? angle : (t == T_COLON ? j : i));
        if (rc != 0)
            return rc;
        if (j < e) {
            /* white space in front of a separator stays where it is (a
             * fold point too); an encoded-word (a group name) gets one */
            if (a.wsn == 0 && a.need_sp == 2) {
                a.ws = " ";
                a.wsn = 1;
            }
            hw_chunk(w, a.ws, a.wsn);
            a.wsn = 0;
            hw_put(w, v + j, 1);
            a.need_sp = 1;
            hw_group(w);
            j++;
        }
        i = j;
    }
    return 0;
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) --------------------------------- */

static int is_tspecial(unsigned char c)
{
    return c == '(' || c == ')' || c == '<' || c == '>' || c == '@' || c == ',' ||
           c == ';' || c == ':' || c == '\\' || c == '"' || c == '/' || c == '[' ||
           c == ']' || c == '?' || c == '=';
}

/* RFC 2231 attribute-char: written as it is in an extended value */
static int attr_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !is_tspecial(c) && c != '*' && c != '\'' &&
           c != '%';
}

/* The next ';' at top level from i, or e. -1: an unterminated quote. */
static int next_semi(const unsigned char *v, size_t i, size_t e, size_t *at)
{
    size_t k;
    while (i < e) {
        int t;
        if (v[i] == ';')
            break;
        if (v[i] != '"' && v[i] != '(') {
            i++;
            continue;
        }
        t = scan(v, e, i, &k);
        if (t < 0)
            return -1;
        i = k;
    }
    *at = i;
    return 0;
}

static size_t put_num(char *o, size_t x)
{
    char tmp[24];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x > 0);
    for (i = 0; i < n; i++)
        o[i] = tmp[n - 1 - i];
    return n;
}

/* name*=utf-8''%XX..., or name*0*=utf-8''...; name*1*=...; each segment
 * fitting on a line (never splitting a %XX or a UTF-8 character). */
static void put_2231(hw *w, const unsigned char *attr, size_t alen, const rd *src)
{
    rd r = *src, save;
    unsigned char u[4];
    char head[MIME_HDR_ATTR_MAX + 40];
    size_t total = 0, seg = 0, k, j, h;
    int b, valid, single;

    while ((b = rd_byte(&r)) >= 0)
        total += attr_char((unsigned char)b) ? 1 : 3;
    single = 1 + alen + 2 + 7 + total + 1 <= LINE_SOFT;
    r = *src;
    for (;;) {
        size_t room, used = 0;
        save = r;
        if (rd_char(&r, u, &valid) == 0 && seg > 0)
            break;
        r = save;
        if (seg > 0)
            hw_put(w, ";", 1);
        hw_group(w);
        hw_chunk(w, " ", 1);
        memcpy(head, attr, alen);
        h = alen;
        head[h++] = '*';
        if (!single) {
            h += put_num(head + h, seg);
            head[h++] = '*';
        }
        head[h++] = '=';
        if (seg == 0) {
            memcpy(head + h, "utf-8''", 7);
            h += 7;
        }
        hw_put(w, head, h);
        room = 1 + h + 1 + PCT_SEG_MIN <= LINE_SOFT ? LINE_SOFT - 1 - h - 1 : PCT_SEG_MIN;
        for (;;) {
            size_t need = 0;
            save = r;
            k = rd_char(&r, u, &valid);
            if (k == 0)
                break;
            for (j = 0; j < k; j++)
                need += attr_char(u[j]) ? 1 : 3;
            if (!single && used > 0 && used + need > room) {
                r = save;
                break;
            }
            for (j = 0; j < k; j++) {
                if (attr_char(u[j])) {
                    hw_put(w, u + j, 1);
                } else {
                    char pct[3];
                    pct[0] = '%';
                    pct[1] = hexchars[u[j] >> 4];
                    pct[2] = hexchars[u[j] & 15];
                    hw_put(w, pct, 3);
                }
            }
            used += need;
        }
        seg++;
        if (single)
            break;
    }
}

/* One parameter p[s..e) (trimmed, not empty), after "; ". */
static int put_param(hw *w, const unsigned char *v, size_t s, size_t e,
                     unsigned flags)
{
    size_t eq = s, as, ae, vs, ve, i, k;
    int ok = 1, quoted = 0;
    rd r;
    rd_stats st;

    while (eq < e && v[eq] != '=')
        eq++;
    as = s;
    ae = eq;
    vs = eq < e ? eq + 1 : e;
    ve = e;
    trim(v, &as, &ae);
    trim(v, &vs, &ve);
    if (eq == e || ae == as || ae - as > MIME_HDR_ATTR_MAX || vs == ve)
        ok = 0;
    for (i = as; ok && i < ae; i++)
        if (!attr_char(v[i]))
            ok = 0; /* also "name*": already in RFC 2231 form */
    if (ok && v[vs] == '"') {
        if (scan(v, ve, vs, &k) != T_QUOTED || k != ve)
            ok = 0;
        quoted = 1;
    } else {
        for (i = vs; ok && i < ve; i++)
            if (is_wsp(v[i]) || v[i] == '"' || v[i] == '(')
                ok = 0;
    }
    if (!ok) {
        /* not name=token or name="string": as it is */
        if (raw_8bit_bad(v + s, e - s, flags))
            return SMTP_E_HDR_8BIT;
        put_split(w, v, s, e, " ", 1);
        return 0;
    }
    rd_init(&r, v, vs, ve, quoted ? RD_PHRASE : RD_RAW);
    rd_scan(&r, &st);
    if (must_encode(&st, flags) ||
        1 + (ae - as) + 1 + (ve - vs) + (st.nonascii && !quoted ? 2 : 0) + 1 > LINE_SOFT) {
        put_2231(w, v + as, ae - as, &r);
        return 0;
    }
    hw_chunk(w, " ", 1);
    hw_put(w, v + as, ae - as + 1);
    if (!quoted && st.nonascii) {
        /* UTF-8 session: a non-ASCII token is written as a quoted-string */
        hw_put(w, "\"", 1);
        for (i = vs; i < ve; i++) {
            if (v[i] == '\\')
                hw_put(w, "\\", 1);
            hw_put(w, v + i, 1);
        }
        hw_put(w, "\"", 1);
    } else {
        hw_put(w, v + vs, ve - vs);
    }
    return 0;
}

static int fmt_params(hw *w, const unsigned char *v, size_t n, unsigned flags)
{
    size_t s = 0, e = n, p, q, a, b;
    int rc;
    trim(v, &s, &e);
    if (next_semi(v, s, e, &p) != 0)
        return SMTP_E_HDR_SYNTAX;
    a = s;
    b = p;
    trim(v, &a, &b);
    if (raw_8bit_bad(v + a, b - a, flags))
        return SMTP_E_HDR_8BIT;
    put_split(w, v, a, b, NULL, 0);
    while (p < e) {
        if (next_semi(v, p + 1, e, &q) != 0)
            return SMTP_E_HDR_SYNTAX;
        a = p + 1;
        b = q;
        trim(v, &a, &b);
        if (a < b) {
            hw_put(w, ";", 1);
            hw_group(w);
            if ((rc = put_param(w, v, a, b, flags)) != 0)
                return rc;
        }
        p = q;
    }
    return 0;
}

/* ---- the entry point ----------------------------------------------------- */

static void put_name(hw *w, const mime_hdr_name *hn)
{
    hw_space(w, hn->canon, hn->len);
    hw_space(w, ": ", 2);
}

int mime_hdr_name_init(mime_hdr_name *hn, const char *name, size_t n)
{
    int rc = mime_hdr_check_name(name, n);
    if (rc != 0)
        return rc;
    mime_hdr_canonic(name, n, hn->canon);
    hn->len = n;
    hn->kind = mime_hdr_kind(name, n);
    return 0;
}

/* The common case, cheaply: a short value of plain printable ASCII with
 * nothing a writer would change (no encoded-word look-alike, no doubled or
 * edge white space, no quoting or comment syntax in structured kinds) is
 * written as it is, on one line: exactly what the full writer writes for
 * it (the C tests compare the two). FAST_NO: take the full writer. */
#define FAST_NO (-100000L)
enum { F_LOOK = 1, F_SPECIAL = 2, F_ODD = 4, F_BAD = 8 };
/* Per byte: F_BAD outside printable ASCII; F_LOOK a byte whose neighbours
 * matter (" =? " doubled space, ";", quotes); F_SPECIAL syntax a structured
 * writer may rewrite; F_ODD syntax the parameter shortcut does not take. */
static const unsigned char fast_class[256] = {
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    1, 0, 3, 0, 0, 0, 0, 0, 6, 6, 6, 0, 6, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 3, 6, 3, 6, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 5, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
};
static long fast_line(const mime_hdr_name *hn, const unsigned char *v,
                      size_t vlen, char *out, size_t cap)
{
    size_t nlen = hn->len;
    size_t i, len;
    int kind, special = 0, odd = 0, inq = 0, outside = 0;
    if (vlen == 0 || nlen + 2 + vlen > LINE_SOFT || v[0] == ' ' || v[vlen - 1] == ' ')
        return FAST_NO;
    if (hn->kind == MIME_HDR_UNSTRUCTURED) {
        /* text: only encoded-word look-alikes and doubled spaces matter */
        for (i = 0; i < vlen; i++) {
            unsigned char c = v[i], k = fast_class[c];
            if ((k & (F_BAD | F_LOOK)) == 0)
                continue;
            if ((k & F_BAD) || (c == '=' && i + 1 < vlen && v[i + 1] == '?') ||
                (c == ' ' && v[i + 1] == ' '))
                return FAST_NO;
        }
        goto write;
    }
    for (i = 0; i < vlen; i++) {
        unsigned char c = v[i], k = fast_class[c];
        if (k == 0)
            continue;
        if (k & F_BAD)
            return FAST_NO;
        if ((c == '=' && i + 1 < vlen && v[i + 1] == '?') ||
            (c == ' ' && v[i + 1] == ' '))
            return FAST_NO;
        special |= k & F_SPECIAL;
        odd |= (k & F_ODD) ||
               (c == ';' && (i == 0 || i + 1 == vlen || v[i + 1] != ' ' || v[i - 1] == ' '));
        if (c == '"')
            inq = !inq;
        else if (c == ' ' && !inq && v[i - 1] != ';')
            outside = 1; /* white space a parameter writer would drop */
    }
    kind = hn->kind;
    /* parameters in the usual form (type/subtype; name=value; name="v"):
     * white space only after a ';' or inside quotes */
    if (kind == MIME_HDR_PARAMS && (odd || inq || outside))
        return FAST_NO;
    if (special && kind != MIME_HDR_UNSTRUCTURED && kind != MIME_HDR_PARAMS)
        return FAST_NO;
write:
    len = nlen + 2 + vlen + 2;
    if (out == NULL || cap < len)
        return -SMTP_E_BUSY;
    memcpy(out, hn->canon, nlen);
    out[nlen] = ':';
    out[nlen + 1] = ' ';
    memcpy(out + nlen + 2, v, vlen);
    out[len - 2] = '\r';
    out[len - 1] = '\n';
    return (long)len;
}

long mime_hdr_format(const char *name, size_t nlen, const char *value,
                     size_t vlen, unsigned flags, char *out, size_t cap)
{
    mime_hdr_name hn;
    int rc = mime_hdr_name_init(&hn, name, nlen);
    if (rc != 0)
        return rc;
    return mime_hdr_write(&hn, value, vlen, flags, out, cap);
}

long mime_hdr_write(const mime_hdr_name *hn, const char *value, size_t vlen,
                    unsigned flags, char *out, size_t cap)
{
    const unsigned char *v = (const unsigned char *)value;
    int rc = 0, pass;
    hw w;

    if (vlen > 0 && value == NULL)
        return -SMTP_E_HDR_CRLF;
    /* the shortcut only takes printable values: no CR, LF or NUL */
    if (!(flags & MIME_HDR_FULL)) {
        long quick = fast_line(hn, v, vlen, out, cap);
        if (quick != FAST_NO)
            return quick;
    }
    if ((rc = mime_hdr_check_value(value, vlen)) != 0)
        return rc;
    if (mime_hdr_bound(hn->len, vlen) > (size_t)LONG_MAX)
        return -SMTP_E_HDR_TOO_LONG;
    if (out == NULL)
        cap = 0;
    for (pass = 0; pass < 2; pass++) {
        hw_init(&w, out, cap);
        put_name(&w, hn);
        switch (hn->kind) {
        case MIME_HDR_ADDRESS:
            rc = fmt_address(&w, v, vlen, flags, pass);
            break;
        case MIME_HDR_PARAMS:
            rc = fmt_params(&w, v, vlen, flags);
            pass = 1;
            break;
        case MIME_HDR_STRUCTURED:
            rc = fmt_structured(&w, v, vlen, flags);
            pass = 1;
            break;
        default:
            fmt_unstructured(&w, v, vlen, flags, pass);
            break;
        }
        if (rc != 0)
            return -rc;
        if (!w.toolong)
            break;
    }
    if (w.toolong)
        return -SMTP_E_HDR_TOO_LONG;
    hw_end(&w);
    if (w.busy)
        return -SMTP_E_BUSY;
    return (long)w.len;
}
