#!/usr/bin/python3
"""A real SMTP server with TLS and AUTH (aiosmtpd) for the smtp-native specs.

  /usr/bin/python3 tls_server.py --dir DIR [--tls starttls|implicit|none]
      [--cert FILE --key FILE] [--require-starttls]
      [--user NAME --password SECRET] [--auth-require-tls yes|no]
      [--auth-required] [--auth-mechanisms PLAIN,LOGIN[,CRAM-MD5]]
      [--client-ca FILE --verify-client none|optional|required]
      [--tls-min 1.0|1.1|1.2|1.3] [--tls-max 1.0|1.1|1.2|1.3]
      [capture_server.py options: --reject-rcpt RE, --reject-mail RE,
       --reject-data, --ehlo-unsupported, --max-sessions N, --watch-pid PID]

Listens on 127.0.0.1 (kernel-chosen port unless --port). Once listening it
writes the port to DIR/port (atomically, as capture_server.py does) and
prints "PORT <n>" on stdout.

TLS modes:
  starttls  STARTTLS is offered in EHLO before TLS (the default).
            --require-starttls: every command but EHLO/HELO/NOOP/QUIT/
            STARTTLS gets "530 Must issue a STARTTLS command first".
  implicit  SMTPS: TLS from the first byte (port-465 style). No STARTTLS.
  none      plain text only.
--tls-min/--tls-max bound the versions served; 1.0 and 1.1 (a server that
stops below TLS 1.2, for the specs that check that clients refuse it) also
lower OpenSSL's security level to 0, without which OpenSSL 3 never speaks them.
--cert/--key choose the certificate served (for example one made by
tls_certs.sh: localhost.pem, expired.pem, wrong_host.pem, ...).

AUTH: only when --user and --password are given (otherwise no AUTH line in
EHLO). Mechanisms PLAIN and LOGIN (aiosmtpd's own), and CRAM-MD5 (here) when
listed in --auth-mechanisms (default "PLAIN,LOGIN"; order is irrelevant,
EHLO lists them sorted). --auth-require-tls yes (default): AUTH is neither
advertised nor accepted before STARTTLS ("538 5.7.11 Encryption required").
In implicit mode the whole session is encrypted, so AUTH is always offered.
--auth-required: MAIL/RCPT/DATA need a successful AUTH first ("530 5.7.0").
Wrong credentials: "535 5.7.8 Authentication credentials invalid".

Capture (the capture_server.py format, so H.capture's readers work):
  DIR/port                    the port, once listening
  DIR/msg-NNNN.json           one per message: seq, mail_from, rcpt_tos,
                              mail_options, rcpt_options, data_b64, session,
                              helo, plus: tls (true/false), auth_login (the
                              authenticated user or null), auth_mechanism
  DIR/session-NNNN.bin        every byte the client sent, as the SMTP layer
                              saw it: clear text before TLS, then the
                              DECRYPTED bytes after the handshake
  DIR/session-NNNN.clear.bin  only the bytes that arrived in clear text
                              (before STARTTLS completed; empty for implicit)
  DIR/session-NNNN.tls.json   written once the handshake is done: version,
                              cipher, sni (server name the client sent, or
                              null), client_cert (subject CN, or null), mode
Sessions are numbered at the first byte the client sends, as in
capture_server.py (a connect-and-close probe is not a session). Bytes the
client sends in clear text after STARTTLS and before the handshake are
fed to the TLS layer and are NOT recorded (aiosmtpd discards buffered clear
text at the switch, RFC 3207 section 4.2).

Run with /usr/bin/python3 (the Debian Python that has aiosmtpd).
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import os
import signal
import ssl
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_server as cs  # noqa: E402  (same directory)
from servercommon import startup, write_atomic, write_port  # noqa: E402

from aiosmtpd.smtp import MISSING, AuthResult  # noqa: E402

BUILTIN_MECHANISMS = ("PLAIN", "LOGIN")
EXTRA_MECHANISMS = ("CRAM-MD5",)


class TlsCaptureSMTP(cs.CaptureSMTP):
    """CaptureSMTP plus TLS bookkeeping (clear-text bytes, handshake info)."""

    def __init__(self, state, *args, implicit=False, **kwargs):
        super().__init__(state, *args, **kwargs)
        self.implicit = implicit
        self.clear_file = None
        self.tls_info = None
        self.tls_written = False

    def tls_active(self):
        return self.implicit or self._original_transport is not None

    def connection_made(self, transport):
        super().connection_made(transport)
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is None or self.tls_info is not None:
            return
        cert = transport.get_extra_info("peercert") or {}
        client_cn = None
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    client_cn = value
        self.tls_info = {
            "mode": "implicit" if self.implicit else "starttls",
            "version": sslobj.version(),
            "cipher": (sslobj.cipher() or (None,))[0],
            "sni": getattr(sslobj, "smtp_native_sni", None),
            "client_cert": client_cn,
        }
        self.write_tls_info()

    def write_tls_info(self):
        if self.tls_written or self.tls_info is None or self.session_no is None:
            return
        self.tls_written = True
        path = os.path.join(self.capture_state.args.dir,
                            "session-{:04d}.tls.json".format(self.session_no))
        write_atomic(path, json.dumps(self.tls_info, indent=1).encode("utf-8"))

    def data_received(self, data):
        clear = not self.tls_active()
        super().data_received(data)          # numbers the session, records
        if self.clear_file is None and self.session_no is not None:
            path = os.path.join(self.capture_state.args.dir,
                                "session-{:04d}.clear.bin".format(self.session_no))
            self.clear_file = open(path, "ab")
        if clear:
            self.clear_file.write(data)
            self.clear_file.flush()
        self.write_tls_info()

    def connection_lost(self, error):
        try:
            super().connection_lost(error)
        finally:
            if self.clear_file is not None:
                self.clear_file.close()
                self.clear_file = None


class TlsHandler(cs.Handler):
    """capture_server's Handler plus AUTH and TLS facts in the capture."""

    def __init__(self, state):
        super().__init__(state)
        args = state.args
        self.user = args.user.encode("utf-8") if args.user is not None else None
        self.password = args.password.encode("utf-8") if args.password is not None else None

    # (No other "auth_" names on this class: aiosmtpd turns every auth_X
    # member of the handler into an AUTH mechanism X.)
    @property
    def has_credentials(self):
        return self.user is not None and self.password is not None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        responses = await super().handle_EHLO(server, session, envelope, hostname, responses)
        if not self.has_credentials:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        """aiosmtpd authenticator for PLAIN and LOGIN (LoginPassword data)."""
        ok = (self.has_credentials
              and hmac.compare_digest(auth_data.login, self.user)
              and hmac.compare_digest(auth_data.password, self.password))
        if ok:
            session.auth_mechanism = mechanism
            session.auth_login = self.user.decode("utf-8", "replace")
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    # aiosmtpd maps auth_CRAM__MD5 to the mechanism name "CRAM-MD5".
    async def auth_CRAM__MD5(self, server, args):
        if len(args) != 1:
            await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = "<{}.{}@localhost>".format(os.getpid(), time.time_ns())
        response = await server.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False, handled=True)
        login, _, digest = response.rpartition(b" ")
        ok = False
        if self.has_credentials and hmac.compare_digest(login, self.user):
            expect = hmac.new(self.password, challenge.encode(), hashlib.md5).hexdigest()
            ok = hmac.compare_digest(digest, expect.encode())
        if not ok:
            return AuthResult(success=False, handled=False)
        server.session.auth_mechanism = "CRAM-MD5"
        server.session.auth_login = self.user.decode("utf-8", "replace")
        return AuthResult(success=True, auth_data=login)

    def more_fields(self, server, session):
        login = getattr(session, "auth_login", None) if session.authenticated else None
        return {
            "tls": server.tls_active(),
            "auth_login": login,
            "auth_mechanism": getattr(session, "auth_mechanism", None) if login else None,
        }


TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
# Retired versions (RFC 8996), for a server that stops below TLS 1.2: the
# specs check that clients refuse it. OpenSSL 3 speaks them only at
# security level 0 (their handshake signs with SHA-1/MD5).
OLD_VERSIONS = {"1.0": "TLSv1", "1.1": "TLSv1_1"}


def tls_version(name):
    if name in OLD_VERSIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return getattr(ssl.TLSVersion, OLD_VERSIONS[name])
    return TLS_VERSIONS[name]


def make_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    old = args.tls_max in OLD_VERSIONS or args.tls_min in OLD_VERSIONS
    if old:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if args.tls_min:
            ctx.minimum_version = tls_version(args.tls_min)
        elif old:
            ctx.minimum_version = tls_version("1.0")
        if args.tls_max:
            ctx.maximum_version = tls_version(args.tls_max)
    if args.verify_client != "none":
        if not args.client_ca:
            raise SystemExit("--verify-client needs --client-ca")
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = (ssl.CERT_REQUIRED if args.verify_client == "required"
                           else ssl.CERT_OPTIONAL)

    def remember_sni(sslobj, server_name, _ctx):
        # Note the name the client asked for; the handshake goes on.
        try:
            sslobj.smtp_native_sni = server_name
        except AttributeError:
            pass
        return None
    ctx.sni_callback = remember_sni
    return ctx


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, help="capture directory")
    p.add_argument("--port", type=int, default=0, help="0: the kernel picks")
    p.add_argument("--tls", choices=("starttls", "implicit", "none"), default="starttls")
    p.add_argument("--cert", help="server certificate (PEM)")
    p.add_argument("--key", help="server private key (PEM)")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--auth-require-tls", choices=("yes", "no"), default="yes")
    p.add_argument("--auth-required", action="store_true")
    p.add_argument("--auth-mechanisms", default="PLAIN,LOGIN",
                   help="comma-separated subset of PLAIN, LOGIN, CRAM-MD5")
    p.add_argument("--client-ca", help="CA file for client certificates")
    p.add_argument("--verify-client", choices=("none", "optional", "required"),
                   default="none")
    p.add_argument("--tls-min", choices=sorted(TLS_VERSIONS) + sorted(OLD_VERSIONS))
    p.add_argument("--tls-max", choices=sorted(TLS_VERSIONS) + sorted(OLD_VERSIONS))
    # capture_server.py's options (its Handler reads them)
    p.add_argument("--reject-rcpt", metavar="REGEX")
    p.add_argument("--reject-mail", metavar="REGEX")
    p.add_argument("--reject-data", action="store_true")
    p.add_argument("--ehlo-unsupported", action="store_true")
    p.add_argument("--max-sessions", type=int, default=0, metavar="N")
    p.add_argument("--watch-pid", type=int, default=0, metavar="PID")
    args = p.parse_args(argv)
    if args.tls != "none" and not (args.cert and args.key):
        p.error("--tls {} needs --cert and --key".format(args.tls))
    wanted = [m.strip().upper() for m in args.auth_mechanisms.split(",") if m.strip()]
    for m in wanted:
        if m not in BUILTIN_MECHANISMS + EXTRA_MECHANISMS:
            p.error("unknown AUTH mechanism " + m)
    args.auth_mechanisms = wanted
    return args


async def serve(args):
    loop = asyncio.get_running_loop()
    state = cs.State(args)
    state.stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, state.stop.set)
    handler = TlsHandler(state)
    ctx = make_context(args) if args.tls != "none" else None
    implicit = args.tls == "implicit"
    exclude = [m for m in BUILTIN_MECHANISMS + EXTRA_MECHANISMS
               if m not in args.auth_mechanisms]

    def factory():
        return TlsCaptureSMTP(
            state, handler, hostname="tls.smtp-native.test",
            ident="smtp-native tls_server", loop=loop,
            implicit=implicit,
            tls_context=ctx if args.tls == "starttls" else None,
            require_starttls=args.require_starttls,
            # Under implicit TLS everything is encrypted already.
            auth_require_tls=(args.auth_require_tls == "yes" and not implicit),
            auth_required=args.auth_required,
            auth_exclude_mechanism=exclude,
            authenticator=handler.authenticator)

    server = await loop.create_server(
        factory, host="127.0.0.1", port=args.port,
        ssl=ctx if implicit else None,
        ssl_handshake_timeout=10 if implicit else None)
    port = server.sockets[0].getsockname()[1]
    write_port(args.dir, port)
    print("PORT {}".format(port), flush=True)
    await state.stop.wait()
    server.close()


class DropDeprecation(logging.Filter):
    """aiosmtpd 1.4 warns about its own use of Session.login_data."""

    def filter(self, record):
        return "login_data is deprecated" not in record.getMessage()


def main(argv):
    args = startup(parse_args, argv)
    logging.getLogger("mail.log").addFilter(DropDeprecation())
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
