#!/usr/bin/python3
"""Parse a raw RFC 5322 message and print its structure as JSON.

  /usr/bin/python3 parse_email.py FILE      (or the message on stdin)

Uses Python's email parser with policy=email.policy.compat32. Every byte
string (header names and values, preamble, epilogue, payloads) is sent as
base64 so that arbitrary octets survive the trip to Lua; spec/helper.lua
decodes them. For the message and, recursively, for each part:

  headers_b64       [[name_b64, value_b64], ...] in order; values as the
                    parser stores them (folded lines keep their CRLF+WSP,
                    8-bit octets kept)
  content_type      get_content_type() (lower case, defaults applied)
  charset           get_content_charset() or null
  boundary          get_boundary() or null
  is_multipart      bool
  preamble_b64      or null
  epilogue_b64      or null
  parts             list of parts (multipart/* and message/rfc822)
  payload_b64       leaves: get_payload(decode=True)
  raw_payload_b64   leaves: get_payload(decode=False), the undecoded body
  filename_b64      get_filename() (RFC 2231 and 2047 decoded), UTF-8, or null
  decoded_b64       [value_b64, ...] parallel to headers_b64: each value
                    unfolded and RFC 2047-decoded, as UTF-8 bytes
  defects           defect class names
"""

import base64
import email
import email.header
import email.policy
import json
import re
import sys


def b64(value):
    if value is None:
        return None
    if isinstance(value, str):
        # The bytes parser keeps non-ASCII octets as surrogate escapes.
        value = value.encode("utf-8", "surrogateescape")
    return base64.b64encode(value).decode("ascii")


def decoded(value):
    """A header value unfolded and RFC 2047-decoded, as UTF-8 bytes (raw
    8-bit values are taken as they are)."""
    if not isinstance(value, str):
        value = str(value)
    value = re.sub(r"\r?\n(?=[ \t])", "", value)
    out = b""
    for text, charset in email.header.decode_header(value):
        if isinstance(text, str):
            text = text.encode("utf-8", "surrogateescape")
        elif charset and charset.lower() not in ("utf-8", "utf8", "us-ascii", "unknown-8bit"):
            text = text.decode(charset, "replace").encode("utf-8")
        out += text
    return out


def describe(msg):
    node = {
        # raw_items(): the values as parsed. items() would turn a value with
        # 8-bit octets into a Header object whose str() loses them.
        "headers_b64": [[b64(k), b64(v)] for k, v in msg.raw_items()],
        "decoded_b64": [b64(decoded(v)) for k, v in msg.raw_items()],
        "content_type": msg.get_content_type(),
        "charset": msg.get_content_charset(),
        "boundary": msg.get_boundary(),
        "is_multipart": msg.is_multipart(),
        "preamble_b64": b64(msg.preamble),
        "epilogue_b64": b64(msg.epilogue),
        "defects": [type(d).__name__ for d in msg.defects],
        "filename_b64": b64(msg.get_filename()),
        "parts": [],
    }
    if msg.is_multipart():
        node["parts"] = [describe(part) for part in msg.get_payload()]
    else:
        node["payload_b64"] = b64(msg.get_payload(decode=True) or b"")
        node["raw_payload_b64"] = b64(msg.get_payload(decode=False) or "")
    return node


def main(argv):
    if len(argv) > 1:
        with open(argv[1], "rb") as f:
            raw = f.read()
    else:
        raw = sys.stdin.buffer.read()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    json.dump(describe(msg), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
