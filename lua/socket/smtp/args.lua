-----------------------------------------------------------------------------
-- socket.smtp.args: what the caller gave, checked before anything is sent.
--
-- The checks of user arguments (types, the engine's rules for addresses
-- and text, the timeout, the source and step) and the errors that name a
-- refused one: nil, err, { stage = "argument", field =, name = } (a chunk
-- that is not a string: stage "source"). No I/O here: smtp_native checks
-- its arguments with it, and socket.smtp.driver the arguments of each
-- session method and the chunks it pumps.
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")
local transport = require("socket.smtp.transport")

local type, ipairs = type, ipairs
local string_format, string_gsub, string_byte = string.format, string.gsub, string.byte
local math_huge = math.huge

local _M = {}

-- Printable form of a refused argument for error messages.
local escapes = { ["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }
local function escape(c)
    return escapes[c] or string_format("\\x%02X", string_byte(c))
end
local function show(s)
    return '"' .. string_gsub(s, "[%c\"\\]", escape) .. '"'
end
_M.show = show

-- Error for an argument we refuse to send. Secrets are never echoed.
local function bad_arg(field, value, msg, name, secret)
    local err
    if secret or value == nil then
        err = string_format("invalid %s: %s", field, msg)
    else
        err = string_format("invalid %s %s: %s", field, show(value), msg)
    end
    return nil, err, { stage = "argument", field = field, name = name or "EINVAL" }
end
_M.bad_arg = bad_arg

-- A chunk that is not a string (nor nil, the end) from the caller's
-- source or step: the message, and the details, named after `from`.
function _M.bad_chunk(from, chunk)
    return nil, string_format("bad chunk from %s (string or nil expected, got %s)", from, type(chunk)),
        { stage = "source", field = from, name = "ESOURCE" }
end

-- `value` must be a string: true, or the error naming `field`.
local function check_string(field, value)
    if type(value) == "string" then return true end
    return bad_arg(field, nil, "must be a string, got " .. type(value), "EARG")
end
_M.check_string = check_string

-- The timeout: seconds, a positive finite number. `field` names where it
-- came from ("timeout", or "smtp.TIMEOUT" for the module's default).
function _M.check_timeout(value, field)
    if type(value) == "number" and value > 0 and value < math_huge then return true end
    local got = type(value)
    if got == "number" then got = value ~= value and "NaN" or string_format("%g", value) end
    return bad_arg(field or "timeout", nil, "must be a positive number of seconds, got " .. got, "EARG")
end

-- Validates an argument as the engine will, before anything is sent.
local function check(kind, field, value, secret)
    local ok, msg, name = core.check(kind, value)
    if ok then return true end
    return bad_arg(field, value, msg, name, secret)
end
_M.check = check

-- The sender and every recipient (strings) of a transaction, checked as
-- the engine will before MAIL is queued: a bad second recipient must not
-- leave MAIL and the first RCPT on the wire (a half-written envelope).
-- Fields are named as S:transaction names them ("rcpt", or "rcpt[2]" in
-- a list of several).
function _M.check_addresses(from, rcpts)
    local ok, err, det = check("from", "from", from)
    if not ok then return nil, err, det end
    for i, to in ipairs(rcpts) do
        ok, err, det = check("rcpt", #rcpts > 1 and ("rcpt[" .. i .. "]") or "rcpt", to)
        if not ok then return nil, err, det end
    end
    return true
end

-- The credentials of s:login/s:plain: strings (never echoed).
function _M.check_credentials(user, password)
    local ok, err, det = check_string("user", user)
    if ok then ok, err, det = check_string("password", password) end
    if not ok then return nil, err, det end
    return true
end

-- The source and step of a message, checked before any command of it.
function _M.check_content(src, step)
    if not transport.callable(src) then
        return bad_arg("source", nil, "must be an LTN12 source (a function), got " .. type(src), "EARG")
    end
    if step ~= nil and not transport.callable(step) then
        return bad_arg("step", nil, "must be an LTN12 pump step (a function), got " .. type(step), "EARG")
    end
    return true
end

-- The types of the envelope (from, rcpt), checked before any command of
-- it: a string, and a string or a non-empty list of strings. Fields are
-- named as the address checks name them.
function _M.check_envelope(mailt)
    local ok, err, det = check_string("from", mailt.from)
    if not ok then return nil, err, det end
    local rcpt = mailt.rcpt
    if type(rcpt) == "table" then
        local n = #rcpt
        if n == 0 then return bad_arg("rcpt", nil, "is an empty list", "EARG_EMPTY") end
        for i = 1, n do
            ok, err, det = check_string(n > 1 and ("rcpt[" .. i .. "]") or "rcpt", rcpt[i])
            if not ok then return nil, err, det end
        end
    elseif type(rcpt) ~= "string" then
        return bad_arg("rcpt", nil, "must be a string or a list of strings, got " .. type(rcpt), "EARG")
    end
    return true
end

return _M
