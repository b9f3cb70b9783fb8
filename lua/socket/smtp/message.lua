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

local type, tonumber, tostring, error, rawget, next = type, tonumber, tostring, error, rawget, next
local setmetatable = setmetatable
local string_format, string_gsub, string_byte = string.format, string.gsub, string.byte
local string_lower, string_match = string.lower, string.match
local os_time, os_date = os.time, os.date

local _M = {}

-- The generator's bounds (src/lua/lmime.c, src/mime/mime_gen.h): headers a part,
-- multiparts nested.
local MAX_HEADERS = 128
local MAX_DEPTH = 32

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

-- The From header's value, whichever form the headers table has. Read as
-- the generator reads it (rawget and next: no metamethod of the caller's
-- table runs here), so an odd table can make nothing here fail.
local function from_of(headers)
    if type(headers) ~= "table" then return nil end
    if type(rawget(headers, 1)) == "table" then
        for i = 1, MAX_HEADERS do
            local pair = rawget(headers, i)
            if type(pair) ~= "table" then return nil end
            local name = rawget(pair, 1)
            if type(name) == "string" and string_lower(name) == "from" then return rawget(pair, 2) end
        end
        return nil
    end
    local name, value = next(headers)
    for _ = 1, MAX_HEADERS do
        if name == nil then return nil end
        if type(name) == "string" and string_lower(name) == "from" then return value end
        name, value = next(headers, name)
    end
end

-- "<random@domain>", the domain taken from the From address when there is
-- one, else `domain`.
local function message_id(headers, domain)
    local from = from_of(headers)
    local d = type(from) == "string" and string_match(from, "@([%w%.%-]+)>?%s*$")
    local bytes = core.random(16)
    if not bytes then return nil end
    if type(domain) ~= "string" then domain = nil end
    return "<" .. hex(bytes) .. "@" .. (d or domain or "localhost") .. ">"
end

-- Where the caller put `src` (a body source), for messages: the part's
-- path as the generator names it ("mesgt.body[2].body"), or nil when it
-- cannot be told (not found, or found twice). A raw walk, bounded.
local function where(mesgt, src)
    local found, count, budget = nil, 0, 100000
    local function walk(part, path, depth)
        local body = rawget(part, "body")
        if body == src then
            found, count = path .. ".body", count + 1
        elseif type(body) == "table" and depth < MAX_DEPTH then
            for i = 1, budget do
                local sub = rawget(body, i)
                if type(sub) ~= "table" then break end
                budget = budget - 1
                if budget <= 0 then return end
                walk(sub, path .. ".body[" .. i .. "]", depth + 1)
            end
        end
    end
    walk(mesgt, "mesgt", 0)
    if count == 1 then return found end
    return nil
end

-- The message for a chunk of a body source that is neither a string nor
-- nil (the end).
local function bad_chunk(mesgt, src, chunk)
    local at = where(mesgt, src)
    if at then
        return string_format("bad chunk from %s (string or nil expected, got %s)", at, type(chunk))
    end
    return string_format("bad chunk from a body source (string or nil expected, got %s)", type(chunk))
end

-- Sources that failed on what is wrong with their message (a header the
-- generator cannot write, a field of the wrong type, a file body that
-- changed, ...), and the name of that error (EHDR_*, EMSG_TYPE, EFILE,
-- ...): error_name(src) gives it to the driver for details.name; the
-- source itself returns nil, err as any source does. A source's own error
-- (a body source's, a metamethod's) has no name here. forward(wrapper,
-- src): error_name(wrapper) is src's (the driver's primed source).
local named = setmetatable({}, { __mode = "k" })
function _M.error_name(src)
    local v = named[src]
    if type(v) == "function" then v = named[v] end
    return v
end
function _M.forward(wrapper, src) named[wrapper] = src end

-- The source: runs the generator; when it needs a chunk of a Lua body
-- source, calls that source here and hands the chunk back. Once the call
-- has started nothing here raises: whatever is wrong with the table, or
-- with what a body source gives, the source returns nil, err.
function _M.source(mesgt, zone, domain, zone_label)
    if type(mesgt) ~= "table" then
        error(string_format("bad argument #1 to 'message' (table expected, got %s)", type(mesgt)), 3)
    end
    if type(zone) == "number" then zone = tostring(zone) end -- as LuaSocket's concatenation
    if type(zone) ~= "string" then
        local err = string_format("bad %s (string expected, got %s)", zone_label or "zone", type(zone))
        return function() return nil, err end
    end
    local g, err, name = core.message(mesgt, {
        date = date(zone),
        ["message-id"] = message_id(mesgt.headers, domain),
        ["x-mailer"] = core._VERSION,
    })
    if not g then
        local failed_src = function() return nil, err end
        named[failed_src] = name -- EHDR_*, EMSG_TYPE, ...: for error_name
        return failed_src
    end
    local failed, done = nil, false
    local source
    source = function()
        if failed then return nil, failed end
        if done then return nil end
        while true do
            local chunk, src, gname = g:next()
            if chunk then return chunk end
            if chunk == nil then
                if src ~= nil then
                    failed = src
                    named[source] = gname -- EFILE_CHANGED, EFILE, ...
                    return nil, src
                end
                done = true
                return nil
            end
            local data, serr = src() -- a body source, called in our frame
            if data == nil then
                if serr ~= nil then
                    failed = serr
                    g:feed(nil, serr)
                    return nil, serr
                end
                g:feed(nil)
            elseif type(data) == "string" then
                g:feed(data)
            else
                failed = bad_chunk(mesgt, src, data)
                g:feed(nil, failed)
                return nil, failed
            end
        end
    end
    return source
end

return _M
