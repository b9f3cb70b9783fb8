#!/usr/bin/python3
"""make demo: show what the capture server received (envelope, structure
as Python's email parser sees it, and the raw message, abridged)."""
import base64
import email
import email.policy
import hashlib
import json
import sys

with open(sys.argv[1]) as f:
    cap = json.load(f)
raw = base64.b64decode(cap["data_b64"])
with open(sys.argv[2], "rb") as f:
    attachment = f.read()

print("=== envelope")
print("MAIL FROM:", cap["mail_from"])
print("RCPT TO:  ", ", ".join(cap["rcpt_tos"]))
print("EHLO:     ", cap["helo"])
print()
print("=== message as parsed by Python's email package")
msg = email.message_from_bytes(raw, policy=email.policy.default)
for part in msg.walk():
    depth = 0 if part is msg else 1
    line = "  " * depth + part.get_content_type()
    if not part.is_multipart():
        payload = part.get_payload(decode=True)
        line += " (%d bytes" % len(payload)
        if part.get_filename():
            same = payload == attachment
            line += ", file %s, sha256 %s, %s" % (
                part.get_filename(), hashlib.sha256(payload).hexdigest()[:16],
                "identical to the file sent" if same else "DIFFERENT FROM THE FILE SENT")
        line += ")"
    print(line)
print("defects:", [d.__class__.__name__ for p in msg.walk() for d in p.defects] or "none")
print()
print("=== raw message (%d bytes, long base64 runs abridged)" % len(raw))
lines = raw.decode("latin-1").split("\r\n")
b64_run = 0
for ln in lines:
    is_b64 = len(ln) == 76 and " " not in ln
    b64_run = b64_run + 1 if is_b64 else 0
    if b64_run == 4:
        print("    [...]")
    if b64_run < 4:
        print("    " + ln)
ok = any(p.get_payload(decode=True) == attachment for p in msg.walk() if not p.is_multipart())
sys.exit(0 if ok else 1)
