-- make demo: send a multipart message with an attachment through
-- smtp-native to a local capture server.
--   lua5.4 demo/demo.lua SERVER PORT ATTACHMENT
local smtp = require("socket.smtp")
local ltn12 = require("ltn12")
local mime = require("mime")

local server, port, attachment = arg[1], tonumber(arg[2]), arg[3]

local r, report = smtp.send{
    from = "<demo@example.com>",
    rcpt = { "<alice@example.com>", "<bob@example.com>" },
    server = server, port = port,
    source = smtp.message{
        headers = {
            from = "smtp-native demo <demo@example.com>",
            to = "Alice <alice@example.com>, Bob <bob@example.com>",
            subject = "smtp-native demo: a message with an attachment",
        },
        body = {
            preamble = "This is a MIME message.",
            [1] = {
                headers = { ["content-type"] = 'text/plain; charset="utf-8"' },
                body = "Hello from smtp-native!\r\n" ..
                       ".a line starting with a dot arrives intact\r\n" ..
                       "The attachment is streamed from disk, base64-encoded on the way.\r\n",
            },
            [2] = {
                headers = {
                    ["content-type"] = 'application/octet-stream; name="attachment.bin"',
                    ["content-disposition"] = 'attachment; filename="attachment.bin"',
                    ["content-transfer-encoding"] = "base64",
                },
                body = ltn12.source.chain(
                    ltn12.source.file(assert(io.open(attachment, "rb"))),
                    ltn12.filter.chain(mime.encode("base64"), mime.wrap())),
            },
        },
    },
}
if not r then
    io.stderr:write("send failed: ", tostring(report), "\n")
    os.exit(1)
end
print(("sent with %s: %s"):format(package.loaded["socket.smtp.core"]._VERSION, report.reply))
print("accepted: " .. table.concat(report.accepted, ", "))
