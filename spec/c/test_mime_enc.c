/*
 * test_mime_enc.c -- mime_enc: one-shot base64.
 *
 * RFC 4648 section 10 vectors, every single byte value, and random data of
 * every length 0..300 decoded by an independent decoder written here. The
 * input sits against a guard page and so does the output buffer, which is
 * exactly MIME_B64_LEN(n) bytes, so a read or write one byte too far
 * faults. The one-shot encoder has no state to split, so "chunking" is
 * checked the way it applies: encoding at any 3-byte boundary and
 * concatenating gives the same text as encoding the whole (TAP_SEED).
 *
 * Engines: mime_enc.c
 */
#include "guard.h"
#include "tap.h"
#include "mime_enc.h"

#define STR(s) s, sizeof(s) - 1

static guard g_in, g_out;

static size_t enc(const void *in, size_t n, char *res)
{
    const unsigned char *p = (const unsigned char *)guard_put(&g_in, in, n);
    char *out = guard_space(&g_out, MIME_B64_LEN(n));
    size_t w = mime_b64_encode(p, n, out);
    memcpy(res, out, w <= MIME_B64_LEN(n) ? w : MIME_B64_LEN(n));
    return w;
}

/* An independent, strict decoder: returns the length or -1. */
static int val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static long decode(const char *s, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    if (n % 4 != 0)
        return -1;
    for (i = 0; i < n; i += 4) {
        int a = val(s[i]), b = val(s[i + 1]), c = val(s[i + 2]), d = val(s[i + 3]);
        int last = (i + 4 == n);
        if (a < 0 || b < 0)
            return -1;
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        if (last && s[i + 2] == '=' && s[i + 3] == '=') {
            if (b & 15)
                return -1; /* non-canonical padding bits */
            break;
        }
        if (c < 0)
            return -1;
        out[o++] = (unsigned char)(((b & 15) << 4) | (c >> 2));
        if (last && s[i + 3] == '=') {
            if (c & 3)
                return -1;
            break;
        }
        if (d < 0)
            return -1;
        out[o++] = (unsigned char)(((c & 3) << 6) | d);
    }
    return (long)o;
}

static void vectors(void)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } v[] = {
        {STR(""), ""},
        {STR("f"), "Zg=="},
        {STR("fo"), "Zm8="},
        {STR("foo"), "Zm9v"},
        {STR("foob"), "Zm9vYg=="},
        {STR("fooba"), "Zm9vYmE="},
        {STR("foobar"), "Zm9vYmFy"},
        /* SASL PLAIN and LOGIN examples (RFC 4616, and the usual LOGIN
         * challenges) */
        {STR("\0user\0pass"), "AHVzZXIAcGFzcw=="},
        {STR("Username:"), "VXNlcm5hbWU6"},
        {STR("Password:"), "UGFzc3dvcmQ6"},
        {STR("\xfb\xff\xbf"), "+/+/"},
        {STR("\0\0\0"), "AAAA"},
        {STR("\xff\xff\xff"), "////"},
        {STR("\xff"), "/w=="},
        {STR("\xff\xff"), "//8="},
    };
    size_t i;
    char res[64];
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t w = enc(v[i].in, v[i].n, res);
        is_mem(res, w, v[i].out, strlen(v[i].out), "base64 of %lu bytes -> %s",
               (unsigned long)v[i].n, v[i].out);
    }
    ok(MIME_B64_LEN(0) == 0 && MIME_B64_LEN(1) == 4 && MIME_B64_LEN(3) == 4 &&
           MIME_B64_LEN(4) == 8 && MIME_B64_LEN(300) == 400,
       "MIME_B64_LEN");
}

static void every_byte(void)
{
    int b, all = 1;
    for (b = 0; b < 256; b++) {
        unsigned char in[3], back[8];
        char res[8];
        size_t n;
        for (n = 1; n <= 3; n++) {
            size_t w;
            long d;
            memset(in, b, sizeof in);
            w = enc(in, n, res);
            d = decode(res, w, back);
            if (w != MIME_B64_LEN(n) || d != (long)n || memcmp(back, in, n) != 0) {
                if (all)
                    diag("byte 0x%02X repeated %lu times", b, (unsigned long)n);
                all = 0;
            }
        }
    }
    ok(all, "every byte value, 1-3 times: decodes back");
}

static void random_lengths(void)
{
    static unsigned char in[512], back[512];
    static char res[1024], parts[1024];
    size_t n;
    int all_len = 1, all_rt = 1, all_split = 1;
    for (n = 0; n <= 300; n++) {
        size_t k, w, off, pl;
        long d;
        for (k = 0; k < n; k++)
            in[k] = (unsigned char)tap_below(256);
        w = enc(in, n, res);
        if (w != MIME_B64_LEN(n)) {
            if (all_len)
                diag("length %lu: wrote %lu", (unsigned long)n, (unsigned long)w);
            all_len = 0;
            continue;
        }
        d = decode(res, w, back);
        if (d != (long)n || memcmp(back, in, n) != 0) {
            if (all_rt)
                diag("length %lu: does not decode back", (unsigned long)n);
            all_rt = 0;
        }
        /* split at random multiples of 3 */
        for (off = 0, pl = 0; off < n;) {
            size_t chunk = 3 * (1 + tap_below(8));
            if (chunk > n - off || tap_below(5) == 0)
                chunk = n - off;
            pl += enc(in + off, chunk, parts + pl);
            off += chunk;
        }
        if (pl != w || memcmp(parts, res, w) != 0) {
            if (all_split)
                diag("length %lu: split encoding differs", (unsigned long)n);
            all_split = 0;
        }
    }
    ok(all_len, "lengths 0..300: output is MIME_B64_LEN(n) bytes");
    ok(all_rt, "lengths 0..300 of random data: the independent decoder gives it back");
    ok(all_split, "lengths 0..300: encoding at 3-byte boundaries concatenates");
}

int main(void)
{
    tap_seed();
    guard_init(&g_in, 4096);
    guard_init(&g_out, 4096);
    vectors();
    every_byte();
    random_lengths();
    guard_free(&g_in);
    guard_free(&g_out);
    return done_testing();
}
