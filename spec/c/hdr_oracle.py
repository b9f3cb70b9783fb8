#!/usr/bin/python3
"""hdr_oracle.py -- Python's email package as the oracle for mime_hdr.

    /usr/bin/python3 spec/c/hdr_oracle.py build/c/hdr_tool [count] [seed]

Generates `count` header fields per family (random mixes of ASCII, Latin-1,
CJK and emoji words, "=?...?=" look-alikes, words of up to 1500 octets,
address lists with non-ASCII display names and groups, file names), has
hdr_tool format all of them in one batch, then parses every field with
Python's email package and checks that it gives back the input:

  - unstructured (Subject, X-*): str(msg[name]) under email.policy.default
    equals the value, and email.header.decode_header finds the same text;
  - addresses (To, From, Cc): headerregistry gives the same addr-specs, in
    order, inside the same groups, and the same display names;
  - parameters: msg.get_filename(), msg.get_param() and the header's
    .params give the file name back (RFC 2231 and continuations);
  - structured (Message-ID, References): the unfolded value equals the
    input;
  - MIME_HDR_UTF8 (raw UTF-8): parsed from text, same checks;
and that Python reports no defect on the header or the message. Every
output is also checked for its form: CRLF line ends, no line over 998
octets, continuation lines starting with SP or HTAB, no line of white space
only, ASCII only unless MIME_HDR_UTF8, and a line over 78 octets only
where it holds no white space to fold at.

A note on display names split over several encoded-words: RFC 2047 6.2
drops the white space between adjacent encoded-words, and so do
email.header.decode_header and email.utils, but the modern parser of
Python < 3.14 keeps it inside a phrase (CPython gh-128110, fixed by
PR 130749). For those names this oracle takes the display name from
getaddresses() + decode_header(); it prints how often it had to.

Output is TAP: one test line per family, diagnostics for the first few
failures ("# ..."). Exit status 1 when a test failed.
"""
import email
import email.header
import email.utils
import random
import subprocess
import sys
from email import policy

TOOL = sys.argv[1] if len(sys.argv) > 1 else "build/c/hdr_tool"
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 300
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 20240601
UTF8 = 1

rng = random.Random(SEED)

ASCII_WORDS = ["hello", "world", "Re:", "Fwd:", "invoice", "#42", "a", "(x)",
               "[list]", "don't", "50%", "e-mail", "x=y", "foo?bar", "_under_",
               "tab", "quote\"d", "semi;colon", "comma,", "dot.", "back\\slash",
               "<angle>", "a@b.c", "!", "?", "=", "=?", "?="]
LATIN = ["Grüße", "Köln", "über", "café", "naïve", "Ærøskøbing", "façade",
         "señor", "Müller", "ß", "Ünïcödé", "à", "éé", "déjà-vu"]
CJK = ["日本語", "テキスト", "件名", "中文", "한국어", "漢字かな交じり文", "。", "（括弧）"]
EMOJI = ["😀", "🎉🎉", "👍🏽", "🇯🇵", "💌mail", "x😀y", "🧑‍💻"]
EWLIKE = ["=?x?=", "=?utf-8?q?abc?=", "=?ISO-8859-1?Q?a?=", "a=?b?=c", "=??="]
CTRL = ["\x01", "bell\x07", "\x7f", "esc\x1b[0m"]


def rand_word():
    r = rng.random()
    if r < 0.40:
        return rng.choice(ASCII_WORDS)
    if r < 0.60:
        return rng.choice(LATIN)
    if r < 0.75:
        return rng.choice(CJK)
    if r < 0.85:
        return rng.choice(EMOJI)
    if r < 0.90:
        return rng.choice(EWLIKE)
    if r < 0.93:
        return rng.choice(CTRL)
    # a long word: ASCII or not, up to 1500 octets
    n = rng.choice([70, 77, 200, 990, 997, 998, 999, 1200, 1500])
    base = rng.choice(["x", "é", "語", "😀", "ab"])
    s = ""
    while len((s + base).encode()) <= n:
        s += base
    return s or base


def rand_ws():
    return rng.choice([" ", " ", " ", "  ", "\t", " \t "])


def rand_text(maxwords):
    n = rng.randint(1, maxwords)
    out = rand_word()
    for _ in range(n - 1):
        out += rand_ws() + rand_word()
    return out


def rand_local():
    return rng.choice(["a", "john.doe", "x_y", "info", "very.long.local.part.here",
                       "u" * rng.randint(1, 40)])


def rand_domain():
    return rng.choice(["example.com", "b.c", "mail.example.org", "xn--bcher-kva.example",
                       "sub." * rng.randint(1, 5) + "example.net"])


def rand_display():
    """(as written, expected display name)"""
    r = rng.random()
    if r < 0.15:
        return None, ""
    words = [w for w in (rand_word() for _ in range(rng.randint(1, 5)))
             if w not in ("", )]
    words = [w for w in words if len(w.encode()) < 300 and not any(c in w for c in CTRL_CHARS)]
    if not words:
        words = ["Name"]
    name = " ".join(words)
    if r < 0.35 and all(is_atom(w) for w in words):
        return name, name
    # quoted-string: escape " and \
    q = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return q, name


CTRL_CHARS = "".join(chr(c) for c in range(32) if c != 9) + "\x7f"
ATEXT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")


def is_atom(w):
    return all(c in ATEXT or ord(c) > 127 for c in w) and "=?" not in w


def rand_mailbox():
    disp, name = rand_display()
    addr = rand_local() + "@" + rand_domain()
    if disp is None:
        return addr, ("", addr)
    return disp + " <" + addr + ">", (name, addr)


def rand_address_list():
    """(value, expected): expected is a list of (group or None, [(name, addr)])"""
    parts, expected = [], []
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.15:
            gdisp, gname = rand_display()
            if gdisp is None:
                gdisp, gname = "Group", "Group"
            members = [rand_mailbox() for _ in range(rng.randint(0, 3))]
            parts.append(gdisp + ": " + ", ".join(m[0] for m in members) + ";")
            expected.append((gname, [m[1] for m in members]))
        else:
            text, exp = rand_mailbox()
            parts.append(text)
            expected.append((None, [exp]))
    sep = rng.choice([", ", ",", ",  ", " , "])
    return sep.join(parts), expected


def rand_filename():
    r = rng.random()
    if r < 0.3:
        stem = rand_text(4)
    elif r < 0.6:
        stem = "".join(rng.choice("abcdefghij_-. ") for _ in range(rng.randint(1, 600)))
    else:
        stem = "".join(rng.choice(["é", "語", "😀", "a", " ", "%", "'", "*", "\"", "\\", ";"])
                       for _ in range(rng.randint(1, 300)))
    stem = "".join(c for c in stem if c not in CTRL_CHARS).strip() or "file"
    return stem + rng.choice([".pdf", ".txt", "", ".tar.gz"])


def rand_msgid():
    atoms = ["".join(rng.choice("abcdef0123456789$") for _ in range(rng.randint(1, 20)))
             for _ in range(rng.randint(1, 4))]
    return "<" + ".".join(atoms) + "@" + rand_domain() + ">"


# ---- run the tool -----------------------------------------------------------

def run_batch(cases):
    data = bytearray()
    for flags, name, value in cases:
        n, v = name.encode(), value.encode()
        data += b"%d %d %d\n" % (flags, len(n), len(v)) + n + v
    out = subprocess.run([TOOL, "--batch"], input=bytes(data), stdout=subprocess.PIPE,
                         check=True).stdout
    res, i = [], 0
    for _ in cases:
        nl = out.index(b"\n", i)
        rc, ln = out[i:nl].split(b" ")
        ln = int(ln)
        res.append((rc.decode(), out[nl + 1:nl + 1 + ln]))
        i = nl + 1 + ln
    return res


def form_problems(raw, flags):
    """Everything wrong with the shape of one formatted field."""
    probs = []
    if not raw.endswith(b"\r\n"):
        probs.append("no final CRLF")
    body = raw[:-2]
    if b"\r" in body.replace(b"\r\n", b"") or b"\n" in body.replace(b"\r\n", b""):
        probs.append("bare CR or LF")
    lines = body.split(b"\r\n")
    for k, line in enumerate(lines):
        if len(line) > 998:
            probs.append("line %d has %d octets" % (k, len(line)))
        if k > 0 and not line[:1] in (b" ", b"\t"):
            probs.append("continuation line %d starts with %r" % (k, line[:1]))
        if k > 0 and line.strip(b" \t") == b"":
            probs.append("line %d is white space only" % k)
        if len(line) > 78:
            # only when it could not be folded: no white space inside it
            # (after "Name: " and leading white space; not after a '\\')
            text = line.split(b": ", 1)[1] if k == 0 else line
            text = text.strip(b" \t")
            if any(c in b" \t" and text[i - 1:i] != b"\\" for i, c in enumerate(text)):
                probs.append("line %d has %d octets and could have been folded" % (k, len(line)))
    if not flags & UTF8 and any(b > 127 for b in raw):
        probs.append("non-ASCII octet")
    return probs


def parse(raw, flags):
    if flags & UTF8:
        return email.message_from_string(raw.decode("utf-8") + "\r\nbody\r\n",
                                         policy=policy.default)
    return email.message_from_bytes(raw + b"\r\nbody\r\n", policy=policy.default)


def unfold(raw):
    text = raw.decode("utf-8")[:-2].replace("\r\n", "")
    return text.split(":", 1)[1][1:]


def legacy_decode(s):
    return str(email.header.make_header(email.header.decode_header(s)))


# ---- checks per family --------------------------------------------------------

class Family:
    def __init__(self, title):
        self.title, self.n, self.bad, self.notes, self.long78 = title, 0, [], {}, 0

    def fail(self, case, raw, why):
        self.bad.append((case, raw, why))

    def note(self, what):
        self.notes[what] = self.notes.get(what, 0) + 1


def check_unstructured(fam, case, raw, msg):
    _, name, value = case
    h = msg[name]
    if h is None:
        return fam.fail(case, raw, "header missing")
    if str(h) != value:
        return fam.fail(case, raw, "policy.default gives %r" % str(h))
    if h.defects:
        return fam.fail(case, raw, "defects %r" % (h.defects,))
    if not case[0] & UTF8:
        # the legacy API: decode_header of the unfolded value; it joins a
        # plain word and an encoded-word with one space whatever was there,
        # so compare with runs of white space collapsed
        got = legacy_decode(unfold(raw))
        if " ".join(got.split()) != " ".join(value.split()):
            return fam.fail(case, raw, "decode_header gives %r" % got)


def check_address(fam, case, raw, msg, expected):
    _, name, value = case
    h = msg[name]
    if h is None:
        return fam.fail(case, raw, "header missing")
    if h.defects:
        return fam.fail(case, raw, "defects %r" % (h.defects,))
    groups = h.groups
    if len(groups) != len(expected):
        return fam.fail(case, raw, "%d groups, expected %d: %r" % (len(groups), len(expected), groups))
    legacy = None
    for g, (gname, members) in zip(groups, expected):
        if (g.display_name or None) != (gname if gname is not None else None):
            if gname is None or g.display_name is None:
                return fam.fail(case, raw, "group %r, expected %r" % (g.display_name, gname))
            fam.note("group name via decode_header (gh-128110)")
        if len(g.addresses) != len(members):
            return fam.fail(case, raw, "group %r: %d addresses, expected %d"
                            % (gname, len(g.addresses), len(members)))
        for a, (dname, addr) in zip(g.addresses, members):
            if a.addr_spec != addr:
                return fam.fail(case, raw, "addr-spec %r, expected %r" % (a.addr_spec, addr))
            if a.display_name != dname:
                # gh-128110: Python < 3.14 keeps the space between adjacent
                # encoded-words of a phrase; decode with the legacy API
                if legacy is None:
                    text = unfold(raw)
                    legacy = {}
                    for lname, laddr in email.utils.getaddresses([text]):
                        legacy.setdefault(laddr, []).append(legacy_decode(lname))
                names = legacy.get(addr, [])
                if dname in names:
                    fam.note("display name via getaddresses+decode_header (gh-128110)")
                    continue
                return fam.fail(case, raw, "display name %r (legacy %r), expected %r"
                                % (a.display_name, names, dname))


def check_filename(fam, case, raw, msg, fname):
    _, name, value = case
    h = msg[name]
    if h is None:
        return fam.fail(case, raw, "header missing")
    if h.defects:
        return fam.fail(case, raw, "defects %r" % (h.defects,))
    key = "filename" if name.lower() == "content-disposition" else "name"
    got = h.params.get(key)
    if got != fname:
        return fam.fail(case, raw, "params[%r] = %r" % (key, got))
    # the legacy API on the raw field (under policy.default get_param would
    # re-parse the decoded, re-quoted value, which it gets wrong for names
    # with both '\\' and '"')
    old = email.message_from_bytes(raw + b"\r\nbody\r\n", policy=policy.compat32)
    if key == "filename":
        got = old.get_filename()
    else:
        got = old.get_param("name")
        if isinstance(got, tuple):
            got = email.utils.collapse_rfc2231_value(got)
    if got != fname:
        return fam.fail(case, raw, "get_filename/get_param = %r" % (got,))


def check_structured(fam, case, raw, msg):
    _, name, value = case
    h = msg[name]
    if h is None:
        return fam.fail(case, raw, "header missing")
    if h.defects:
        return fam.fail(case, raw, "defects %r" % (h.defects,))
    if unfold(raw) != value:
        return fam.fail(case, raw, "unfolded %r" % unfold(raw))
    if str(h) != value:
        return fam.fail(case, raw, "policy.default gives %r" % str(h))


def main():
    fams = []
    cases = []  # (family, case, extra)

    def add(fam, case, extra=None):
        cases.append((fam, case, extra))

    f_uns = Family("unstructured (Subject, X-*) decodes to its input")
    f_uns8 = Family("unstructured with MIME_HDR_UTF8 (raw UTF-8) reads back")
    f_addr = Family("address lists: addr-specs, groups and display names come back")
    f_addr8 = Family("address lists with MIME_HDR_UTF8 come back")
    f_par = Family("Content-Disposition/Content-Type file names come back (RFC 2231)")
    f_str = Family("structured (Message-ID, References) unfolds to its input")
    fams = [f_uns, f_uns8, f_addr, f_addr8, f_par, f_str]

    for _ in range(COUNT):
        name = rng.choice(["Subject", "subject", "X-Custom-Header", "Comments", "Keywords"])
        add(f_uns, (0, name, rand_text(rng.choice([3, 10, 40, 120]))))
        text = rand_text(rng.choice([3, 10, 40]))
        text = "".join(c for c in text if c not in CTRL_CHARS).strip(" \t") or "x"
        add(f_uns8, (UTF8, "Subject", text))
        value, exp = rand_address_list()
        add(f_addr, (0, rng.choice(["To", "From", "Cc", "reply-to"]), value), exp)
        value, exp = rand_address_list()
        add(f_addr8, (UTF8, "To", value), exp)
        fname = rand_filename()
        quoted = '"' + fname.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if rng.random() < 0.5:
            add(f_par, (0, "Content-Disposition", "attachment; filename=" + quoted +
                        rng.choice(["", "; size=100"])), fname)
        else:
            add(f_par, (0, "Content-Type", "application/octet-stream; name=" + quoted), fname)
        if rng.random() < 0.5:
            add(f_str, (0, "Message-ID", rand_msgid()))
        else:
            add(f_str, (0, "References", " ".join(rand_msgid() for _ in range(rng.randint(1, 40)))))

    results = run_batch([c for _, c, _ in cases])
    for (fam, case, extra), (rc, raw) in zip(cases, results):
        fam.n += 1
        if rc != "0":
            fam.fail(case, raw, "error " + rc)
            continue
        probs = form_problems(raw, case[0])
        if probs:
            fam.fail(case, raw, "; ".join(probs))
            continue
        fam.long78 += sum(1 for line in raw[:-2].split(b"\r\n") if len(line) > 78)
        try:
            msg = parse(raw, case[0])
        except Exception as e:  # noqa: BLE001 -- report any parser failure
            fam.fail(case, raw, "parser raised %r" % e)
            continue
        if msg.defects:
            fam.fail(case, raw, "message defects %r" % (msg.defects,))
            continue
        if fam in (f_uns, f_uns8):
            check_unstructured(fam, case, raw, msg)
        elif fam in (f_addr, f_addr8):
            check_address(fam, case, raw, msg, extra)
        elif fam is f_par:
            check_filename(fam, case, raw, msg, extra)
        else:
            check_structured(fam, case, raw, msg)

    print("# hdr_oracle: seed %d, %d cases per family, Python %s"
          % (SEED, COUNT, sys.version.split()[0]))
    failed = 0
    for k, fam in enumerate(fams, 1):
        ok = not fam.bad
        failed += not ok
        print("%sok %d - oracle: %s (%d cases, %d failed)"
              % ("" if ok else "not ", k, fam.title, fam.n, len(fam.bad)))
        for what, cnt in sorted(fam.notes.items()):
            print("#   %s: %d" % (what, cnt))
        print("#   lines over 78 octets: %d" % fam.long78)
        for case, raw, why in fam.bad[:5]:
            print("#   FAIL %s" % why)
            print("#     in:  %r" % (case,))
            print("#     out: %r" % raw[:600])
    print("1..%d" % len(fams))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
