#!/usr/bin/python3
"""Generate the state diagram of doc/design.md from the transition table
in src/smtp/smtp_client.c (h11 style: the diagram cannot drift from the code).

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


def states():
    text = open(HDR).read()
    block = text[text.index("#define SMTP_STATES(X)"):]
    block = block[:block.index("\n\n")]
    return re.findall(r"X\((\w+),", block)


def transitions(names):
    text = open(SRC).read()
    table = text[text.index("transitions[SMTP_C__COUNT][SMTP_S__COUNT]"):]
    table = table[:table.index("};")]
    edges = []
    for cmd, row in re.findall(r"\[SMTP_C_(\w+)\]\s*=\s*\{([^}]*)\}", table):
        cells = [c.strip() for c in row.split(",") if c.strip()]
        for i, cell in enumerate(cells):
            m = re.match(r"S\((\w+)\)", cell)
            if m:
                edges.append((names[i], m.group(1), cmd))
    return edges


def diagram():
    names = states()
    lines = ["```mermaid", "stateDiagram-v2", "    [*] --> CONNECTED"]
    for src, dst, cmd in transitions(names):
        lines.append("    %s --> %s: %s" % (src, dst, cmd))
    # transitions made by replies (on_reply in smtp_client.c)
    lines += [
        "    DATA --> BODY: 354",
        "    DATA --> MAIL: DATA refused",
        "    DATA --> READY: 354 without recipients (\".\" sent)",
        "    MAIL --> READY: MAIL refused",
        "    READY --> GREETED: EHLO/HELO refused",
        "    TLS --> READY: STARTTLS refused",
        "    TLS --> GREETED: tls_done (after the handshake)",
        "    LOST --> LOST: reply below 400 (SKIPPED, not the last word)",
        "    CONNECTED --> FAILED: peer fault",
        "    READY --> FAILED: peer fault",
        "    CLOSED --> [*]",
        "```",
    ]
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
