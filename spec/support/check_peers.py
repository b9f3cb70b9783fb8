#!/usr/bin/python3
"""Checks the TLS/AUTH test peers of issue #4 with independent clients.

  /usr/bin/python3 spec/support/check_peers.py [--skip-dovecot] [-v]

Uses only the Python standard library as the client (smtplib for PLAIN,
LOGIN, CRAM-MD5; a small hand-written SMTP/SASL client for SCRAM-SHA-1,
SCRAM-SHA-256, DIGEST-MD5, XOAUTH2 and OAUTHBEARER, which also checks the
SCRAM server signature and the DIGEST-MD5 rspauth). Everything runs in a
fresh temp dir that is removed at the end; every process started is
stopped by PID.

Checked:
  * tls_certs.sh: each certificate's chain/validity/host name with
    `openssl verify` (good ones pass, expired / not-yet-valid / untrusted
    fail, host names match or not as documented there).
  * tls_server.py --tls starttls: STARTTLS offered, no AUTH before TLS,
    handshake verified against the test CA for "localhost", SNI recorded,
    AUTH PLAIN/LOGIN/CRAM-MD5 ok, wrong password 535, message captured
    with tls/auth fields; --require-starttls gives 530 before TLS.
  * tls_server.py --tls implicit: TLS from the first byte, AUTH PLAIN and
    LOGIN, message captured, client certificate recorded.
  * dovecot.py start/stop: every mechanism over STARTTLS and implicit TLS
    with the right password (then a message relayed to the capture
    server) and with a wrong one (535); all processes gone after stop.

Prints one "ok"/"FAIL" line per check (TAP-like) and exits 1 on any
failure.
"""

import argparse
import base64
import ctypes
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servercommon as sc  # noqa: E402  (same directory)

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
USER, PASSWORD = "alice", "S3cret!pw:x"     # ":" on purpose ({PLAIN.b64})
ALL_MECHS = ["SCRAM-SHA-256", "SCRAM-SHA-1", "DIGEST-MD5", "CRAM-MD5",
             "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"]

failures = []
count = [0]
VERBOSE = False


def check(name, cond, detail=""):
    count[0] += 1
    if cond:
        print("ok {} - {}".format(count[0], name))
    else:
        failures.append(name)
        print("not ok {} - {}{}".format(count[0], name, (": " + str(detail)) if detail else ""))
    sys.stdout.flush()
    return cond


def b64(b):
    return base64.b64encode(b).decode("ascii")


def unb64(s):
    return base64.b64decode(s)


# ---------------------------------------------------------------------------
# A minimal SMTP client with SASL (stdlib only)

class Client:
    def __init__(self, host, port, cafile, mode, server_name="localhost"):
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.server_name = server_name
        raw = socket.create_connection((host, port), timeout=15)
        if mode == "implicit":
            raw = self.ctx.wrap_socket(raw, server_hostname=server_name)
        self.set(raw)
        self.port = port
        self.transcript = []
        code, _ = self.reply()
        assert code == 220, code
        code, self.ehlo = self.cmd("EHLO client.test")
        if mode == "starttls":
            assert "STARTTLS" in [x.upper() for x in self.ehlo], self.ehlo
            assert self.cmd("STARTTLS")[0] == 220
            self.set(self.ctx.wrap_socket(self.sock, server_hostname=server_name))
            code, self.ehlo = self.cmd("EHLO client.test")

    def set(self, sock):
        self.sock = sock
        self.file = sock.makefile("rb")

    def reply(self):
        lines = []
        while True:
            line = self.file.readline().decode("utf-8", "replace").rstrip("\r\n")
            if VERBOSE:
                print("#   S:", line)
            if not line:
                raise EOFError("connection closed")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), [x[4:] for x in lines]

    def cmd(self, line):
        if VERBOSE:
            print("#   C:", line)
        self.sock.sendall(line.encode("utf-8") + b"\r\n")
        return self.reply()

    def mechanisms(self):
        for line in self.ehlo:
            if line.upper().startswith("AUTH "):
                return line.split()[1:]
        return []

    def close(self):
        try:
            self.cmd("QUIT")
        except Exception:
            pass
        self.sock.close()

    # -- mechanisms; each returns the final reply code

    def auth(self, mech, user, pw):
        mech = mech.upper()
        if mech == "PLAIN":
            return self.cmd("AUTH PLAIN " + b64(("\0%s\0%s" % (user, pw)).encode()))[0]
        if mech == "LOGIN":
            code = self.cmd("AUTH LOGIN")[0]
            if code == 334:
                code = self.cmd(b64(user.encode()))[0]
            if code == 334:
                code = self.cmd(b64(pw.encode()))[0]
            return code
        if mech == "CRAM-MD5":
            code, r = self.cmd("AUTH CRAM-MD5")
            if code != 334:
                return code
            dig = hmac.new(pw.encode(), unb64(r[0]), hashlib.md5).hexdigest()
            return self.cmd(b64(("%s %s" % (user, dig)).encode()))[0]
        if mech.startswith("SCRAM-"):
            return self.scram(mech, user, pw)
        if mech == "DIGEST-MD5":
            return self.digest_md5(user, pw)
        if mech == "XOAUTH2":
            return self.oauth(mech, "user=%s\x01auth=Bearer %s\x01\x01" % (user, pw))
        if mech == "OAUTHBEARER":
            return self.oauth(mech, "n,a=%s,\x01host=localhost\x01port=%d\x01auth=Bearer %s\x01\x01"
                              % (user, self.port, pw))
        raise ValueError(mech)

    def scram(self, mech, user, pw):
        hname = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}[mech]
        h = getattr(hashlib, hname)
        cnonce = b64(os.urandom(18))
        bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), cnonce)
        code, r = self.cmd("AUTH %s %s" % (mech, b64(("n,," + bare).encode())))
        if code != 334:
            return code
        sfirst = unb64(r[0]).decode()
        d = dict(kv.split("=", 1) for kv in sfirst.split(","))
        if not d["r"].startswith(cnonce):
            raise AssertionError("server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac(hname, pw.encode(), unb64(d["s"]), int(d["i"]))
        ckey = hmac.new(salted, b"Client Key", h).digest()
        stored = h(ckey).digest()
        final_wo = "c=%s,r=%s" % (b64(b"n,,"), d["r"])
        authmsg = ",".join([bare, sfirst, final_wo]).encode()
        sig = hmac.new(stored, authmsg, h).digest()
        proof = bytes(x ^ y for x, y in zip(ckey, sig))
        code, r = self.cmd(b64(("%s,p=%s" % (final_wo, b64(proof))).encode()))
        if code == 334:     # Dovecot sends server-final as a challenge
            sfinal = unb64(r[0]).decode()
            if sfinal.startswith("e="):
                self.cmd("*")
                return 535
            skey = hmac.new(salted, b"Server Key", h).digest()
            expect = "v=" + b64(hmac.new(skey, authmsg, h).digest())
            if sfinal != expect:
                raise AssertionError("bad SCRAM server signature")
            self.server_verified = True
            code, r = self.cmd("")
        return code

    def digest_md5(self, user, pw):
        code, r = self.cmd("AUTH DIGEST-MD5")
        if code != 334:
            return code
        ch = unb64(r[0]).decode()
        d = {k: v.strip('"') for k, v in re.findall(r'([\w-]+)=("(?:[^"\\]|\\.)*"|[^,]*)', ch)}
        realm = d.get("realm", "")
        cnonce, nc, qop, uri = b64(os.urandom(12)), "00000001", "auth", "smtp/localhost"

        def hexd(s):
            return hashlib.md5(s).hexdigest()
        a1 = (hashlib.md5(("%s:%s:%s" % (user, realm, pw)).encode()).digest()
              + (":%s:%s" % (d["nonce"], cnonce)).encode())

        def kd(a2):
            return hexd(("%s:%s:%s:%s:%s:%s" % (hexd(a1), d["nonce"], nc, cnonce, qop,
                                                hexd(a2))).encode())
        resp = kd(("AUTHENTICATE:" + uri).encode())
        out = ('username="%s",realm="%s",nonce="%s",cnonce="%s",nc=%s,qop=%s,'
               'digest-uri="%s",response=%s,charset=utf-8'
               % (user, realm, d["nonce"], cnonce, nc, qop, uri, resp))
        code, r = self.cmd(b64(out.encode()))
        if code == 334:
            rspauth = unb64(r[0]).decode()
            if rspauth != "rspauth=" + kd((":" + uri).encode()):
                raise AssertionError("bad DIGEST-MD5 rspauth")
            self.server_verified = True
            code, r = self.cmd("")
        return code

    def oauth(self, mech, initial):
        code, r = self.cmd("AUTH %s %s" % (mech, b64(initial.encode())))
        if code == 334:     # error details (JSON); acknowledge, then 535
            code, r = self.cmd("" if mech == "XOAUTH2" else b64(b"\x01"))
        return code

    def send(self, frm, to, body):
        assert self.cmd("MAIL FROM:<%s>" % frm)[0] == 250
        assert self.cmd("RCPT TO:<%s>" % to)[0] == 250
        assert self.cmd("DATA")[0] == 354
        return self.cmd(body.replace("\n", "\r\n") + "\r\n.")[0]


# ---------------------------------------------------------------------------
# Processes

def reap_children():
    """We are a child subreaper: collect any exited descendants."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def make_subreaper():
    PR_SET_CHILD_SUBREAPER = 36
    try:
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass


def wait_port(path, proc, timeout=10):
    text = sc.wait_line(path, lambda: proc.poll() is not None, timeout)
    return int(text) if text is not None else None


class TlsServer:
    def __init__(self, base, name, *args):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "tls_server.py"),
                                      "--dir", self.dir] + list(args),
                                     stdout=self.log, stderr=self.log)
        self.port = wait_port(os.path.join(self.dir, "port"), self.proc)
        if self.port is None:
            self.stop()
            raise SystemExit("tls_server.py did not start:\n"
                             + open(os.path.join(self.dir, "server.log")).read())

    def messages(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.dir, "msg-*.json"))):
            with open(path) as f:
                out.append(json.load(f))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def smtplib_login(port, ca, mech, implicit=False, password=PASSWORD, client_cert=None):
    ctx = ssl.create_default_context(cafile=ca)
    if client_cert:
        ctx.load_cert_chain(*client_cert)
    if implicit:
        s = smtplib.SMTP_SSL("localhost", port, context=ctx, timeout=10)
    else:
        s = smtplib.SMTP("localhost", port, timeout=10)
        s.starttls(context=ctx)
    s.ehlo("client.test")
    s.user, s.password = USER, password
    method = getattr(s, "auth_" + mech.lower().replace("-", "_"))
    try:
        code, _ = s.auth(mech, method)
    except smtplib.SMTPAuthenticationError as e:
        code = e.smtp_code
    return s, code


# ---------------------------------------------------------------------------
# Checks

def check_certs(certs):
    def verify(name, host=None, ip=None, ca="ca.pem"):
        cmd = ["openssl", "verify", "-CAfile", os.path.join(certs, ca)]
        if host:
            cmd += ["-verify_hostname", host]
        if ip:
            cmd += ["-verify_ip", ip]
        cmd.append(os.path.join(certs, name + ".pem"))
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.returncode == 0, (r.stdout + r.stderr).strip().splitlines()[-1:]
    cases = [
        ("localhost", "localhost", None, True), ("localhost", None, "127.0.0.1", True),
        ("localhost", None, "127.0.0.2", True),
        ("wrong_host", "localhost", None, False), ("wrong_host", "wrong.example", None, True),
        ("cn_ignored", "localhost", None, False),
        ("cn_only", "localhost", None, True),
        ("ip_only", None, "127.0.0.1", True), ("ip_only", "localhost", None, False),
        ("wildcard", "mail.example.test", None, True), ("wildcard", "example.test", None, False),
        ("wildcard", "a.mail.example.test", None, False),
        ("wildcard_inner", "mail.example.test", None, False),
        ("expired", "localhost", None, False), ("not_yet_valid", "localhost", None, False),
        ("untrusted", "localhost", None, False), ("client", None, None, True),
    ]
    for name, host, ip, want in cases:
        ok, why = verify(name, host, ip)
        check("cert {} for {}: {}".format(name, host or ip or "(chain only)",
                                          "valid" if want else "rejected"), ok == want, why)
    ok, why = verify("untrusted", "localhost", ca="other_ca.pem")
    check("cert untrusted valid under other_ca", ok, why)
    r = subprocess.run(["openssl", "x509", "-in", os.path.join(certs, "expired.pem"), "-noout",
                        "-enddate"], capture_output=True, text=True)
    check("cert expired has a past notAfter", "2020" in r.stdout, r.stdout)


def check_tls_server(base, certs):
    ca = os.path.join(certs, "ca.pem")
    cert = ["--cert", os.path.join(certs, "localhost.pem"),
            "--key", os.path.join(certs, "localhost.key")]
    auth = ["--user", USER, "--password", PASSWORD]

    srv = TlsServer(base, "starttls", *(cert + auth + ["--auth-mechanisms", "PLAIN,LOGIN,CRAM-MD5"]))
    try:
        s = smtplib.SMTP("127.0.0.1", srv.port, timeout=10)
        s.ehlo("client.test")
        check("tls_server starttls: STARTTLS offered", s.has_extn("starttls"))
        check("tls_server starttls: no AUTH before TLS", not s.has_extn("auth"))
        code, _ = s.docmd("AUTH", "PLAIN " + b64(("\0%s\0%s" % (USER, PASSWORD)).encode()))
        check("tls_server starttls: AUTH before TLS refused (538)", code == 538, code)
        s.close()
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
            s, code = smtplib_login(srv.port, ca, mech)
            check("tls_server starttls: AUTH %s ok" % mech, code == 235, code)
            check("tls_server starttls: EHLO after TLS lists CRAM-MD5 LOGIN PLAIN",
                  s.esmtp_features.get("auth", "").split() == ["CRAM-MD5", "LOGIN", "PLAIN"],
                  s.esmtp_features.get("auth"))
            s.sendmail("from@x.test", ["to@y.test"], "Subject: %s\r\n\r\nvia %s\r\n" % (mech, mech))
            s.quit()
            s, code = smtplib_login(srv.port, ca, mech, password="wrong")
            check("tls_server starttls: AUTH %s wrong password 535" % mech, code == 535, code)
            s.close()
        msgs = srv.messages()
        check("tls_server starttls: 3 messages captured", len(msgs) == 3, len(msgs))
        if msgs:
            m = msgs[0]
            check("tls_server starttls: capture has envelope/tls/auth",
                  m["mail_from"] == "from@x.test" and m["rcpt_tos"] == ["to@y.test"]
                  and m["tls"] is True and m["auth_login"] == USER
                  and m["auth_mechanism"] == "PLAIN"
                  and unb64(m["data_b64"]).endswith(b"via PLAIN\r\n"), m)
            sess = m["session"]
            with open(os.path.join(srv.dir, "session-%04d.tls.json" % sess)) as f:
                info = json.load(f)
            check("tls_server starttls: SNI localhost recorded", info.get("sni") == "localhost", info)
            with open(os.path.join(srv.dir, "session-%04d.clear.bin" % sess), "rb") as f:
                clear = f.read()
            with open(os.path.join(srv.dir, "session-%04d.bin" % sess), "rb") as f:
                whole = f.read()
            check("tls_server starttls: clear bytes stop at STARTTLS",
                  clear.upper().endswith(b"STARTTLS\r\n") and b"AUTH" not in clear.upper(), clear)
            check("tls_server starttls: decrypted bytes logged after TLS",
                  whole.startswith(clear) and b"AUTH PLAIN" in whole[len(clear):], whole[:200])
    finally:
        srv.stop()

    srv = TlsServer(base, "require", *(cert + auth + ["--require-starttls"]))
    try:
        s = smtplib.SMTP("127.0.0.1", srv.port, timeout=10)
        s.ehlo("client.test")
        code, _ = s.docmd("MAIL", "FROM:<a@x.test>")
        check("tls_server --require-starttls: MAIL before TLS 530", code == 530, code)
        s.close()
    finally:
        srv.stop()

    srv = TlsServer(base, "expired", "--cert", os.path.join(certs, "expired.pem"),
                    "--key", os.path.join(certs, "expired.key"))
    try:
        s = smtplib.SMTP("127.0.0.1", srv.port, timeout=10)
        try:
            s.starttls(context=ssl.create_default_context(cafile=ca))
            check("tls_server expired cert: handshake refused by client", False)
        except ssl.SSLCertVerificationError as e:
            check("tls_server expired cert: handshake refused by client",
                  "expired" in str(e), e)
        s.close()
    finally:
        srv.stop()

    srv = TlsServer(base, "implicit", *(cert + auth + [
        "--tls", "implicit", "--client-ca", ca, "--verify-client", "optional"]))
    try:
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        raw.settimeout(0.5)
        try:
            got = raw.recv(10)
        except socket.timeout:
            got = b""
        check("tls_server implicit: no clear-text greeting", not got.startswith(b"220"), got)
        raw.close()
        for mech in ("PLAIN", "LOGIN"):
            s, code = smtplib_login(srv.port, ca, mech, implicit=True,
                                    client_cert=(os.path.join(certs, "client.pem"),
                                                 os.path.join(certs, "client.key")))
            check("tls_server implicit: AUTH %s ok" % mech, code == 235, code)
            check("tls_server implicit: no STARTTLS offered", not s.has_extn("starttls"))
            s.sendmail("from@x.test", ["to@y.test"], "Subject: implicit\r\n\r\nx\r\n")
            s.quit()
        msgs = srv.messages()
        check("tls_server implicit: 2 messages captured", len(msgs) == 2, len(msgs))
        with open(os.path.join(srv.dir, "session-0001.tls.json")) as f:
            info = json.load(f)
        check("tls_server implicit: client certificate recorded",
              info.get("client_cert") == "client.test" and info.get("mode") == "implicit", info)
    finally:
        srv.stop()


def check_dovecot(base, certs):
    if not os.path.exists(os.environ.get("DOVECOT_BIN", "/usr/sbin/dovecot")):
        check("dovecot installed (/usr/sbin/dovecot)", False)
        return
    ca = os.path.join(certs, "ca.pem")
    d = os.path.join(base, "dovecot")
    t0 = time.time()
    r = subprocess.run([PYTHON, os.path.join(HERE, "dovecot.py"), "start", "--dir", d,
                        "--certs", certs, "--user", USER, "--password", PASSWORD],
                       capture_output=True, text=True)
    started = time.time() - t0
    if not check("dovecot.py start", r.returncode == 0, r.stderr):
        return
    print("# " + r.stdout.strip() + " (%.2f s)" % started)
    info = dict(kv.split("=", 1) for kv in r.stdout.split())
    port, sport = int(info["port"]), int(info["smtps_port"])
    pids = [int(info["pid"]), int(info["capture_pid"])]
    with open(os.path.join(d, "dovecot", "info.json")) as f:
        dpid = json.load(f)["dovecot_pid"]
    try:
        c = Client("127.0.0.1", port, ca, "none")
        check("dovecot: STARTTLS offered in clear", "STARTTLS" in [x.upper() for x in c.ehlo])
        c.close()
        c = Client("127.0.0.1", port, ca, "starttls")
        offered = c.mechanisms()
        check("dovecot: EHLO after STARTTLS offers all 8 mechanisms",
              sorted(offered) == sorted(ALL_MECHS), offered)
        c.close()
        n = 0
        for mech in ALL_MECHS:
            for mode, p in (("starttls", port), ("implicit", sport)):
                c = Client("127.0.0.1", p, ca, mode)
                c.server_verified = False
                code = c.auth(mech, USER, PASSWORD)
                extra = ""
                if mech.startswith("SCRAM") or mech == "DIGEST-MD5":
                    extra = " (server proof verified)" if c.server_verified else " (NO server proof)"
                ok = check("dovecot %s %s: correct password 235%s" % (mode, mech, extra),
                           code == 235 and (not extra or c.server_verified), code)
                if ok and mode == "starttls":
                    sent = c.send("sender@x.test", "rcpt-%s@y.test" % mech.lower(),
                                  "Subject: via %s\n\nbody %s" % (mech, mech))
                    check("dovecot %s %s: message accepted and relayed" % (mode, mech),
                          sent == 250, sent)
                    n += 1
                c.close()
            c = Client("127.0.0.1", port, ca, "starttls")
            code = c.auth(mech, USER, "wrong password")
            check("dovecot starttls %s: wrong password 535" % mech, code == 535, code)
            c.close()
        # every relayed message is in the capture dir (capture_server format)
        deadline = time.time() + 5
        cap = os.path.join(d, "capture")
        while time.time() < deadline and not os.path.exists(os.path.join(cap, "msg-%04d.json" % n)):
            time.sleep(0.05)
        msgs = sorted(glob.glob(os.path.join(cap, "msg-*.json")))
        check("dovecot: %d messages at the capture server" % n, len(msgs) == n, len(msgs))
        if msgs:
            with open(msgs[0]) as f:
                m = json.load(f)
            data = unb64(m["data_b64"])
            check("dovecot: capture holds envelope + content (Received: prepended)",
                  m["mail_from"] == "sender@x.test" and m["rcpt_tos"][0].startswith("rcpt-")
                  and data.startswith(b"Received: ") and b"\r\nSubject: via " in data, m)
    finally:
        t0 = time.time()
        subprocess.run([PYTHON, os.path.join(HERE, "dovecot.py"), "stop", "--dir", d])
        stopped = time.time() - t0
        reap_children()
        time.sleep(0.1)
        reap_children()
    left = [p for p in pids + [dpid] if os.path.exists("/proc/%d" % p)]
    leftovers = subprocess.run(["ps", "-e", "-o", "pid=,cmd="], capture_output=True,
                               text=True).stdout
    named = [line for line in leftovers.splitlines() if "saslpeer-%d/" % port in line]
    check("dovecot.py stop: no process left (%.2f s)" % stopped, not left and not named,
          (left, named))


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-dovecot", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.verbose
    make_subreaper()
    base = tempfile.mkdtemp(prefix="check-peers.")
    os.chmod(base, 0o755)
    try:
        certs = os.path.join(base, "certs")
        t0 = time.time()
        subprocess.run(["sh", os.path.join(HERE, "tls_certs.sh"), certs], check=True)
        print("# certificates in %.2f s" % (time.time() - t0))
        check_certs(certs)
        check_tls_server(base, certs)
        if not a.skip_dovecot:
            check_dovecot(base, certs)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        reap_children()
    print("1..%d" % count[0])
    if failures:
        print("# %d failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("# all %d passed" % count[0])
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
