/* smtp_caps.c -- EHLO capability parser; see smtp_caps.h. */
#include <string.h>
#include "smtp_caps.h"

static const char *const ext_names[] = {
#define SMTP_EXT_NAME(id, name) name,
    SMTP_EXTS(SMTP_EXT_NAME)
#undef SMTP_EXT_NAME
};
static const char *const mech_names[] = {
#define SMTP_MECH_NAME(id, name) name,
    SMTP_MECHS(SMTP_MECH_NAME)
#undef SMTP_MECH_NAME
};

const char *smtp_caps_ext_name(int i)
{
    return (i >= 0 && i < SMTP_EXT__COUNT) ? ext_names[i] : NULL;
}

const char *smtp_caps_mech_name(int i)
{
    return (i >= 0 && i < SMTP_MECH__COUNT) ? mech_names[i] : NULL;
}

void smtp_caps_init(smtp_caps *caps)
{
    caps->ext = 0;
    caps->mechs = 0;
    caps->size = 0;
    caps->len = 0;
    caps->raw[0] = '\0';
}

static unsigned char upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 'a' + 'A') : c;
}

/* Case-insensitive comparison of s[0..n) with the upper-case name. Like
 * mime_hdr.c's name_is (lower case there): a few lines in two engine
 * families, not worth a shared header across the layers. */
static int same(const char *s, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (name[i] == '\0' || upper((unsigned char)s[i]) != (unsigned char)name[i])
            return 0;
    return name[n] == '\0';
}

/* Mechanism names are separated as in the SASL engine's lists. */
static int is_sep(char c) { return c == ' ' || c == '\t' || c == ','; }

static void parse_mechs(smtp_caps *caps, const char *p, const char *end)
{
    while (p < end) {
        const char *w;
        int i;
        while (p < end && is_sep(*p))
            p++;
        w = p;
        while (p < end && !is_sep(*p))
            p++;
        for (i = 0; i < SMTP_MECH__COUNT; i++)
            if (p > w && same(w, (size_t)(p - w), mech_names[i]))
                caps->mechs |= 1u << i;
    }
}

static void parse_size(smtp_caps *caps, const char *p, const char *end)
{
    unsigned long long v = 0;
    while (p < end && *p == ' ')
        p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (~0ULL - d) / 10) {
            v = ~0ULL;
            break;
        }
        v = v * 10 + d;
    }
    caps->size = v;
}

static void parse_line(smtp_caps *caps, const char *p, const char *end)
{
    const char *kw, *kwend, *params;
    size_t need, i;
    int e;
    /* skip "250-" / "250 " / "250" */
    p += (end - p >= 4) ? 4 : end - p;
    while (p < end && *p == ' ')
        p++;
    kw = p;
    while (p < end && *p != ' ' && *p != '=')
        p++;
    kwend = p;
    if (kwend == kw)
        return;
    if (p < end)
        p++; /* the ' ' or the '=' of the old AUTH=... form */
    params = p;
    for (e = 0; e < SMTP_EXT__COUNT; e++) {
        if (!same(kw, (size_t)(kwend - kw), ext_names[e]))
            continue;
        caps->ext |= 1u << e;
        if (e == SMTP_EXTBIT_AUTH)
            parse_mechs(caps, params, end);
        else if (e == SMTP_EXTBIT_SIZE)
            parse_size(caps, params, end);
    }
    /* keep "KEYWORD params\n" when it fits (AUTH=X is kept as AUTH X) */
    need = (size_t)(kwend - kw) + 1 + (size_t)(end - params) + 1;
    if (need > SMTP_CAPS_MAX - 1 - caps->len)
        return;
    for (i = 0; kw + i < kwend; i++)
        caps->raw[caps->len++] = (char)upper((unsigned char)kw[i]);
    caps->raw[caps->len++] = ' ';
    memcpy(caps->raw + caps->len, params, (size_t)(end - params));
    caps->len += (size_t)(end - params);
    caps->raw[caps->len++] = '\n';
    caps->raw[caps->len] = '\0';
}

void smtp_caps_parse(smtp_caps *caps, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    const char *nl = memchr(p, '\n', len);
    smtp_caps_init(caps);
    if (nl == NULL)
        return; /* a one-line reply offers no extensions */
    p = nl + 1;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        parse_line(caps, p, nl);
        p = nl + 1;
    }
}

const char *smtp_caps_find(const smtp_caps *caps, const char *keyword,
                           size_t klen, size_t *plen)
{
    const char *p = caps->raw, *end = caps->raw + caps->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *sp = memchr(p, ' ', (size_t)(nl - p));
        size_t i;
        int match = (size_t)(sp - p) == klen;
        for (i = 0; match && i < klen; i++)
            match = upper((unsigned char)keyword[i]) == (unsigned char)p[i];
        if (match) {
            *plen = (size_t)(nl - sp - 1);
            return sp + 1;
        }
        p = nl + 1;
    }
    *plen = 0;
    return NULL;
}

unsigned smtp_caps_mechs(const smtp_caps *caps) { return caps->mechs; }

unsigned long long smtp_caps_size(const smtp_caps *caps)
{
    return (caps->ext & SMTP_EXT(SIZE)) ? caps->size : 0;
}

int smtp_caps_next(const smtp_caps *caps, size_t *pos, const char **kw, size_t *klen,
                   const char **params, size_t *plen)
{
    const char *p = caps->raw + *pos, *end = caps->raw + caps->len, *nl, *sp;
    if (*pos >= caps->len)
        return 0;
    nl = memchr(p, '\n', (size_t)(end - p));
    sp = memchr(p, ' ', (size_t)(nl - p));
    *kw = p;
    *klen = (size_t)(sp - p);
    *params = sp + 1;
    *plen = (size_t)(nl - sp - 1);
    *pos = (size_t)(nl + 1 - caps->raw);
    return 1;
}
