-----------------------------------------------------------------------------
-- socket.smtp.message: smtp.message(mesgt) as an LTN12 source.
--
-- The message is compiled by the C generator (socket.smtp.core.message):
-- headers validated, encoded (RFC 2047/2231) and folded, bodies encoded
-- when a part asks for it, strings and smtp.file bodies read in C. This
-- module only supplies the defaults (Date in its zone, Message-ID,
-- X-Mailer) and calls the caller's LTN12 body sources when the generator
-- asks for them, here, in the caller's frame: a body source may yield.
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")

local type, pairs, ipairs, tonumber, error = type, pairs, ipairs, tonumber, error
local string_format, string_gsub, string_byte = string.format, string.gsub, string.byte
local string_lower, string_match = string.lower, string.match
local os_time, os_date = os.time, os.date

local _M = {}

-- RFC 5322 date in the zone it names ("+hhmm" / "-hhmm"); "-0000" means
-- "zone unknown" and carries UTC, as RFC 5322 3.3 says. Day and month
-- names are fixed, whatever the C locale.
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

-- The From header's value, whichever form the headers table has.
local function from_of(headers)
    if type(headers) ~= "table" then return nil end
    if type(headers[1]) == "table" then
        for _, pair in ipairs(headers) do
            if type(pair[1]) == "string" and string_lower(pair[1]) == "from" then return pair[2] end
        end
        return nil
    end
    for name, value in pairs(headers) do
        if type(name) == "string" and string_lower(name) == "from" then return value end
    end
end

-- "<random@domain>", the domain taken from the From address when there is
-- one, else `domain`.
local function message_id(mesgt, domain)
    local from = from_of(mesgt.headers)
    local d = type(from) == "string" and string_match(from, "@([%w%.%-]+)>?%s*$")
    local bytes = core.random(16)
    if not bytes then return nil end
    return "<" .. hex(bytes) .. "@" .. (d or domain or "localhost") .. ">"
end

-- The source: runs the generator; when it needs a chunk of a Lua body
-- source, calls that source here and hands the chunk back.
function _M.source(mesgt, zone, domain)
    if type(mesgt) ~= "table" then
        error(string_format("bad argument #1 to 'message' (table expected, got %s)", type(mesgt)), 3)
    end
    local g, err = core.message(mesgt, {
        date = date(zone),
        ["message-id"] = message_id(mesgt, domain),
        ["x-mailer"] = core._VERSION,
    })
    if not g then
        return function() return nil, err end
    end
    local failed, done = nil, false
    return function()
        if failed then return nil, failed end
        if done then return nil end
        while true do
            local chunk, src = g:next()
            if chunk then return chunk end
            if chunk == nil then
                if src ~= nil then
                    failed = src
                    return nil, src
                end
                done = true
                return nil
            end
            local data, serr = src() -- a body source, called in our frame
            if data == nil and serr ~= nil then
                failed = serr
                g:feed(nil, serr)
                return nil, serr
            end
            g:feed(data)
        end
    end
end

return _M
