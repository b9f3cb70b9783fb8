/*
 * smtp_host.h -- does a server certificate name the host we connected to?
 * (RFC 6125 6.4, RFC 9525; what LuaSec leaves to its caller.)
 *
 * A host given as an IP address literal matches only iPAddress names, byte
 * for byte. A host name matches dNSName names: ASCII case-insensitive, a
 * trailing dot ignored on either side; "*" matches one non-empty label and
 * only as the whole left-most label of a pattern with at least two more
 * labels after it ("*.example.com", never "*.com", "f*.example.com",
 * "mail.*.example" or "*"); IDN A-labels ("xn--") are compared as the
 * ASCII they are, and a wildcard does not match one. The subject's CN is
 * used only by a certificate with no subjectAltName at all (the caller
 * decides that; smtp_host_match is the same test for a CN).
 */
#ifndef SMTP_HOST_H
#define SMTP_HOST_H

#include <stddef.h>

/* s[0..n) as an IP address: "1.2.3.4" (four decimal parts 0-255, no
 * leading zeros) or an IPv6 text form (RFC 4291 2.2, "::" and a trailing
 * dotted quad allowed, optionally in brackets). Writes 4 or 16 bytes to
 * out and returns 4 or 16; 0 when s is not an address. */
size_t smtp_host_ip(const char *s, size_t n, unsigned char out[16]);

/* 1 when the DNS-ID pattern p[0..pn) matches host h[0..hn), else 0. */
int smtp_host_match(const char *p, size_t pn, const char *h, size_t hn);

#endif
