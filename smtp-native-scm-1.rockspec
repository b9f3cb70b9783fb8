rockspec_format = "3.0"
package = "smtp-native"
version = "scm-1"
source = {
    url = "git+https://github.com/smtp-native/smtp-native.git",
}
description = {
    summary = "LuaSocket's socket.smtp on a sans-I/O C core: a faster drop-in replacement",
    detailed = [[
smtp-native is LuaSocket's socket.smtp rebuilt on a C protocol engine:
the same API (smtp.send, smtp.message, smtp.open), with PIPELINING,
HELO fallback, per-recipient reports, strict reply parsing with hard
bounds, CR/LF injection refused in every argument and end-of-data
smuggling made impossible. Every yield happens in Lua, so it runs on
LuaSocket, on OpenResty cosockets and under coroutine schedulers.
]],
    homepage = "https://github.com/smtp-native/smtp-native",
    license = "MIT",
}
dependencies = {
    "lua >= 5.1, < 5.5",
    "luasocket >= 3.0",
}
build = {
    type = "builtin",
    modules = {
        -- Not "socket.smtp": the luasocket rock provides that name, and
        -- LuaRocks would deploy ours under a mangled file name, where
        -- require() never finds it. One line makes every
        -- require("socket.smtp") return this module (README, "Install"):
        --     package.loaded["socket.smtp"] = require("smtp_native")
        ["smtp_native"] = "lua/smtp_native.lua",
        ["socket.smtp.session"] = "lua/socket/smtp/session.lua",
        ["socket.smtp.args"] = "lua/socket/smtp/args.lua",
        ["socket.smtp.driver"] = "lua/socket/smtp/driver.lua",
        ["socket.smtp.transport"] = "lua/socket/smtp/transport.lua",
        ["socket.smtp.message"] = "lua/socket/smtp/message.lua",
        ["socket.smtp.tls"] = "lua/socket/smtp/tls.lua",
        ["socket.smtp.core"] = {
            -- src/sources.mk is the list; spec/build_spec.lua checks this copy.
            sources = {
                "src/base/smtp_errors.c",
                "src/base/smtp_random.c",
                "src/smtp/smtp_reply.c",
                "src/smtp/smtp_caps.c",
                "src/smtp/smtp_cmd.c",
                "src/smtp/smtp_client.c",
                "src/smtp/smtp_host.c",
                "src/mime/mime_body.c",
                "src/mime/mime_enc.c",
                "src/mime/mime_hdr.c",
                "src/mime/mime_gen.c",
                "src/mime/mime_msg.c",
                "src/sasl/sasl.c",
                "src/sasl/sasl_hash.c",
                "src/lua/lsmtp.c",
                "src/lua/lmime.c",
                "src/lua/lmime_gen.c",
                "src/lua/lfile.c",
                "src/lua/lmime_enc.c",
                "src/lua/lsasl.c",
                "src/lua/lhost.c",
                "src/lua/lbind.c",
            },
            incdirs = { "src" },
        },
    },
    copy_directories = { "doc" },
}
