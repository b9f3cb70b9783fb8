#!/usr/bin/python3
"""A scripted, possibly hostile, SMTP peer for the smtp-native specs.

  /usr/bin/python3 scripted_server.py --script FILE.json --dir DIR

Listens on 127.0.0.1 (kernel-chosen port, written atomically to DIR/port)
and serves connections one at a time. Connection k follows script k when the
JSON is a list of step lists (the last list is reused once they run out), or
the single list when it is a list of steps.

Steps (JSON objects):
  {"send": "text", "split": n, "gap": s}  send latin-1 bytes, optionally in
                                          n-byte pieces s seconds apart
  {"expect": "PREFIX", "count": n}        read n lines (default 1); a line not
                                          starting with PREFIX (case-insensitive)
                                          is noted in DIR/errors
  {"data": true}                          read up to and including the
                                          end-of-data line ".\\r\\n"
  {"sleep": s}                            pause
  {"close": true}                         close now (FIN): what already
                                          arrived is read first
  {"close": true, "unread": true}         close without reading what
                                          arrived (the kernel then answers
                                          with RST, as a server that gives
                                          up in the middle of the content)
  {"read": n}                             read n bytes, whatever they are
                                          (e.g. the first n of the content)
  {"reset_close": true}                   close with RST (SO_LINGER 0)
  {"hang": true}                          read and record until the client closes
  {"flood": n}                            send n bytes of "A", no line end
  {"read_all": true}                      read and record until the client closes
  {"starttls": {"cert": FILE, "key": FILE, "tls_max": "1.2"}}
                                          the server side of a TLS handshake
                                          on this connection (Python's ssl);
                                          the later steps run over TLS.
                                          Clear-text bytes the client sent
                                          after its last line and before the
                                          handshake are noted in DIR/errors
                                          and dropped (RFC 3207 4.2)
  {"scram": "SCRAM-SHA-256", "user": U, "password": P, "final": F,
   "salt": B64, "iterations": N, "nonce": TEXT, "error": TEXT}
                                          the server side of a SCRAM
                                          exchange (SCRAM-SHA-1 too): reads
                                          "AUTH <mech> [initial response]"
                                          (answers "334 " when there is
                                          none), sends server-first, reads
                                          client-final and checks its proof
                                          (a wrong one, another user or
                                          nonce is noted in DIR/errors).
                                          Then, by F: "v" (default) sends
                                          334 with the right v=, "wrong_v"
                                          with a wrong one, "e" sends 334
                                          with e=ERROR (default
                                          "invalid-proof"), "none" sends
                                          nothing. The reply that ends the
                                          exchange (235, 535, ...) is a later
                                          step. Defaults: salt base64 of
                                          "smtp-native-salt", 4096
                                          iterations, nonce "srvNONCE42"

After the last step the connection is closed, unless that step is "hang".

Output, per connection N (from 1):
  DIR/conn-N.bin   every byte received, appended and flushed as it arrives
                   (after a "starttls" step: the decrypted bytes)
  DIR/conn-N.clear.bin  only the bytes received in clear text (all of them
                   when there was no "starttls" step)
  DIR/tls-N.json   after a "starttls" handshake: {"version", "cipher",
                   "sni" (the name the client sent, or null)}
  DIR/done-N       written when the connection is over: "completed" or
                   "aborted at step K (kind): reason"
  DIR/errors       one line per deviation from the script (all connections)
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import ssl
import struct
import sys
import time

from servercommon import startup, write_atomic, write_port


class ClientClosed(Exception):
    """The client closed (or reset) the connection."""


class Connection:
    """One accepted client: a read buffer plus the on-disk transcript."""

    def __init__(self, sock, number, directory):
        self.sock = sock
        self.number = number
        self.dir = directory
        self.buf = bytearray()
        self.scan = 0        # buf[:scan] is known to contain no LF
        self.record = open(os.path.join(directory, "conn-{}.bin".format(number)), "ab")
        self.clear_record = open(os.path.join(directory, "conn-{}.clear.bin".format(number)), "ab")

    def note_error(self, text):
        with open(os.path.join(self.dir, "errors"), "a", encoding="utf-8") as f:
            f.write("conn {}: {}\n".format(self.number, text))

    def recv_more(self):
        """Read what the client sent next into the buffer; record it."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            raise ClientClosed()
        self.record.write(data)
        self.record.flush()
        if self.clear_record is not None:
            self.clear_record.write(data)
            self.clear_record.flush()
        self.buf += data

    def readline(self):
        """One line, up to and including LF."""
        while True:
            i = self.buf.find(b"\n", self.scan)
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                self.scan = 0
                return line
            self.scan = len(self.buf)
            self.recv_more()

    def read_bytes(self, n):
        """Exactly n bytes (lines or not)."""
        while len(self.buf) < n:
            self.recv_more()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        self.scan = 0
        return data

    def read_until_closed(self):
        try:
            while True:
                self.recv_more()
        except ClientClosed:
            pass

    def drain(self):
        """Record whatever already arrived, without blocking. Closing a
        socket with unread input makes the kernel send RST instead of FIN,
        so a plain close drains first."""
        self.sock.setblocking(False)
        try:
            while True:
                self.recv_more()
        except (ClientClosed, BlockingIOError, OSError):
            pass

    def send(self, data, split=None, gap=0.02):
        if not split or split <= 0:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), split):
            if i:
                time.sleep(gap)
            self.sock.sendall(data[i:i + split])

    def close(self, reset=False, unread=False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        elif not unread:
            self.drain()
        self.sock.close()

    def start_tls(self, params):
        """The server side of a TLS handshake; later reads and writes go
        through TLS. Returns nothing; a failed handshake raises OSError."""
        if self.buf:
            self.note_error("clear text after the last line, before the TLS "
                            "handshake: {!r}".format(bytes(self.buf)))
            del self.buf[:]
            self.scan = 0
        self.clear_record.close()
        self.clear_record = None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(params["cert"], params["key"])
        versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        if params.get("tls_max"):
            ctx.maximum_version = versions[params["tls_max"]]
        sni = []
        ctx.sni_callback = lambda sslobj, name, _ctx: sni.append(name)
        self.sock.settimeout(10)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.note_error("TLS handshake failed: {}".format(e))
            raise
        self.sock.settimeout(None)
        info = {"version": self.sock.version(),
                "cipher": (self.sock.cipher() or (None,))[0],
                "sni": sni[0] if sni else None}
        write_atomic(os.path.join(self.dir, "tls-{}.json".format(self.number)),
                     json.dumps(info).encode("utf-8"))

    def finish(self, status):
        self.record.close()
        if self.clear_record is not None:
            self.clear_record.close()
        write_atomic(os.path.join(self.dir, "done-{}".format(self.number)),
                     (status + "\n").encode("utf-8"))


def step_kind(step):
    for key in ("send", "expect", "data", "read", "sleep", "close", "reset_close",
                "hang", "flood", "read_all", "starttls", "scram"):
        if key in step:
            return key
    return "unknown"


SCRAM_HASHES = {"SCRAM-SHA-1": hashlib.sha1, "SCRAM-SHA-256": hashlib.sha256}


def b64(data):
    return base64.b64encode(data).decode("ascii")


def scram_attrs(text):
    """'a=1,b=2' -> {"a": "1", "b": "2"} (values may contain '=')."""
    out = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        out[key] = value
    return out


def scram_server(conn, step):
    """The server side of SCRAM (RFC 5802), as the "scram" step says."""
    mech = step["scram"].upper()
    digest = SCRAM_HASHES[mech]
    line = conn.readline().decode("latin-1").rstrip("\r\n")
    words = line.split(" ")
    if len(words) < 2 or words[0].upper() != "AUTH" or words[1].upper() != mech:
        conn.note_error("expected 'AUTH {}', got {!r}".format(mech, line))
    if len(words) >= 3:
        initial = words[2]
    else:
        conn.send(b"334 \r\n")
        initial = conn.readline().decode("latin-1").rstrip("\r\n")
    client_first = base64.b64decode(initial).decode("utf-8")
    # gs2 header "n,," (no channel binding, no authzid) or "n,a=...,"
    cbind, authz, bare = client_first.split(",", 2)
    gs2 = cbind + "," + authz + ","
    attrs = scram_attrs(bare)
    if cbind != "n":
        conn.note_error("SCRAM gs2 header {!r}".format(gs2))
    if attrs.get("n") != step.get("user", "alice"):
        conn.note_error("SCRAM user {!r}".format(attrs.get("n")))
    cnonce = attrs.get("r", "")
    nonce = cnonce + step.get("nonce", "srvNONCE42")
    salt = base64.b64decode(step.get("salt", b64(b"smtp-native-salt")))
    iterations = int(step.get("iterations", 4096))
    server_first = "r={},s={},i={}".format(nonce, b64(salt), iterations)
    conn.send("334 {}\r\n".format(b64(server_first.encode("utf-8"))).encode("ascii"))
    line = conn.readline().decode("latin-1").rstrip("\r\n")
    if line == "*":
        conn.note_error("client cancelled SCRAM after server-first")
        return
    client_final = base64.b64decode(line).decode("utf-8")
    without_proof, _, proof = client_final.rpartition(",p=")
    fattrs = scram_attrs(without_proof)
    if fattrs.get("c") != b64(gs2.encode("utf-8")):
        conn.note_error("SCRAM channel binding {!r}".format(fattrs.get("c")))
    if fattrs.get("r") != nonce:
        conn.note_error("SCRAM nonce {!r}, sent {!r}".format(fattrs.get("r"), nonce))
    password = step.get("password", "S3cret!pw").encode("utf-8")
    salted = hashlib.pbkdf2_hmac(digest().name, password, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", digest).digest()
    stored_key = digest(client_key).digest()
    auth_message = ",".join((bare, server_first, without_proof)).encode("utf-8")
    client_sig = hmac.new(stored_key, auth_message, digest).digest()
    expected = bytes(a ^ b for a, b in zip(client_key, client_sig))
    if not hmac.compare_digest(base64.b64decode(proof), expected):
        conn.note_error("SCRAM client proof is wrong")
    server_key = hmac.new(salted, b"Server Key", digest).digest()
    server_sig = hmac.new(server_key, auth_message, digest).digest()
    final = step.get("final", "v")
    if final == "wrong_v":
        server_sig = bytes([server_sig[0] ^ 1]) + server_sig[1:]
    if final in ("v", "wrong_v"):
        text = "v=" + b64(server_sig)
    elif final == "e":
        text = "e=" + step.get("error", "invalid-proof")
    elif final == "none":
        return
    else:
        conn.note_error("unknown SCRAM final {!r}".format(final))
        return
    conn.send("334 {}\r\n".format(b64(text.encode("utf-8"))).encode("ascii"))


def run_step(conn, step):
    """Run one step. Returns "closed" if the connection is now closed."""
    kind = step_kind(step)
    if kind == "send":
        data = step["send"].encode("latin-1")
        conn.send(data, step.get("split"), step.get("gap", 0.02))
    elif kind == "expect":
        prefix = step["expect"].encode("latin-1").lower()
        for _ in range(step.get("count", 1)):
            try:
                line = conn.readline()
            except ClientClosed:
                conn.note_error("client closed while expecting {!r}".format(step["expect"]))
                raise
            if not line.lower().startswith(prefix):
                conn.note_error("expected {!r}, got {!r}".format(step["expect"], line))
    elif kind == "data":
        prev_crlf = True     # DATA's own line ended with CRLF
        while True:
            try:
                line = conn.readline()
            except ClientClosed:
                conn.note_error("client closed during data")
                raise
            if prev_crlf and line == b".\r\n":
                break
            prev_crlf = line.endswith(b"\r\n")
    elif kind == "read":
        try:
            conn.read_bytes(step["read"])
        except ClientClosed:
            conn.note_error("client closed after {} bytes of the {} to read".format(
                len(conn.buf), step["read"]))
            raise
    elif kind == "sleep":
        time.sleep(step["sleep"])
    elif kind == "close":
        conn.close(unread=step.get("unread", False))
        return "closed"
    elif kind == "reset_close":
        conn.close(reset=True)
        return "closed"
    elif kind in ("hang", "read_all"):
        conn.read_until_closed()
    elif kind == "starttls":
        conn.start_tls(step["starttls"])
    elif kind == "scram":
        scram_server(conn, step)
    elif kind == "flood":
        chunk = b"A" * 65536
        left = step["flood"]
        try:
            while left > 0:
                n = min(left, len(chunk))
                conn.sock.sendall(chunk[:n])
                left -= n
        except OSError:
            pass         # the client went away: stop quietly
    else:
        conn.note_error("unknown step {!r}".format(step))
    return None


def serve_connection(conn, steps):
    status = "completed"
    closed = False
    try:
        for k, step in enumerate(steps, 1):
            try:
                if run_step(conn, step) == "closed":
                    closed = True
                    break
            except (ClientClosed, OSError) as e:
                reason = "client closed" if isinstance(e, ClientClosed) else repr(e)
                status = "aborted at step {} ({}): {}".format(k, step_kind(step), reason)
                break
    finally:
        if not closed:
            try:
                conn.close()
            except OSError:
                pass
        conn.finish(status)


def load_scripts(path):
    with open(path, encoding="utf-8") as f:
        script = json.load(f)
    if not isinstance(script, list):
        raise SystemExit("script must be a JSON list")
    if script and all(isinstance(s, list) for s in script):
        return script
    return [script]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--script", required=True, help="JSON script file")
    p.add_argument("--dir", required=True, help="output directory")
    p.add_argument("--watch-pid", type=int, default=0, metavar="PID",
                   help="exit when process PID (the test runner) is gone")
    return p.parse_args(argv)


def on_signal(signum, frame):
    raise SystemExit(0)


def main(argv):
    args = startup(parse_args, argv)
    scripts = load_scripts(args.script)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    write_port(args.dir, port)
    number = 0
    try:
        while True:
            sock, _ = listener.accept()
            number += 1
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            steps = scripts[min(number, len(scripts)) - 1]
            serve_connection(Connection(sock, number, args.dir), steps)
    finally:
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
