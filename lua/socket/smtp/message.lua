-----------------------------------------------------------------------------
-- socket.smtp.message: smtp.message(mesgt) as an LTN12 source.
--
-- LuaSocket's message structure (recursive multipart, preamble, epilogue,
-- string / LTN12 source / multipart bodies), produced by an explicit state
-- machine instead of a private coroutine: the user's body sources are
-- called from the source function itself, in the caller's frame, so they
-- may yield. Differences from LuaSocket, all keeping the message's meaning:
-- headers come in a stable order with canonical names, the caller's tables
-- are never modified, Date carries the time of the zone it names, header
-- values with CR, LF or NUL are refused (the source fails before emitting
-- anything), and boundaries are random.
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")
local show = require("socket.smtp.driver").show

local type, pairs, ipairs, tostring, tonumber, error = type, pairs, ipairs, tostring, tonumber, error
local string_lower, string_upper = string.lower, string.upper
local string_format, string_gsub, string_byte = string.format, string.gsub, string.byte
local string_find, string_match = string.find, string.match
local table_concat, table_sort = table.concat, table.sort
local os_time, os_date = os.time, os.date

local _M = {}

-- Canonical capitalisation: "x-custom-header" -> "X-Custom-Header", with
-- the usual exceptions.
local special = {
    ["mime-version"] = "MIME-Version", ["message-id"] = "Message-ID",
    ["content-id"] = "Content-ID", ["content-md5"] = "Content-MD5",
    ["dkim-signature"] = "DKIM-Signature", ["list-id"] = "List-ID",
    ["resent-message-id"] = "Resent-Message-ID",
}
local function canonic(name)
    return special[name] or (string_gsub(name, "(%w)(%w*)", function(a, b)
        return string_upper(a) .. b
    end))
end
_M.canonic = canonic

-- Headers come out in this order, then the others by name.
local order = {}
for i, name in ipairs({ "date", "from", "sender", "reply-to", "to", "cc", "bcc",
    "subject", "message-id", "in-reply-to", "references", "mime-version",
    "content-type", "content-transfer-encoding", "content-disposition",
    "content-description", "content-id", "x-mailer" }) do
    order[name] = i
end
local function before(a, b)
    local oa, ob = order[a], order[b]
    if oa and ob then return oa < ob end
    if oa or ob then return oa ~= nil end
    return a < b
end

-- Validated, lower-cased copy of a header table; nil, err when a name or a
-- value cannot be sent as it is.
local function lower_headers(headers, where)
    local lower = {}
    if headers == nil then return lower end
    if type(headers) ~= "table" then
        error(string_format("bad %s.headers (table expected, got %s)", where, type(headers)), 3)
    end
    for name, value in pairs(headers) do
        if type(name) ~= "string" then
            error(string_format("bad header name in %s (string expected, got %s)", where, type(name)), 3)
        end
        local tv = type(value)
        if tv == "number" then
            value = tostring(value)
        elseif tv ~= "string" then
            error(string_format("bad header %q in %s (string expected, got %s)", name, where, tv), 3)
        end
        if name == "" or string_find(name, "[^\33-\57\59-\126]") then
            return nil, string_format("invalid header name %s in %s", show(name), where)
        end
        if string_find(value, "[\r\n%z]") then
            return nil, string_format("invalid header %s in %s: CR, LF and NUL are not allowed in a value",
                canonic(string_lower(name)), where)
        end
        lower[string_lower(name)] = value
    end
    return lower
end

local function format_headers(lower)
    local names = {}
    for name in pairs(lower) do names[#names + 1] = name end
    table_sort(names, before)
    local out = {}
    for i, name in ipairs(names) do
        out[i] = canonic(name) .. ": " .. lower[name] .. "\r\n"
    end
    out[#out + 1] = "\r\n"
    return table_concat(out)
end

-- RFC 5322 date in the zone it names ("+hhmm" / "-hhmm"); "-0000" means
-- "zone unknown" and carries UTC, as RFC 5322 3.3 says.
local days = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" }
local months = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }
local function date(zone)
    local sign, hh, mm = string_match(zone, "^([+-])(%d%d)(%d%d)$")
    local offset = 0
    if sign then
        offset = (tonumber(hh) * 3600 + tonumber(mm) * 60) * (sign == "-" and -1 or 1)
    end
    local t = os_date("!*t", os_time() + offset)
    return string_format("%s, %02d %s %04d %02d:%02d:%02d %s", days[t.wday], t.day,
        months[t.month], t.year, t.hour, t.min, t.sec, zone)
end
_M.date = date

local function hex(s)
    return (string_gsub(s, ".", function(c) return string_format("%02x", string_byte(c)) end))
end

-- Every string of the subtree a boundary must not occur in.
local function strings_of(body, acc)
    if type(body) == "string" then
        acc[#acc + 1] = body
    elseif type(body) == "table" then
        if type(body.preamble) == "string" then acc[#acc + 1] = body.preamble end
        if type(body.epilogue) == "string" then acc[#acc + 1] = body.epilogue end
        for _, part in ipairs(body) do
            if type(part) == "table" then strings_of(part.body, acc) end
        end
    end
    return acc
end

local function boundary(body)
    local texts = strings_of(body, {})
    while true do
        local bytes, err = core.random(18)
        if not bytes then error(err) end
        -- "=_" cannot occur in base64, nor in quoted-printable text
        local bd = "=_" .. hex(bytes)
        local clash = false
        for _, s in ipairs(texts) do
            if string_find(s, bd, 1, true) then clash = true break end
        end
        if not clash then return bd end
    end
end

-- Walks the tree once, before anything is produced: header checks, and the
-- header block of every part (boundaries included).
local function plan(mesgt, where, top)
    if type(mesgt) ~= "table" then
        error(string_format("bad %s (table expected, got %s)", where, type(mesgt)), 3)
    end
    local lower, err = lower_headers(mesgt.headers, where)
    if not lower then return nil, err end
    if top then
        lower["date"] = lower["date"] or date(top.zone)
        lower["x-mailer"] = lower["x-mailer"] or core._VERSION
        lower["mime-version"] = "1.0" -- this cannot be overridden
    end
    local body = mesgt.body
    local node = {}
    if type(body) == "table" then
        local bd = boundary(body)
        lower["content-type"] = (lower["content-type"] or "multipart/mixed") ..
            '; boundary="' .. bd .. '"'
        node.kind, node.boundary = "multipart", bd
        node.preamble, node.epilogue = body.preamble, body.epilogue
        for i, part in ipairs(body) do
            local child
            child, err = plan(part, where .. ".body[" .. i .. "]")
            if not child then return nil, err end
            node[i] = child
        end
    else
        lower["content-type"] = lower["content-type"] or 'text/plain; charset="iso-8859-1"'
        if type(body) == "function" then
            node.kind, node.source = "source", body
        elseif body == nil or type(body) == "string" then
            node.kind, node.text = "string", body or ""
        else
            error(string_format("bad %s.body (string, function or table expected, got %s)",
                where, type(body)), 3)
        end
    end
    node.head = format_headers(lower)
    return node
end

-- The source: a stack of frames walked by a loop. Fixed strings (headers,
-- boundaries, string bodies) are gathered into one chunk; a body source's
-- chunk goes out with whatever was gathered before it.
function _M.source(mesgt, zone)
    local root, err = plan(mesgt, "mesgt", { zone = zone })
    if not root then
        return function() return nil, err end
    end
    local stack = { { node = root, step = 0 } }
    local failed, done = nil, false
    return function()
        if failed then return nil, failed end
        if done then return nil end
        local acc = {}
        while true do
            local top = stack[#stack]
            if not top then
                done = true
                if #acc > 0 then return table_concat(acc) end
                return nil
            end
            local node = top.node
            if top.step == 0 then
                acc[#acc + 1] = node.head
                top.step = 1
                if node.kind == "multipart" and node.preamble then
                    acc[#acc + 1] = node.preamble
                    acc[#acc + 1] = "\r\n"
                elseif node.kind == "string" then
                    acc[#acc + 1] = node.text
                    stack[#stack] = nil
                end
            elseif node.kind == "multipart" then
                local i = top.step
                if node[i] then
                    acc[#acc + 1] = "\r\n--" .. node.boundary .. "\r\n"
                    top.step = i + 1
                    stack[#stack + 1] = { node = node[i], step = 0 }
                else
                    acc[#acc + 1] = "\r\n--" .. node.boundary .. "--\r\n\r\n"
                    if node.epilogue then
                        acc[#acc + 1] = node.epilogue
                        acc[#acc + 1] = "\r\n"
                    end
                    stack[#stack] = nil
                end
            else -- a body source: called here, in the caller's frame
                local chunk, serr = node.source()
                if chunk == nil then
                    if serr ~= nil then
                        failed = serr
                        return nil, serr
                    end
                    stack[#stack] = nil
                elseif #acc > 0 then
                    acc[#acc + 1] = chunk
                    return table_concat(acc)
                elseif chunk ~= "" then
                    return chunk
                end
            end
        end
    end
end

return _M
