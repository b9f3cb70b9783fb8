#!/usr/bin/env python3
"""Helpers of the message-generation benchmark (bench/message.lua).

  message_check.py gen-text PATH SIZE [--seed N]
      Write SIZE bytes of realistic text to PATH: words in lines of every
      length (empty, short, typical, long paragraphs of up to ~3 KB), LF
      line ends, about 1 line in 12 with an 8-bit (Latin-1 or UTF-8) word,
      trailing spaces and tabs, lines that start with "." or "From ".
      Deterministic for a given seed; ends with LF.

  message_check.py check [--expect N,CTE,KIND,ARG]... [--small-parts N]
                         [--email-parser] < message
      Read a whole message (headers, one multipart/mixed body) from stdin,
      in blocks, and check it without keeping it: headers well formed
      (MIME-Version: 1.0, Date, the boundary), every part's body decoded as
      its Content-Transfer-Encoding says, strictly (base64: the alphabet,
      lines of at most 76, padding only at the end; quoted-printable: lines
      of at most 76, printable ASCII, "=XX" upper-case or soft breaks, no
      white space before a line end; CRLF only). Prints each part's
      decoded size and SHA-256, then "CHECK OK ..." or "CHECK FAIL ...".

      --expect N,CTE,KIND,ARG   part N (1-based) has Content-Transfer-
            Encoding CTE ("-": none) and decodes to: KIND "file": the bytes
            of file ARG; "crlf": file ARG with every LF turned into CRLF
            (what mime.normalize() gives for text with LF line ends);
            "hex": the bytes ARG in hexadecimal.
      --small-parts N   exactly N parts; part i has X-Part-Id i and the body
            small_body(i) below (the 2,000-part case).
      --email-parser    also parse the message with Python's email package
            (the whole message is then kept in memory: small inputs only)
            and check that it finds the same parts, encodings and decoded
            bodies, and no defects.

Exit status: 0 OK, 1 the message is wrong, 2 usage error.
"""

import binascii
import email
import email.policy
import hashlib
import random
import re
import sys

BLOCK = 1 << 20
B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
QP_CHARS = bytes(range(0x20, 0x7f)) + b"\t\r\n"
FILLER = "The quick brown fox jumps over the lazy dog. "


def small_body(i):
    """Body of part i of the 2,000-part message (bench/message.lua)."""
    return ((("Part %04d: " % i) + FILLER * 5)[:198] + "\r\n").encode("ascii")


class Bad(Exception):
    pass


# ---------------------------------------------------------------------------
# gen-text
# ---------------------------------------------------------------------------
WORDS = """the of and to in is was that for it with as his on be at by had are but
from or have an they which one you were all her she there would their we him been
has when who will no more if out so said what up its about than into them can only
other time new some could these two may first then do any like my now over such our
man me even most made after also did many before must through back years where much
your way well down should because each just those people how too little state good
very make world still see own men work long here get both between life being under
never day same another know while last might us great old year off come since against
go came right used take three states himself few house use during without again place
around however home small found thought went say part once general high upon school
every does got united left number course war until always away something fact though
water less public put think almost hand enough far took head yet government system
better set told nothing night end why called eyes find going look asked later knew
point next program city business give group toward young days let room president side
social given present several order national possible rather second face per among form
important often things looked early white case become large big need four within felt
children along saw best church ever least power development light thing seemed family
interest want members mind country area others done turned although open service
certain kind problem began different door thus help sense means whole matter perhaps
itself times law human line above name example action company hands local show whether
five history gave today either act feet across taken past quite anything seen having
death experience body word half really week free""".split()
EIGHT_BIT = [
    b"caf\xe9", b"na\xefve", b"\xfcber", b"se\xf1or", b"gar\xe7on", b"d\xe9j\xe0",
    b"\xa9", b"25\xb0C", b"\xc3\xa9t\xc3\xa9", b"\xe2\x80\x94", b"Stra\xc3\x9fe",
]


def gen_text(path, size, seed):
    rnd = random.Random(seed)
    words = [w.encode("ascii") for w in WORDS]

    def line():
        r = rnd.random()
        if r < 0.15:
            n = 0
        elif r < 0.35:
            n = rnd.randint(1, 6)        # short
        elif r < 0.85:
            n = rnd.randint(8, 13)       # a typical wrapped line
        elif r < 0.97:
            n = rnd.randint(20, 80)      # longer than 76
        else:
            n = rnd.randint(150, 500)    # a whole paragraph on one line
        ws = rnd.choices(words, k=n)
        if n and rnd.random() < 0.1:
            ws[rnd.randrange(n)] = rnd.choice(EIGHT_BIT)
        s = b" ".join(ws)
        r = rnd.random()
        if r < 0.02:
            s = b"." + s
        elif r < 0.03:
            s = b"From " + s
        elif r < 0.035:
            s = b"."
        r = rnd.random()
        if r < 0.04:
            s += b" " * rnd.randint(1, 3)
        elif r < 0.05:
            s += b"\t"
        return s + b"\n"

    written = 0
    with open(path, "wb") as f:
        while written < size:
            block = b"".join(line() for _ in range(4096))
            block = block[: size - written]
            f.write(block)
            written += len(block)
        if size > 0:
            f.seek(size - 1)
            f.write(b"\n")


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------
class Reader:
    """stdin in blocks; optionally keeps everything (for --email-parser)."""

    def __init__(self, f, keep):
        self.f = f
        self.buf = bytearray()
        self.total = 0
        self.eof = False
        self.kept = [] if keep else None

    def fill(self):
        if self.eof:
            return False
        data = self.f.read(BLOCK)
        if not data:
            self.eof = True
            return False
        self.total += len(data)
        self.buf += data
        if self.kept is not None:
            self.kept.append(data)
        return True

    def take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class RawBody:
    def __init__(self):
        self.sha = hashlib.sha256()
        self.size = 0

    def feed(self, data):
        self.sha.update(data)
        self.size += len(data)

    def finish(self):
        pass


class LineBody(RawBody):
    """A body checked and decoded a block of whole CRLF lines at a time."""

    def __init__(self):
        super().__init__()
        self.rest = b""
        self.encoded = 0
        self.lines = 0
        self.max_line = 0

    def feed(self, data):
        self.encoded += len(data)
        data = self.rest + data
        k = data.rfind(b"\r\n")
        if k < 0:
            self.rest = data
            if len(self.rest) > 4096:
                raise Bad("%s line longer than 4096 bytes" % self.name)
            return
        self.rest = data[k + 2:]
        self.block(data[: k + 2], False)

    def finish(self):
        if self.rest:
            self.block(self.rest, True)
            self.rest = b""
        self.done()

    def common(self, block):
        crlf = block.count(b"\r\n")
        if block.count(b"\r") != crlf or block.count(b"\n") != crlf:
            raise Bad("%s body has a bare CR or LF" % self.name)
        lines = block.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        self.lines += len(lines)
        longest = max(map(len, lines)) if lines else 0
        self.max_line = max(self.max_line, longest)
        if longest > 76:
            raise Bad("%s line of %d characters (76 at most)" % (self.name, longest))
        return lines

    def done(self):
        pass


class Base64Body(LineBody):
    name = "base64"

    def __init__(self):
        super().__init__()
        self.quad = b""
        self.padded = False

    def block(self, block, last):
        lines = self.common(block)
        if block.translate(None, B64_ALPHABET + b"\r\n"):
            raise Bad("base64 body has a byte outside the alphabet")
        data = self.quad + b"".join(lines)
        if not data:
            return
        if self.padded:
            raise Bad("base64 data after the padding")
        n = len(data) - len(data) % 4
        self.quad = data[n:]
        if n:
            try:
                out = binascii.a2b_base64(data[:n], strict_mode=True)
            except binascii.Error as e:
                raise Bad("base64: %s" % e)
            self.padded = data[n - 1:n] == b"="
            self.sha.update(out)
            self.size += len(out)

    def done(self):
        if self.quad:
            raise Bad("base64 body ends with %d stray characters" % len(self.quad))


class QPBody(LineBody):
    name = "quoted-printable"

    def __init__(self):
        super().__init__()
        self.from_lines = 0
        self.dot_lines = 0

    def block(self, block, last):
        self.common(block)
        if block.translate(None, QP_CHARS):
            raise Bad("quoted-printable body has a byte outside printable ASCII")
        m = re.search(rb"=(?![0-9A-F]{2}|\r\n|\Z)", block)
        if m:
            raise Bad("quoted-printable: bad escape %r" % block[m.start():m.start() + 3])
        if (b" \r\n" in block or b"\t\r\n" in block or block.endswith(b" ")
                or block.endswith(b"\t")):
            raise Bad("quoted-printable: white space at the end of a line")
        # informational: what a transport could still mangle
        self.from_lines += block.count(b"\nFrom ") + block.startswith(b"From ")
        self.dot_lines += block.count(b"\n.") + block.startswith(b".")
        out = binascii.a2b_qp(block)
        self.sha.update(out)
        self.size += len(out)


def parse_headers(raw):
    """[(name_lower, value)] of a header block (CRLF lines, no blank line)."""
    out = []
    if not raw:
        return out
    for line in raw.split(b"\r\n"):
        if len(line) > 998:
            raise Bad("header line of %d characters" % len(line))
        if line[:1] in (b" ", b"\t"):
            if not out:
                raise Bad("header block starts with a continuation line")
            out[-1] = (out[-1][0], out[-1][1] + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if not colon or not re.fullmatch(rb"[\x21-\x39\x3b-\x7e]+", name):
            raise Bad("malformed header line %r" % line[:80])
        out.append((name.decode("ascii").lower(), value.strip()))
    return out


def header(hs, name):
    vals = [v for n, v in hs if n == name]
    if len(vals) > 1:
        raise Bad("%s header %d times" % (name, len(vals)))
    return vals[0].decode("latin-1") if vals else None


def read_header_block(r):
    while True:
        if r.buf.startswith(b"\r\n"):
            r.take(2)
            return []
        k = r.buf.find(b"\r\n\r\n")
        if k >= 0:
            raw = r.take(k + 4)[:-4]
            return parse_headers(raw)
        if len(r.buf) > BLOCK or not r.fill():
            raise Bad("unterminated header block")


def body_until(r, delim, dec):
    """Feed dec with the body up to delim; leaves r.buf after delim."""
    keep = len(delim) - 1
    while True:
        k = r.buf.find(delim)
        if k >= 0:
            if k:
                dec.feed(r.take(k))
            r.take(len(delim))
            dec.finish()
            return
        if len(r.buf) > keep:
            dec.feed(r.take(len(r.buf) - keep))
        if not r.fill():
            raise Bad("message ends inside a part (no closing boundary)")


def decoder_for(cte):
    cte = (cte or "").lower()
    if cte == "base64":
        return Base64Body()
    if cte == "quoted-printable":
        return QPBody()
    if cte in ("", "7bit", "8bit", "binary"):
        return RawBody()
    raise Bad("unknown Content-Transfer-Encoding %r" % cte)


def check_stream(r):
    top = read_header_block(r)
    if header(top, "mime-version") != "1.0":
        raise Bad("MIME-Version: 1.0 missing")
    if header(top, "date") is None:
        raise Bad("Date missing")
    ctype = header(top, "content-type") or ""
    if not ctype.lower().startswith("multipart/mixed"):
        raise Bad("top Content-Type is %r, not multipart/mixed" % ctype)
    m = re.search(r'boundary="([^"]+)"', ctype) or re.search(r"boundary=([^;\s]+)", ctype)
    if not m:
        raise Bad("no boundary in %r" % ctype)
    bd = m.group(1).encode("latin-1")
    delim = b"\r\n--" + bd
    # the first delimiter may start the body without its CRLF
    while len(r.buf) < len(delim) and r.fill():
        pass
    if r.buf.startswith(delim[2:]):
        r.take(len(delim) - 2)
        preamble = 0
    else:
        pre = RawBody()
        body_until(r, delim, pre)
        preamble = pre.size
    parts = []
    while True:
        while len(r.buf) < 4 and r.fill():
            pass
        if r.buf.startswith(b"--"):
            break
        k = r.buf.find(b"\r\n")
        if k < 0 or r.buf[:k].strip(b" \t"):
            raise Bad("garbage after a boundary")
        r.take(k + 2)
        hs = read_header_block(r)
        cte = header(hs, "content-transfer-encoding")
        dec = decoder_for(cte)
        body_until(r, delim, dec)
        parts.append({"headers": hs, "cte": (cte or "-").lower(), "dec": dec})
    r.take(2)
    epi = RawBody()
    while True:
        if r.buf:
            epi.feed(r.take(len(r.buf)))
        if not r.fill():
            break
    return {"top": top, "boundary": bd, "preamble": preamble, "parts": parts,
            "epilogue": epi.size, "total": r.total}


def expected_sha(kind, arg):
    sha = hashlib.sha256()
    size = 0
    if kind == "hex":
        data = bytes.fromhex(arg)
        sha.update(data)
        return sha.hexdigest(), len(data)
    if kind not in ("file", "crlf"):
        raise ValueError("unknown expectation kind %r" % kind)
    with open(arg, "rb") as f:
        while True:
            data = f.read(BLOCK)
            if not data:
                break
            if kind == "crlf":
                data = data.replace(b"\n", b"\r\n")
            sha.update(data)
            size += len(data)
    return sha.hexdigest(), size


def email_parser_check(raw, res):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.defects:
        raise Bad("email parser: defects %s" % [type(d).__name__ for d in msg.defects])
    if not msg.is_multipart():
        raise Bad("email parser: not multipart")
    got = msg.get_payload()
    if len(got) != len(res["parts"]):
        raise Bad("email parser: %d parts, streaming parser %d" % (len(got), len(res["parts"])))
    for i, (p, mine) in enumerate(zip(got, res["parts"]), 1):
        if p.defects:
            raise Bad("email parser: part %d defects %s" % (i, [type(d).__name__ for d in p.defects]))
        cte = (p.get("content-transfer-encoding") or "-").lower()
        if cte != mine["cte"]:
            raise Bad("email parser: part %d encoding %s, streaming %s" % (i, cte, mine["cte"]))
        body = p.get_payload(decode=True)
        if hashlib.sha256(body).hexdigest() != mine["dec"].sha.hexdigest():
            raise Bad("email parser: part %d decodes differently" % i)
    return len(got)


def cmd_check(argv):
    expects, small, use_email = [], None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--expect" and i + 1 < len(argv):
            n, cte, kind, arg = argv[i + 1].split(",", 3)
            expects.append((int(n), cte.lower(), kind, arg))
            i += 2
        elif a == "--small-parts" and i + 1 < len(argv):
            small = int(argv[i + 1])
            i += 2
        elif a == "--email-parser":
            use_email = True
            i += 1
        else:
            print("message_check.py: bad argument %r" % a, file=sys.stderr)
            return 2
    r = Reader(sys.stdin.buffer, use_email)
    try:
        res = check_stream(r)
        parts = res["parts"]
        print("  %d bytes; %d parts; boundary %d chars; preamble %d, epilogue %d bytes" % (
            res["total"], len(parts), len(res["boundary"]), res["preamble"], res["epilogue"]))
        for n, cte, kind, arg in expects:
            if n > len(parts):
                raise Bad("part %d missing" % n)
            p = parts[n - 1]
            if p["cte"] != cte:
                raise Bad("part %d: Content-Transfer-Encoding %s, expected %s" % (n, p["cte"], cte))
            want, size = expected_sha(kind, arg)
            dec = p["dec"]
            line = "  part %d: %s, %s; decoded %d bytes, sha256 %s" % (
                n, header(p["headers"], "content-type"), p["cte"], dec.size, dec.sha.hexdigest()[:16])
            if isinstance(dec, LineBody):
                line += "; %d lines, longest %d" % (dec.lines, dec.max_line)
            if isinstance(dec, QPBody):
                line += "; lines starting 'From ' %d, '.' %d" % (dec.from_lines, dec.dot_lines)
            print(line)
            if dec.size != size or dec.sha.hexdigest() != want:
                raise Bad("part %d decodes to %d bytes (sha256 %s), expected %d (%s)" % (
                    n, dec.size, dec.sha.hexdigest()[:16], size, want[:16]))
        if small is not None:
            if len(parts) != small:
                raise Bad("%d parts, expected %d" % (len(parts), small))
            for n, p in enumerate(parts, 1):
                if header(p["headers"], "x-part-id") != str(n):
                    raise Bad("part %d: X-Part-Id %r" % (n, header(p["headers"], "x-part-id")))
                if p["dec"].sha.digest() != hashlib.sha256(small_body(n)).digest():
                    raise Bad("part %d: body differs" % n)
            print("  all %d small parts: X-Part-Id and body as expected" % small)
        if use_email:
            n = email_parser_check(b"".join(r.kept), res)
            print("  Python's email parser: %d parts, same encodings and decoded bodies, no defects" % n)
    except Bad as e:
        print("CHECK FAIL after %d bytes: %s" % (r.total, e))
        return 1
    print("CHECK OK %d" % res["total"])
    return 0


def main(argv):
    if sys.version_info < (3, 11):
        print("message_check.py: needs Python 3.11 or later (binascii strict_mode)", file=sys.stderr)
        return 2
    if len(argv) >= 3 and argv[0] == "gen-text":
        seed = 1
        if len(argv) == 5 and argv[3] == "--seed":
            seed = int(argv[4])
        gen_text(argv[1], int(argv[2]), seed)
        return 0
    if argv and argv[0] == "check":
        return cmd_check(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
