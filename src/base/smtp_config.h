/*
 * smtp_config.h -- compile-time limits of the smtp-native engines.
 *
 * Every buffer that the peer (or the caller) can grow has a hard bound here.
 * Exceeding a bound is a clean error code, never a reallocation. Each limit
 * can be overridden at build time (-DSMTP_REPLY_LINE_MAX=2048).
 */
#ifndef SMTP_CONFIG_H
#define SMTP_CONFIG_H

/* Longest reply line accepted, CRLF included (RFC 5321 4.5.3.1.5 asks for
 * 512; 4.5.3.1.6 allows text lines of 1000, which is what servers send). */
#ifndef SMTP_REPLY_LINE_MAX
#define SMTP_REPLY_LINE_MAX 1000
#endif

/* Most lines in one multi-line reply (a long EHLO reply has ~20). */
#ifndef SMTP_REPLY_LINES_MAX
#define SMTP_REPLY_LINES_MAX 100
#endif

/* Most bytes kept of one reply: its lines joined by "\n", without CRLF. */
#ifndef SMTP_REPLY_MAX
#define SMTP_REPLY_MAX 8192
#endif

/* Bytes read from the peer and not yet parsed (pipelined replies). The
 * driver never reads more than the free space, so this bounds each read. */
#ifndef SMTP_IN_MAX
#define SMTP_IN_MAX 4096
#endif

/* Output block: queued commands, or body bytes held back so that the last
 * ones leave together with the end-of-data marker. */
#ifndef SMTP_OUT_MAX
#define SMTP_OUT_MAX 16384
#endif

/* Longest command line we format, CRLF included. RFC 5321 4.5.3.1.4 asks
 * for 512; AUTH with a long initial response may need more (RFC 4954 4:
 * 12288), so the bound is per command kind, see smtp_cmd.c. */
#ifndef SMTP_CMD_MAX
#define SMTP_CMD_MAX 512
#endif
#ifndef SMTP_AUTH_CMD_MAX
#define SMTP_AUTH_CMD_MAX 12288
#endif

/* Commands sent and not yet answered (PIPELINING, RFC 2920). */
#ifndef SMTP_PIPELINE_MAX
#define SMTP_PIPELINE_MAX 64
#endif

/* Capabilities kept from the EHLO reply (keywords and parameters). */
#ifndef SMTP_CAPS_MAX
#define SMTP_CAPS_MAX 2048
#endif

/* Longest credential (user name, password) accepted for AUTH. */
#ifndef SMTP_CRED_MAX
#define SMTP_CRED_MAX 4096
#endif

#endif
