#!/usr/bin/python3
"""Generate the state diagram of doc/design.md from the tables of the
state machine in src/smtp/smtp_client.c, and from nothing else (h11 style:
the diagram cannot drift from the code):

  transitions   the state a queued command leads to       "READY --> MAIL: MAIL"
  reply_moves   how a reply to a command corrects it      "MAIL --> READY: MAIL refused"
  event_moves   init, tls_done, a peer fault              "TLS --> GREETED: tls_done"

A reply_moves row for ANY state is drawn from the states its command
leads to when queued (transitions); an event_moves row for ANY from every
state but DEAD and its target, except the one that starts the engine
(from [*]).

  doc/gen_states.py           rewrite the diagram in doc/design.md
  doc/gen_states.py --check   exit 1 if doc/design.md is out of date
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src", "smtp", "smtp_client.c")
HDR = os.path.join(ROOT, "src", "smtp", "smtp_client.h")
DOC = os.path.join(ROOT, "doc", "design.md")
BEGIN, END = "<!-- states:begin -->", "<!-- states:end -->"


def block(text, start, end):
    """The text from start up to the first end after it."""
    text = text[text.index(start):]
    return text[:text.index(end)]


def xmacro(text, name):
    """The (id, label) pairs of an X-macro list #define NAME(X)."""
    body = block(text, "#define %s(X)" % name, "\n\n")
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return re.findall(r'X\((\w+),\s*"((?:[^"\\]|\\.)*)"\)', body)


def state(cell):
    """S(NAME) -> NAME, ANY -> None."""
    cell = cell.strip()
    if cell == "ANY":
        return None
    m = re.match(r"S\((\w+)\)$", cell)
    if not m:
        raise SystemExit("gen_states.py: cannot read state %r" % cell)
    return m.group(1)


def moves(text, name):
    """The rows of a smtp_move table: (what, from or None, to)."""
    body = block(text, "static const smtp_move %s[]" % name, "};")
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    body = body[body.index("{") + 1:]
    rows = []
    for row in re.findall(r"\{((?:[^{}()]|\([^()]*\))*)\}", body):
        cells = re.findall(r"\w+\([^()]*\)|\w+", row)
        rows.append((cells[0], state(cells[1]), state(cells[2])))
    return rows


def diagram():
    src, hdr = open(SRC).read(), open(HDR).read()
    names = [s for s, _ in xmacro(hdr, "SMTP_STATES")]
    table = block(src, "transitions[SMTP_C__COUNT][SMTP_S__COUNT]", "};")
    table = re.sub(r"/\*.*?\*/", "", table, flags=re.S)
    edges, leads_to = [], {}
    for cmd, row in re.findall(r"\[SMTP_C_(\w+)\]\s*=\s*\{([^}]*)\}", table):
        cells = [c.strip() for c in row.split(",") if c.strip()]
        for i, cell in enumerate(cells):
            if cell != "0":
                dst = state(cell)
                edges.append((names[i], dst, cmd))
                leads_to.setdefault(cmd, []).append(dst)
    classes = dict(xmacro(src, "SMTP_REPLY_CLASSES"))
    for what, frm, dst in moves(src, "reply_moves"):
        m = re.match(r"R\((\w+),\s*(\w+)\)$", what)
        cmd, klass = m.group(1), m.group(2)
        label = "%s %s" % (cmd, classes[klass])
        froms = [frm] if frm else sorted(set(leads_to.get(cmd, [])), key=names.index)
        edges += [(f, dst, label) for f in froms]
    events = dict(xmacro(src, "SMTP_EVENTS"))
    start = []
    for what, frm, dst in moves(src, "event_moves"):
        label = events[what[len("EV_"):]]
        if frm is None and not start:
            start.append("    [*] --> %s: %s" % (dst, label))
            continue
        froms = [frm] if frm else [s for s in names if s not in ("DEAD", dst)]
        edges += [(f, dst, label) for f in froms]
    lines = ["```mermaid", "stateDiagram-v2"] + start
    lines += ["    %s --> %s: %s" % e for e in edges]
    lines.append("```")
    return "\n".join(lines)


def main():
    doc = open(DOC).read()
    a, b = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    new = doc[:a] + "\n" + diagram() + "\n" + doc[b:]
    if "--check" in sys.argv:
        if new != doc:
            print("doc/design.md: the state diagram is out of date; run doc/gen_states.py")
            sys.exit(1)
        print("doc/design.md: state diagram up to date")
        return
    open(DOC, "w").write(new)


main()
