# src/sources.mk -- the one list of C sources in socket.smtp.core.
#
# Read by the Makefile (include), checked against the rockspec by
# spec/build_spec.lua, and used by spec/c/run.sh and fuzz/run.sh (which
# name engines by file name and find them here). Add a file here only.
#
# The layers, bottom up (doc/design.md, "Layout"):
#   src/base  the error vocabulary, the limits, OS random bytes
#   src/smtp  the protocol engine: replies, capabilities, commands, session
#   src/mime  the message engine: encoders, headers, generator, DATA filter
#   src/sasl  the SASL engine and its hashes
#   src/lua   the bindings: Lua values in, engine calls, Lua values out
# An engine includes headers of its own layer or a lower one, never Lua's.

BASE_SRC := src/base/smtp_errors.c src/base/smtp_random.c
SMTP_SRC := src/smtp/smtp_reply.c src/smtp/smtp_caps.c src/smtp/smtp_cmd.c \
            src/smtp/smtp_client.c src/smtp/smtp_host.c
MIME_SRC := src/mime/mime_body.c src/mime/mime_enc.c src/mime/mime_hdr.c \
            src/mime/mime_gen.c src/mime/mime_msg.c
SASL_SRC := src/sasl/sasl.c src/sasl/sasl_hash.c
ENGINE_SRC := $(BASE_SRC) $(SMTP_SRC) $(MIME_SRC) $(SASL_SRC)
BINDING_SRC := src/lua/lsmtp.c src/lua/lmime.c src/lua/lmime_gen.c src/lua/lfile.c \
               src/lua/lmime_enc.c src/lua/lsasl.c src/lua/lhost.c \
               src/lua/lbind.c
