#!/usr/bin/python3
"""
ref_enc.py -- mime_enc byte for byte against reference encoders (TAP).

    /usr/bin/python3 spec/c/ref_enc.py TOOL

TOOL is build/c/test_mime_enc_ref (spec/c/test_mime_enc_ref.c): spec/c/run.sh
runs that binary, which execs this script with its own path. The tool
encodes files with mime_enc, whole (seed 0) or at random splits with random
small output room (any other seed). TAP_SEED makes the inputs reproducible.

References:
  base64, lines of 76   base64.encodebytes(x), LF -> CRLF
                        LuaSocket encode("base64") | wrap("base64")
  base64, one line      base64.b64encode(x); LuaSocket mime.b64(x)
  QP, text              quopri.encodestring (binascii.b2a_qp, istext)
                        LuaSocket normalize() | encode("quoted-printable")
                                  | wrap("quoted-printable")
  QP, binary            binascii.b2a_qp(x, istext=False)
  eol                   LuaSocket mime.eol(0, x, "\\r\\n")
LuaSocket runs under the first of lua5.4, lua5.3, lua5.1, luajit, lua that
has it; without one those lines are skipped.

Where the references do not follow mime_enc.h's rules (each one shown by a
TAP line below that asserts both outputs exactly):

  Python quopri / binascii.b2a_qp
  P1  A space or tab that ends a line is escaped in place, whatever the
      column: "=20" can end at column 77 or 78 (RFC 2045 allows 76). We
      soft-break before it when it does not fit in 76.
  P2  An escape (=XX) never ends at column 76, even as the last thing on a
      line: Python soft-breaks first. We let a line ended by a hard break
      or by the end of the input use column 76, with an escape as with a
      letter.
  P3  A bare CR is written raw (not a line break, not escaped). We take it
      as a line break.
  P4  '.' is escaped only alone on a line (followed by a line end, the end
      or NUL), "From " never. Our safe mode escapes every line-initial '.'
      and "From "; without it, neither.
  P5  A letter may take column 76 before an LF but not before a CRLF (it
      only looks for '\\n' after it), so CRLF and LF text wrap differently.
  P6  The line-end style of the output is the first line's: later CRLFs
      become LF or later LFs CRLF. We always write CRLF.
  P7  Binary mode: a letter at column 76 followed by an LF byte (escaped)
      still takes column 76, and "=" makes that line 77 characters.
  LuaSocket mime.qp + mime.qpwrap (+ mime.normalize)
  L1  A soft break "=\\r\\n" is added at the end unless the input ends with a
      line break; when the input ends with a space or tab (L4) on a nearly
      full line, two: the output ends "=20=\\r\\n=\\r\\n".
  L2  Column 76 is never used: a 76-character line ended by a hard break
      gets a soft break (=\\r\\n and one character more).
  L3  Line ends pair differently (normalize and mime.eol): a CR or LF
      starts a break and swallows the next byte if it is the other one of
      the two; if it is the same one, that one starts a break which
      swallows nothing. So "\\n\\r" is one break and "\\r\\r\\n" three. We
      take CRLF, a lone CR and a lone LF each as one break: "\\n\\r" is
      two, "\\r\\r\\n" two.
  L4  A space or tab among the last two bytes of the input is escaped even
      when a letter follows it ("x y" -> "x=20y=\\r\\n"): the encoder's
      3-byte lookahead is flushed with every non-plain byte quoted.
  L5  No transport safety ('.' and "From " are never escaped).
  Between the references: Python and LuaSocket agree on base64 (with and
  without lines); on QP they differ in P1-P6 and L1-L5.

The random comparisons use inputs on which the rules agree: for quopri,
safe mode off, the input LF-normalised for Python, every line ending with a
letter (not '.', '=' or white space) and no '.' before a NUL (P1, P2, P3,
P4, P5, P6 cannot happen); for b2a_qp binary, no LF byte and a letter last
(P7); for LuaSocket, input pre-normalised to CRLF (L3), ending with a line
break or two letters (L4), safe mode off (L5), LuaSocket's trailing soft
breaks removed (L1), and inputs whose encoding has a 76-character hard line
left out and counted (L2). Beyond those, Python's binascii.a2b_qp must
decode every output of ours (any input) back to the input.
"""
import base64
import binascii
import os
import quopri
import random
import re
import shutil
import subprocess
import sys
import tempfile

TOOL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
SEED = int(os.environ.get("TAP_SEED", "20240601") or "20240601", 0)
rng = random.Random(SEED)
count = 0
failed = 0


def ok(cond, desc):
    global count, failed
    count += 1
    if not cond:
        failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", count, desc.replace("#", "\\#")))
    sys.stdout.flush()
    return cond


def skip(desc, why):
    global count
    count += 1
    print("ok %d - %s # SKIP %s" % (count, desc.replace("#", "\\#"), why))


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line)


def show(b, limit=160):
    s = repr(bytes(b))
    return s if len(s) <= limit else s[:limit] + "... (%d bytes)" % len(b)


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def report_diff(label, ours, ref):
    at = first_diff(ours, ref)
    lo = max(0, at - 40)
    diag("%s: first difference at offset %d" % (label, at))
    diag("     ours: %s" % show(ours[lo:at + 80]))
    diag("reference: %s" % show(ref[lo:at + 80]))


# ---------------------------------------------------------------------------
# our encoder, through the tool

WORK = tempfile.mkdtemp(prefix="smtp-native-ref-enc.")
_files = {}


def path_of(data):
    """A file holding data (one per distinct input)."""
    key = (len(data), hash(data))
    if key not in _files:
        p = os.path.join(WORK, "in%d" % len(_files))
        with open(p, "wb") as f:
            f.write(data)
        _files[key] = p
    return _files[key]


def ours(kind, inputs, seed):
    """Encodings of inputs (a list of bytes) with KIND, SEED (0 = whole)."""
    paths = [path_of(x) for x in inputs]
    suffix = "o%s_%d" % (re.sub(r"[^a-z0-9]", "_", kind), seed)
    todo = sorted(set(p for p in paths if not os.path.exists(p + "." + suffix)))
    for i in range(0, len(todo), 200):
        r = subprocess.run([TOOL, "encode", kind, str(seed), suffix] + todo[i:i + 200],
                           capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("%s encode %s failed: %s" % (TOOL, kind, r.stderr.decode()))
    out = []
    for p in paths:
        with open(p + "." + suffix, "rb") as f:
            out.append(f.read())
    return out


def ours1(kind, data, seed=0):
    return ours(kind, [data], seed)[0]


# ---------------------------------------------------------------------------
# LuaSocket, through one interpreter run over all inputs

LUA_SCRIPT = r"""
local mime = require("mime")
local ltn12 = require("ltn12")
-- the whole LTN12 way: a source, the filter chain, a sink
local function chain(...)
    local f = ltn12.filter.chain(...)
    return function(x)
        local t = {}
        assert(ltn12.pump.all(ltn12.source.chain(ltn12.source.string(x), f),
                              (ltn12.sink.table(t))))
        return table.concat(t)
    end
end
for _, path in ipairs(arg) do
    local f = assert(io.open(path, "rb"))
    local x = f:read("*a")
    f:close()
    local function put(suffix, s)
        local o = assert(io.open(path .. "." .. suffix, "wb"))
        o:write(s)
        o:close()
    end
    put("lua_b64", (mime.b64(x)) or "")
    put("lua_b64w", chain(mime.encode("base64"), mime.wrap("base64"))(x))
    put("lua_qp", chain(mime.normalize(), mime.encode("quoted-printable"),
                        mime.wrap("quoted-printable"))(x))
    put("lua_eol", (mime.eol(0, x, "\r\n")))
end
"""


def find_lua():
    for exe in ("lua5.4", "lua5.3", "lua5.1", "luajit", "lua"):
        path = shutil.which(exe)
        if path is None:
            continue
        r = subprocess.run([path, "-e", 'require("mime") require("ltn12")'],
                           capture_output=True)
        if r.returncode == 0:
            return path
    return None


LUA = find_lua()


def luasocket(what, inputs):
    paths = [path_of(x) for x in inputs]
    todo = sorted(set(p for p in paths if not os.path.exists(p + ".lua_b64")))
    script = os.path.join(WORK, "luasocket.lua")
    with open(script, "w") as f:
        f.write(LUA_SCRIPT)
    for i in range(0, len(todo), 200):
        r = subprocess.run([LUA, script] + todo[i:i + 200], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (LUA, r.stderr.decode()))
    out = []
    for p in paths:
        with open(p + "." + what, "rb") as f:
            out.append(f.read())
    return out


# ---------------------------------------------------------------------------
# inputs

PLAIN = bytes(c for c in range(33, 127) if c not in b"=.")
LETTERS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CONTROL = bytes(c for c in range(1, 32) if c not in b"\r\n") + b"\x7f"


def rbytes(n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def sizes(big):
    s = [0, 1, 2, 3, 4, 56, 57, 58, 59, 75, 76, 77, 113, 114, 1000, 4096]
    s += [rng.randrange(5000) for _ in range(20)]
    s += [rng.randrange(10000, 100001) for _ in range(big)] + [100000]
    return s


def text_char():
    r = rng.random()
    if r < 0.70:
        return bytes([rng.choice(LETTERS)])
    if r < 0.80:
        return b" "
    if r < 0.83:
        return b"\t"
    if r < 0.86:
        return b"="
    if r < 0.88:
        return b"."
    if r < 0.95:
        return bytes([rng.randrange(128, 256)])
    return bytes([rng.choice(CONTROL + b"\0")])


def line_len():
    r = rng.random()
    if r < 0.3:
        return rng.randrange(0, 20)
    if r < 0.7:
        return rng.randrange(60, 90)
    return rng.randrange(90, 400)


def python_agreeing_text():
    """CR, LF, CRLF line ends; every line ends with a plain byte; no '.'
    followed by NUL."""
    out = []
    for _ in range(rng.randrange(1, 60)):
        n = line_len()
        line = b"".join(text_char() for _ in range(n))
        line = line.replace(b".\0", b".x")
        if n > 0:
            line = line[:-1] + bytes([rng.choice(PLAIN)])
        out.append(line + rng.choice([b"\r\n", b"\n", b"\r"]))
    if rng.random() < 0.5:
        out[-1] = out[-1].rstrip(b"\r\n")
        if out[-1] == b"":
            out[-1] = b"x"
    return b"".join(out)


def any_text(n):
    """Anything, weighted toward the rules: breaks of every kind, white
    space near them, '=', dots and "From " at line starts, 8-bit bytes."""
    parts = []
    size = 0
    while size < n:
        r = rng.random()
        if r < 0.08:
            p = rng.choice([b"\r\n", b"\n", b"\r", b"\n\r", b" \r\n", b"\t\n", b"\r\n.",
                            b"\r\nFrom ", b"\r\n.\r\n", b"From "])
        else:
            p = text_char()
        parts.append(p)
        size += len(p)
    return b"".join(parts)[:n]


def normalise_lf(x):
    return re.sub(rb"\r\n|\r|\n", b"\n", x)


def normalise_crlf(x):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", x)


def python_qp_text(x):
    return quopri.encodestring(normalise_lf(x)).replace(b"\n", b"\r\n")


def python_qp_binary(x):
    y = binascii.b2a_qp(x, istext=False)
    return y.replace(b"=\r\n", b"=\n").replace(b"=\n", b"=\r\n")


def hard_76(enc):
    """Our output has a line of 76 characters ended by a hard break or the end."""
    return any(len(l) == 76 and not l.endswith(b"=") for l in enc.split(b"\r\n"))


# ---------------------------------------------------------------------------
# base64

def check_base64():
    data = [rbytes(n) for n in sizes(2)]
    desc = "%d random inputs, 0..100000 bytes" % len(data)
    py76 = [base64.encodebytes(x).replace(b"\n", b"\r\n") for x in data]
    py0 = [base64.b64encode(x) for x in data]
    for seed, how in ((0, "whole"), (7, "random splits and room")):
        got = ours("b64:76", data, seed)
        bad = [i for i in range(len(data)) if got[i] != py76[i]]
        if bad:
            report_diff("base64/76, %d bytes" % len(data[bad[0]]), got[bad[0]], py76[bad[0]])
        ok(not bad, "base64/76 (%s) = Python base64.encodebytes with CRLF: %s" % (how, desc))
        got = ours("b64:0", data, seed)
        bad = [i for i in range(len(data)) if got[i] != py0[i]]
        if bad:
            report_diff("base64/0, %d bytes" % len(data[bad[0]]), got[bad[0]], py0[bad[0]])
        ok(not bad, "base64/0 (%s) = Python base64.b64encode: %s" % (how, desc))
    if LUA is None:
        for d in ("base64/0 = LuaSocket mime.b64", "base64/76 = LuaSocket wrap(base64)",
                  "references: Python b64encode = LuaSocket mime.b64"):
            skip(d, "no Lua with LuaSocket")
        return
    lb = luasocket("lua_b64", data)
    lw = luasocket("lua_b64w", data)
    got0 = ours("b64:0", data, 3)
    got76 = ours("b64:76", data, 3)
    bad = [i for i in range(len(data)) if got0[i] != lb[i]]
    if bad:
        report_diff("base64/0 vs LuaSocket", got0[bad[0]], lb[bad[0]])
    ok(not bad, "base64/0 (random splits) = LuaSocket mime.b64 (%s): %s" % (LUA, desc))
    bad = [i for i in range(len(data)) if got76[i] != lw[i]]
    if bad:
        report_diff("base64/76 vs LuaSocket", got76[bad[0]], lw[bad[0]])
    ok(not bad, "base64/76 (random splits) = LuaSocket encode(base64) | wrap(base64): %s" % desc)
    ok(all(lb[i] == py0[i] and lw[i] == py76[i] for i in range(len(data))),
       "references agree: LuaSocket and Python base64, with and without lines")


# ---------------------------------------------------------------------------
# quoted-printable against Python

def check_qp_python():
    data = [python_agreeing_text() for _ in range(60)]
    while sum(len(x) for x in data) < 300000 or max(len(x) for x in data) < 60000:
        data.append(b"".join(python_agreeing_text() for _ in range(20)))
    ref = [python_qp_text(x) for x in data]
    desc = "%d inputs where the rules agree, up to %d bytes" % (len(data), max(len(x) for x in data))
    for seed, how in ((0, "whole"), (11, "random splits and room")):
        got = ours("qp", data, seed)
        bad = [i for i in range(len(data)) if got[i] != ref[i]]
        if bad:
            report_diff("qp vs quopri", got[bad[0]], ref[bad[0]])
            diag("input: %s" % show(data[bad[0]], 400))
        ok(not bad, "QP text (%s) = Python quopri.encodestring: %s" % (how, desc))

    anyin = [any_text(n) for n in sizes(2)]
    for kind in ("qp", "qp:safe"):
        got = ours(kind, anyin, 5)
        bad = [i for i in range(len(anyin))
               if binascii.a2b_qp(got[i]) != normalise_crlf(anyin[i])]
        if bad:
            diag("input: %s" % show(anyin[bad[0]]))
            diag("ours: %s" % show(got[bad[0]]))
        same = sum(1 for i in range(len(anyin)) if got[i] == python_qp_text(anyin[i]))
        ok(not bad, "%s: Python binascii.a2b_qp decodes ours back to the input (CRLF) on %d "
           "inputs of any text (%d byte-identical to quopri)" % (kind, len(anyin), same))

    bins = [rbytes(n).replace(b"\n", b"\x0b") for n in sizes(1)]
    bins = [x[:-1] + b"x" if x else x for x in bins]
    ref = [python_qp_binary(x) for x in bins]
    for seed, how in ((0, "whole"), (13, "random splits and room")):
        got = ours("qp:binary", bins, seed)
        bad = [i for i in range(len(bins)) if got[i] != ref[i]]
        if bad:
            report_diff("qp binary vs b2a_qp", got[bad[0]], ref[bad[0]])
        ok(not bad, "QP binary (%s) = Python binascii.b2a_qp(istext=False): %d random inputs "
           "without LF, a letter last" % (how, len(bins)))
    anybin = [rbytes(n) for n in sizes(1)]
    got = ours("qp:binary", anybin, 17)
    ok(all(binascii.a2b_qp(got[i]) == anybin[i] for i in range(len(anybin))),
       "QP binary: Python binascii.a2b_qp decodes ours back on %d random inputs" % len(anybin))


# ---------------------------------------------------------------------------
# quoted-printable and eol against LuaSocket

def lua_strip_tail(x):
    return re.sub(rb"(=\r\n)+\Z", b"", x)


def check_luasocket():
    if LUA is None:
        for d in ("QP text = LuaSocket qp chain", "eol = LuaSocket mime.eol"):
            skip(d, "no Lua with LuaSocket")
        return
    data = []
    for n in sizes(2):
        x = normalise_crlf(any_text(n))
        if not x.endswith(b"\r\n"):
            x += b"xy"
        data.append(x)
    data += [normalise_crlf(python_agreeing_text()) + b"yz" for _ in range(40)]
    ref = luasocket("lua_qp", data)
    for seed, how in ((0, "whole"), (19, "random splits and room")):
        got = ours("qp", data, seed)
        used = [i for i in range(len(data)) if not hard_76(got[i])]
        bad = [i for i in used
               if got[i] != (lua_strip_tail(ref[i]) if not data[i].endswith(b"\r\n") else ref[i])]
        if bad:
            report_diff("qp vs LuaSocket", got[bad[0]], ref[bad[0]])
        ok(not bad and len(used) > len(data) // 3,
           "QP text (%s) = LuaSocket normalize | qp | qpwrap (%s), its final soft breaks "
           "removed: %d inputs (%d more left out: a 76-column line, L2)"
           % (how, LUA, len(used), len(data) - len(used)))

    eols = []
    for n in sizes(1):
        x = bytes(rng.choice(b"\r\n\r\nab \xff") for _ in range(n))
        while b"\n\r" in x or b"\r\r\n" in x:
            x = x.replace(b"\n\r", b"\nz\r").replace(b"\r\r\n", b"\rz\r\n")
        eols.append(x)
    ref = luasocket("lua_eol", eols)
    got = ours("eol", eols, 23)
    bad = [i for i in range(len(eols)) if got[i] != ref[i]]
    if bad:
        report_diff("eol vs LuaSocket", got[bad[0]], ref[bad[0]])
    ok(not bad, "eol (random splits) = LuaSocket mime.eol(0, x, CRLF): %d inputs without "
       "LF CR or CR CR LF (L3)" % len(eols))


# ---------------------------------------------------------------------------
# the differences, one vector each

def check_differences():
    a = lambda n: b"a" * n

    def both(label, x, kind, expect_ours, expect_ref, ref):
        got = ours1(kind, x)
        good = got == expect_ours and ref == expect_ref
        if not good:
            diag("input %s" % show(x))
            diag("ours %s, expected %s" % (show(got), show(expect_ours)))
            diag("reference %s, expected %s" % (show(ref), show(expect_ref)))
        ok(good, label)

    q = quopri.encodestring
    both("P1 quopri: a space at column 75 before a line break: '=20' ends at column 77; "
         "we move it after a soft break",
         a(74) + b" \n", "qp", a(74) + b"=\r\n=20\r\n", a(74) + b"=20\n", q(a(74) + b" \n"))
    both("P1 quopri: a space at column 76 before a line break: '=20' ends at column 78",
         a(75) + b" \n", "qp", a(75) + b"=\r\n=20\r\n", a(75) + b"=20\n", q(a(75) + b" \n"))
    both("P1 agrees: '=20' ending at column 76 before a line break",
         a(73) + b" \n", "qp", a(73) + b"=20\r\n", a(73) + b"=20\n", q(a(73) + b" \n"))
    both("P2 quopri: an escape that would end a line at column 76 goes after a soft break; "
         "we keep it", a(73) + b"=\n", "qp", a(73) + b"=3D\r\n", a(73) + b"=\n=3D\n",
         q(a(73) + b"=\n"))
    both("P2 quopri: the same at the end of the input", a(73) + b"=", "qp", a(73) + b"=3D",
         a(73) + b"=\n=3D", q(a(73) + b"="))
    both("P3 quopri: a bare CR is written raw; we make it a line break",
         b"a\rb", "qp", b"a\r\nb", b"a\rb", q(b"a\rb"))
    both("P4 quopri: '.' alone on a line is escaped even without safe mode",
         b".\n", "qp", b".\r\n", b"=2E\n", q(b".\n"))
    both("P4 quopri: a line-initial '.' with more after it is not; safe mode escapes it",
         b".x\n", "qp:safe", b"=2Ex\r\n", b".x\n", q(b".x\n"))
    both("P4 quopri: \"From \" is never escaped; safe mode escapes the F",
         b"From x\n", "qp:safe", b"=46rom x\r\n", b"From x\n", q(b"From x\n"))
    both("P5 quopri: a letter at column 76 before CRLF gets a soft break, before LF not; "
         "we never break there", a(76) + b"\r\n", "qp", a(76) + b"\r\n",
         a(75) + b"=\r\na\r\n", q(a(76) + b"\r\n"))
    both("P5 agrees on LF: a letter at column 76 before LF stays",
         a(76) + b"\n", "qp", a(76) + b"\r\n", a(76) + b"\n", q(a(76) + b"\n"))
    both("P6 quopri: the first line's LF makes a later CRLF an LF",
         b"a\nb\r\nc", "qp", b"a\r\nb\r\nc", b"a\nb\nc", q(b"a\nb\r\nc"))
    both("P6 quopri: the first line's CRLF makes a later LF a CRLF",
         b"a\r\nb\nc", "qp", b"a\r\nb\r\nc", b"a\r\nb\r\nc", q(b"a\r\nb\nc"))
    both("P7 b2a_qp binary: a letter at column 76 before an LF byte makes a 77-character "
         "line", a(75) + b"b\nc", "qp:binary", a(75) + b"=\r\nb=0Ac",
         a(75) + b"b=\n=0Ac", binascii.b2a_qp(a(75) + b"b\nc", istext=False))
    if LUA is None:
        skip("L1-L5 LuaSocket vectors", "no Lua with LuaSocket")
        return
    vec = [b"abc", a(75) + b"xy", a(72) + b" ", a(76) + b"\r\n", a(73) + b" ", b"a\n\rb",
           b"a  ", b"x y", b".\r\nFrom x\r\n", b"abc\r\n", b"a\r\r\nb"]
    ref = luasocket("lua_qp", vec)
    eol = luasocket("lua_eol", [b"a\n\rb", b"a\r\r\nb"])
    both("L1 LuaSocket: a soft break is added at the end", b"abc", "qp", b"abc", b"abc=\r\n",
         ref[0])
    both("L1 LuaSocket: also after a soft break", a(75) + b"xy", "qp",
         a(75) + b"=\r\nxy", a(75) + b"=\r\nxy=\r\n", ref[1])
    both("L1+L4 LuaSocket: '=20' then '=' on a line of its own", a(72) + b" ", "qp",
         a(72) + b"=20", a(72) + b"=20=\r\n=\r\n", ref[2])
    both("L1 agrees: nothing added after a final line break", b"abc\r\n", "qp", b"abc\r\n",
         b"abc\r\n", ref[9])
    both("L2 LuaSocket: no 76-character line before a hard break", a(76) + b"\r\n", "qp",
         a(76) + b"\r\n", a(75) + b"=\r\na\r\n", ref[3])
    both("L2 LuaSocket: nor at the end ('=20' to column 76)", a(73) + b" ", "qp",
         a(73) + b"=20", a(73) + b"=\r\n=20=\r\n", ref[4])
    both("L3 LuaSocket: LF CR is one line break (normalize)", b"a\n\rb", "qp", b"a\r\n\r\nb",
         b"a\r\nb=\r\n", ref[5])
    both("L3 LuaSocket: LF CR is one line break (mime.eol)", b"a\n\rb", "eol", b"a\r\n\r\nb",
         b"a\r\nb", eol[0])
    both("L3 LuaSocket: CR CR LF is three line breaks (mime.eol); for us CR, CRLF",
         b"a\r\r\nb", "eol", b"a\r\n\r\nb", b"a\r\n\r\n\r\nb", eol[1])
    both("L3 LuaSocket: CR CR LF is three line breaks (normalize)", b"a\r\r\nb", "qp",
         b"a\r\n\r\nb", b"a\r\n\r\n\r\nb=\r\n", ref[10])
    both("L4 LuaSocket: both of two final spaces escaped", b"a  ", "qp", b"a =20",
         b"a=20=20=\r\n", ref[6])
    both("L4 LuaSocket: a space before the last letter escaped", b"x y", "qp", b"x y",
         b"x=20y=\r\n", ref[7])
    both("L5 LuaSocket: no safe mode ('.' and From at line starts stay)",
         b".\r\nFrom x\r\n", "qp:safe", b"=2E\r\n=46rom x\r\n", b".\r\nFrom x\r\n", ref[8])


def main():
    if TOOL is None or not os.access(TOOL, os.X_OK):
        print("1..0 # SKIP usage: ref_enc.py TOOL (build/c/test_mime_enc_ref)")
        return 0
    print("# seed %d (set TAP_SEED to reproduce)" % SEED)
    print("# LuaSocket: %s" % (LUA or "not found"))
    try:
        check_base64()
        check_qp_python()
        check_luasocket()
        check_differences()
    except Exception as e:  # a crash of the tool or of Lua is a failure
        ok(False, "reference comparison ran to the end: %s" % e)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print("1..%d" % count)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
