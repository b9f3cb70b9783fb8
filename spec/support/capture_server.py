#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for the smtp-native specs.

It accepts mail on 127.0.0.1 and captures everything to files in --dir:

  DIR/port               the TCP port, written once listening
  DIR/msg-NNNN.json      one per accepted message (NNNN from 0001)
  DIR/session-NNNN.bin   the exact bytes each client sent (NNNN from 0001)

Every file that readers poll for (port, msg-*.json) is written to a temporary
name first and renamed into place, so a reader never sees a partial file.
session-*.bin is appended to (and flushed) as bytes arrive.

A connection gets its session number when it sends its first byte: a bare
connect-and-close (such as the helper's readiness probe) is not a session.

Run with /usr/bin/python3 (the Debian Python that has aiosmtpd).
"""

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import sys

from aiosmtpd.smtp import SMTP

from servercommon import startup, write_atomic, write_port


class State:
    """Counters shared by all connections of this server."""

    def __init__(self, args):
        self.args = args
        self.sessions = 0          # sessions numbered so far
        self.sessions_ended = 0    # numbered sessions whose connection closed
        self.messages = 0          # messages captured so far
        self.stop = None           # asyncio.Event, set to shut down


class CaptureSMTP(SMTP):
    """aiosmtpd's SMTP protocol, recording the raw bytes of the session."""

    def __init__(self, state, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.capture_state = state
        self.session_no = None
        self.session_file = None

    def data_received(self, data):
        if self.session_file is None:
            st = self.capture_state
            st.sessions += 1
            self.session_no = st.sessions
            path = os.path.join(st.args.dir,
                                "session-{:04d}.bin".format(self.session_no))
            self.session_file = open(path, "ab")
        self.session_file.write(data)
        self.session_file.flush()
        super().data_received(data)

    def connection_lost(self, error):
        try:
            super().connection_lost(error)
        finally:
            if self.session_file is not None:
                self.session_file.close()
                self.session_file = None
                st = self.capture_state
                st.sessions_ended += 1
                limit = st.args.max_sessions
                if limit and st.sessions_ended >= limit and st.stop:
                    st.stop.set()


class Handler:
    """aiosmtpd hooks: rejections on demand, capture on end of data."""

    def __init__(self, state):
        self.state = state
        args = state.args
        self.reject_rcpt = re.compile(args.reject_rcpt) if args.reject_rcpt else None
        self.reject_mail = re.compile(args.reject_mail) if args.reject_mail else None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self.state.args.ehlo_unsupported:
            # Leave host_name unset: MAIL gets 503 until a HELO succeeds.
            session.extended_smtp = False
            return ["502 5.5.2 EHLO not supported"]
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        return "250 {}".format(server.hostname)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.reject_mail and self.reject_mail.search(address):
            return "553 5.1.8 sender refused"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt and self.reject_rcpt.search(address):
            return "550 5.1.1 <{}>: no such user".format(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    def more_fields(self, server, session):
        """Fields a subclass adds to each message's record (tls_server.py)."""
        return {}

    async def handle_DATA(self, server, session, envelope):
        st = self.state
        if st.args.reject_data:
            return "554 5.6.0 message refused"
        st.messages += 1
        seq = st.messages
        record = {
            "seq": seq,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "data_b64": base64.b64encode(envelope.original_content).decode("ascii"),
            "session": server.session_no,
            "helo": session.host_name,
        }
        record.update(self.more_fields(server, session))
        path = os.path.join(st.args.dir, "msg-{:04d}.json".format(seq))
        write_atomic(path, json.dumps(record, indent=1).encode("utf-8"))
        return "250 2.0.0 OK captured as msg-{:04d}".format(seq)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, help="capture directory")
    p.add_argument("--port", type=int, default=0, help="0: the kernel picks")
    p.add_argument("--reject-rcpt", metavar="REGEX",
                   help="550 to RCPT addresses matching REGEX (re.search)")
    p.add_argument("--reject-mail", metavar="REGEX",
                   help="553 to MAIL addresses matching REGEX (re.search)")
    p.add_argument("--reject-data", action="store_true",
                   help="554 at end of data")
    p.add_argument("--ehlo-unsupported", action="store_true",
                   help="502 to EHLO (HELO still works)")
    p.add_argument("--max-sessions", type=int, default=0, metavar="N",
                   help="exit once N sessions have ended (0: never)")
    p.add_argument("--watch-pid", type=int, default=0, metavar="PID",
                   help="exit when process PID (the test runner) is gone")
    return p.parse_args(argv)


async def serve(args):
    loop = asyncio.get_running_loop()
    state = State(args)
    state.stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, state.stop.set)
    handler = Handler(state)

    def factory():
        return CaptureSMTP(state, handler, hostname="capture.smtp-native.test",
                           ident="smtp-native capture_server", loop=loop)

    server = await loop.create_server(factory, host="127.0.0.1", port=args.port)
    port = server.sockets[0].getsockname()[1]
    write_port(args.dir, port)
    await state.stop.wait()
    server.close()


def main(argv):
    asyncio.run(serve(startup(parse_args, argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
