/*
 * test_host.c -- smtp_host: certificate names against the server's host
 * (RFC 6125 6.4): IP literals, DNS names, wildcards, what must never
 * match, and which field of a certificate counts (SAN before CN). Every
 * case runs with its inputs against a guard page, so a read past either
 * string is a crash; IP parsing is also cross-checked with inet_pton on
 * random and mutated addresses.
 *
 * Engines: smtp_host.c
 */
#include "guard.h" /* first: it sets the feature macros */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "smtp/smtp_host.h"

static guard g_a, g_b;

static int match(const char *p, const char *h)
{
    const char *gp = guard_put(&g_a, p, strlen(p));
    const char *gh = guard_put(&g_b, h, strlen(h));
    return smtp_host_match(gp, strlen(p), gh, strlen(h));
}

static size_t ip(const char *s, unsigned char out[16])
{
    return smtp_host_ip(guard_put(&g_a, s, strlen(s)), strlen(s), out);
}

static void match_cases(void)
{
    static const struct {
        const char *pattern, *host;
        int want;
    } c[] = {
        {"localhost", "localhost", 1},
        {"mail.example.com", "MAIL.Example.COM", 1},
        {"mail.example.com.", "mail.example.com", 1},
        {"mail.example.com", "mail.example.com.", 1},
        {"mail.example.com", "mail.example.co", 0},
        {"mail.example.com", "ail.example.com", 0},
        {"mail.example.com", "xmail.example.com", 0},
        {"mail.example.com", "mail.example.com.evil.test", 0}, /* a prefix of the host: no */
        {"example.com", "example.company", 0},
        {"*.example.com", "mail.example.com", 1},
        {"*.example.com", "MAIL.EXAMPLE.com", 1},
        {"*.example.com", "example.com", 0},         /* one label, not none */
        {"*.example.com", "a.b.example.com", 0},     /* one label, not two */
        {"*.example.com", ".example.com", 0},
        {"*.example.com", "mail.example.org", 0},
        {"*.example.com", "xn--bcher-kva.example.com", 0}, /* A-labels: never */
        {"xn--bcher-kva.example.com", "XN--BCHER-KVA.example.com", 1},
        {"*.com", "example.com", 0},                 /* too wide */
        {"*", "localhost", 0},
        {"*.", "a.", 0},
        {"f*.example.com", "foo.example.com", 0},    /* partial wildcards: no */
        {"*o.example.com", "foo.example.com", 0},
        {"*oexample.com", "f.example.com", 0},       /* "*" glued to the rest: no */
        {"*x.example.com", "a.x.example.com", 0},
        {"mail.*.example", "mail.x.example", 0},     /* not left-most: no */
        {"*.*.example.com", "a.b.example.com", 0},
        {"**.example.com", "a.example.com", 0},
        {"*.example.com", "*.example.com", 0},
        {"", "localhost", 0},
        {"localhost", "", 0},
        {"a..example.com", "a..example.com", 0},     /* empty label */
        {".example.com", ".example.com", 0},
        {"127.0.0.1", "127.0.0.1", 1},               /* DNS-ID compare: the caller
                                                        never asks it for an IP */
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++)
        ok(match(c[i].pattern, c[i].host) == c[i].want, "\"%s\" %s \"%s\"", c[i].pattern,
           c[i].want ? "matches" : "does not match", c[i].host);
    {
        /* a NUL inside a name (the classic certificate trick) never matches */
        const char p[] = "mail.example.com\0.evil.test";
        ok(!smtp_host_match(p, sizeof p - 1, "mail.example.com", 16),
           "a pattern with a NUL does not match the name before the NUL");
    }
    {
        char longl[80], host[80];
        memset(longl, 'a', 64);
        memcpy(longl + 64, ".example", 9);
        memcpy(host, longl, sizeof longl);
        ok(!match(longl, host), "a 64-character label is not a name");
    }
}

static void ip_cases(void)
{
    static const struct {
        const char *s;
        size_t n;
        const char *bytes;
    } c[] = {
        {"127.0.0.1", 4, "\x7f\0\0\x01"},
        {"0.0.0.0", 4, "\0\0\0\0"},
        {"255.255.255.255", 4, "\xff\xff\xff\xff"},
        {"::1", 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"},
        {"[::1]", 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"},
        {"::", 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"},
        {"1::", 16, "\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0"},
        {"2001:db8::ff00:42:8329", 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\xff\0\0\x42\x83\x29"},
        {"2001:DB8:0:0:0:0:0:1", 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"},
        {"::ffff:192.0.2.1", 16, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\0\x02\x01"},
        {"256.0.0.1", 0, NULL},
        {"1.2.3", 0, NULL},
        {"1.2.3.4.5", 0, NULL},
        {"01.2.3.4", 0, NULL},
        {"1.2.3.4 ", 0, NULL},
        {"localhost", 0, NULL},
        {"1.2.3.a", 0, NULL},
        {"", 0, NULL},
        {":::", 0, NULL},
        {"1::2::3", 0, NULL},
        {"1:2:3:4:5:6:7:8:9", 0, NULL},
        {"1:2:3:4:5:6:7::8", 0, NULL}, /* "::" standing for nothing */
        {"12345::", 0, NULL},
        {":1::", 0, NULL},
        {"1:", 0, NULL},
        {"[1.2.3.4]", 0, NULL},
        {"::1.2.3.4.5", 0, NULL},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        unsigned char out[16];
        size_t n = ip(c[i].s, out);
        ok(n == c[i].n && (n == 0 || memcmp(out, c[i].bytes, n) == 0), "ip \"%s\" -> %lu bytes",
           c[i].s, (unsigned long)c[i].n);
    }
}

/* Agreement with inet_pton on random addresses, printed and mutated. */
static void ip_random(void)
{
    static const char alphabet[] = "0123456789abcdefABCDEF:.[]";
    int i, agree = 1;
    for (i = 0; i < 20000; i++) {
        unsigned char bin[16], ours[16], ref[16];
        char text[64];
        size_t n, len, k;
        int v6 = tap_below(2), r;
        for (k = 0; k < 16; k++)
            bin[k] = (unsigned char)(tap_below(3) == 0 ? 0 : tap_below(256));
        if (inet_ntop(v6 ? AF_INET6 : AF_INET, bin, text, sizeof text) == NULL)
            continue;
        len = strlen(text);
        if (tap_below(2) == 0 && len > 0) { /* mutate a character */
            text[tap_below(len)] = alphabet[tap_below(sizeof alphabet - 1)];
        }
        n = ip(text, ours);
        r = inet_pton(v6 ? AF_INET6 : AF_INET, text, ref);
        if (r != 1) /* the other family, then */
            r = inet_pton(v6 ? AF_INET : AF_INET6, text, ref) == 1 ? (v6 ? 4 : 16) : 0;
        else
            r = v6 ? 16 : 4;
        if (strchr(text, '[') || strchr(text, ']'))
            r = 0; /* brackets: only around a whole address, not tested here */
        if ((size_t)r != n || (n > 0 && memcmp(ours, ref, n) != 0)) {
            /* glibc takes "1.2.3.04"-style leading zeros in IPv6's quad; we do not */
            if (!(r == 16 && n == 0 && strchr(text, '.') != NULL)) {
                if (agree)
                    diag("\"%s\": ours %lu, inet_pton %d", text, (unsigned long)n, r);
                agree = 0;
            }
        }
    }
    ok(agree, "IP parsing agrees with inet_pton on 20,000 random and mutated addresses");
}

static int names(smtp_host_field f, const char *name, const char *h)
{
    const char *gn = guard_put(&g_a, name, strlen(name));
    const char *gh = guard_put(&g_b, h, strlen(h));
    return smtp_host_name_matches(f, gn, strlen(name), gh, strlen(h));
}

/* Which field counts (SAN before CN), and one name of a field against a
 * host, as the binding asks for each name of a certificate. */
static void field_cases(void)
{
    static const struct {
        const char *host;
        size_t nsan;
        smtp_host_field want;
    } f[] = {
        {"mail.example.com", 0, SMTP_HOST_CN},
        {"mail.example.com", 1, SMTP_HOST_SAN_DNS},
        {"mail.example.com", 7, SMTP_HOST_SAN_DNS},
        {"192.0.2.1", 0, SMTP_HOST_SAN_IP},
        {"192.0.2.1", 3, SMTP_HOST_SAN_IP},
        {"::1", 0, SMTP_HOST_SAN_IP},
        {"[2001:db8::1]", 2, SMTP_HOST_SAN_IP},
        {"192.0.2.256", 0, SMTP_HOST_CN}, /* not an address: a name */
        {"192.0.2.256", 1, SMTP_HOST_SAN_DNS},
        {"", 0, SMTP_HOST_CN},
    };
    size_t i;
    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        const char *h = guard_put(&g_b, f[i].host, strlen(f[i].host));
        is_int(smtp_host_field_for(h, strlen(f[i].host), f[i].nsan), f[i].want,
               "field for \"%s\" with %zu subjectAltNames", f[i].host, f[i].nsan);
    }

    /* IP names: the same bytes, whatever the text */
    ok(names(SMTP_HOST_SAN_IP, "192.0.2.1", "192.0.2.1"), "ip: same text");
    ok(names(SMTP_HOST_SAN_IP, "2001:db8::1", "[2001:DB8:0:0::1]"), "ip: same address, other text");
    ok(names(SMTP_HOST_SAN_IP, "::ffff:192.0.2.1", "::ffff:c000:201"), "ip: dotted quad in v6");
    ok(!names(SMTP_HOST_SAN_IP, "192.0.2.1", "192.0.2.2"), "ip: another address");
    ok(!names(SMTP_HOST_SAN_IP, "192.0.2.1", "::ffff:192.0.2.1"), "ip: v4 is not v4-mapped v6");
    ok(!names(SMTP_HOST_SAN_IP, "mail.example.com", "mail.example.com"),
       "ip: a name in the iPAddress field matches nothing");
    ok(!names(SMTP_HOST_SAN_IP, "", ""), "ip: empty matches nothing");
    ok(!names(SMTP_HOST_SAN_IP, "192.0.2.1", "192.0.2.1x"), "ip: host not an address");
    /* DNS and CN: the DNS-ID rules */
    ok(names(SMTP_HOST_SAN_DNS, "*.example.com", "mail.example.com"), "dns: wildcard");
    ok(names(SMTP_HOST_CN, "Mail.Example.com.", "mail.example.com"), "cn: case, trailing dot");
    ok(!names(SMTP_HOST_SAN_DNS, "*.com", "example.com"), "dns: no wildcard over one label");
    ok(!names(SMTP_HOST_CN, "192.0.2.1", "192.0.2.10"), "cn: text, not a prefix");
}

int main(void)
{
    tap_seed();
    guard_init(&g_a, 512);
    guard_init(&g_b, 512);
    match_cases();
    ip_cases();
    ip_random();
    field_cases();
    guard_free(&g_a);
    guard_free(&g_b);
    return done_testing();
}
