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
 * used only by a certificate with no subjectAltName at all
 * (smtp_host_field says which of the three fields counts).
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

/* The fields of a certificate that hold names. */
typedef enum {
    SMTP_HOST_SAN_DNS, /* subjectAltName dNSName */
    SMTP_HOST_SAN_IP,  /* subjectAltName iPAddress, as text */
    SMTP_HOST_CN       /* the subject's commonName */
} smtp_host_field;

/* The one field whose names count for host h[0..hn) on a certificate
 * that holds nsan subjectAltNames (dNSName and iPAddress together): an IP
 * host, iPAddress only; a host name, dNSName when nsan > 0, and the CN
 * only when there is no subjectAltName at all (RFC 6125 6.4.4). */
smtp_host_field smtp_host_field_for(const char *h, size_t hn, size_t nsan);

/* 1 when the name s[0..n) of field f names host h[0..hn): for
 * SMTP_HOST_SAN_IP both are IP addresses (smtp_host_ip) with the same
 * bytes, otherwise smtp_host_match. */
int smtp_host_name_matches(smtp_host_field f, const char *s, size_t n, const char *h,
                           size_t hn);

#endif
