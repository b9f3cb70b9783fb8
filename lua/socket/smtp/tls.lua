-----------------------------------------------------------------------------
-- socket.smtp.tls: TLS for the transport (STARTTLS and SMTPS).
--
-- The engine only says when ("upgrade the transport now"); this module
-- does it on the socket kinds of socket.smtp.transport:
--   * LuaSocket sockets: LuaSec (ssl.wrap, SNI, handshake), then the
--     certificate's chain (LuaSec/OpenSSL) and its names against the host
--     (core.verify_host: LuaSec does not check host names). The caller's
--     `ssl` is LuaSec's parameter table, passed on with our floor (no
--     version below TLS 1.2) and our verification merged in;
--   * OpenResty cosockets: sock:sslhandshake(nil, name, verify), where
--     nginx checks the chain and the host name (lua_ssl_trusted_certificate
--     gives it the CAs); a client certificate through setclientcert. The
--     fields nginx takes from directives are refused before connect
--     (_M.guard), naming the directive;
--   * anything else, or when the caller wants: ssl.upgrade =
--     function(sock, host, params) return new_sock | nil, err end.
-- Like every I/O step it runs in the caller's Lua frame (a handshake on a
-- cosocket yields).
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")
local transport = require("socket.smtp.transport")

local type, ipairs, pairs, pcall, require, tostring, setmetatable, error =
    type, ipairs, pairs, pcall, require, tostring, setmetatable, error
local table_concat, table_sort = table.concat, table.sort
local string_format, string_match, string_find = string.format, string.match, string.find
local io_open, os_getenv = io.open, os.getenv

local _M = {}

-- Cosockets already checked and given their client certificate (by
-- _M.guard, before connect), with the `ssl` they were prepared for.
local prepared = setmetatable({}, { __mode = "k" })

-- The system's CA certificates: the first that exists of $SSL_CERT_FILE
-- and the usual bundles (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine and
-- the BSDs/macOS).
local bundles = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
}
local function system_cafile()
    local env = os_getenv("SSL_CERT_FILE")
    if env and env ~= "" then return env end
    for _, path in ipairs(bundles) do
        local f = io_open(path, "rb")
        if f then
            f:close()
            return path
        end
    end
    return nil
end
_M.system_cafile = system_cafile

-- Lowest protocol version -> the LuaSec options that forbid those below.
local floors = {
    ["tlsv1_2"] = { "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
    ["tlsv1_3"] = { "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1", "no_tlsv1_2" },
}
-- ssl.protocol -> the floor it means. LuaSec's "any" (and its older
-- name "sslv23") is the best version both sides support; here never below
-- TLS 1.2. "tlsv1_2"/"tlsv1_3" are the lowest version allowed.
local protocols = { any = "tlsv1_2", sslv23 = "tlsv1_2", tlsv1_2 = "tlsv1_2", tlsv1_3 = "tlsv1_3" }
-- Versions LuaSec knows that are below the floor.
local too_old = { sslv2 = "SSL 2.0", sslv3 = "SSL 3.0", tlsv1 = "TLS 1.0", tlsv1_1 = "TLS 1.1" }

-- The values LuaSec accepts in a list field (a string or a list of them).
local verify_flags = { none = true, peer = true, client_once = true, fail_if_no_peer_cert = true }
local verifyext_flags = { lsec_continue = true, lsec_ignore_purpose = true, crl_check = true,
    crl_check_chain = true }

-- The fields of `ssl`: LuaSec's newcontext parameters, then ours.
local STRING, LIST, FUNCTION = "string", "list", "function"
local fields = {
    mode = STRING, protocol = STRING, key = STRING, certificate = STRING, password = "password",
    cafile = STRING, capath = STRING, verify = LIST, options = LIST, ciphers = STRING,
    ciphersuites = STRING, depth = "depth", curve = STRING, curveslist = STRING,
    dhparam = FUNCTION, verifyext = LIST,
    sni = STRING, upgrade = FUNCTION,
}
local field_names = {}
for k in pairs(fields) do field_names[#field_names + 1] = k end
table_sort(field_names)

-- A string or a list of strings (LuaSec's verify, options, verifyext), as
-- a list; nil, message when it is neither or when `known` refuses a value.
local function list_of(value, known, what)
    local list = value
    if type(value) == "string" then list = { value } end
    if type(list) ~= "table" then return nil, "must be a string or a list of strings, got " .. type(value) end
    local n = 0
    for _ in pairs(list) do n = n + 1 end
    if n ~= #list then return nil, "must be a string or a list of strings (a table with other keys given)" end
    for i, v in ipairs(list) do
        if type(v) ~= "string" then
            return nil, string_format("must be a string or a list of strings, got a %s at [%d]", type(v), i)
        end
        if known and not known[v] then
            return nil, string_format('unknown %s "%s"', what, v)
        end
    end
    return list
end

-- LuaSec's option names when LuaSec is there (to name a bad one before
-- connecting), else nil (the cosocket path refuses options anyway).
local function luasec_options()
    local ok, luasec = pcall(require, "ssl")
    if ok and type(luasec) == "table" and type(luasec.config) == "table"
        and type(luasec.config.options) == "table" then
        return luasec.config.options
    end
    return nil
end

-- Is ssl.verify the explicit opt-out? Only "none" (or a list holding
-- nothing but "none") turns our checks off; a missing verify, "peer" or
-- any other flag keeps them.
local function verify_off(ssl)
    local v = ssl.verify
    if v == "none" then return true end
    if type(v) ~= "table" or #v == 0 then return false end
    for _, f in ipairs(v) do
        if f ~= "none" then return false end
    end
    return true
end
_M.verify_off = verify_off

-- Is the `ssl` table valid? true | nil, message, field (the message says
-- what is wrong with that field: "invalid <field>: <message>").
function _M.check(ssl)
    if ssl == nil then return true end
    if type(ssl) ~= "table" then return nil, "must be a table, got " .. type(ssl), "ssl" end
    for k, v in pairs(ssl) do
        local kind = type(k) == "string" and fields[k]
        if not kind then
            return nil, "not a TLS parameter (the fields are LuaSec's newcontext parameters and sni, "
                .. "upgrade: " .. table_concat(field_names, ", ") .. ")", "ssl." .. tostring(k)
        end
        local f = "ssl." .. k
        if kind == STRING and type(v) ~= "string" then
            return nil, "must be a string, got " .. type(v), f
        elseif kind == FUNCTION and type(v) ~= "function" then
            return nil, "must be a function, got " .. type(v), f
        elseif kind == "password" and type(v) ~= "string" and type(v) ~= "function" then
            return nil, "must be a string or a function, got " .. type(v), f
        elseif kind == "depth" and (type(v) ~= "number" or v < 0 or v % 1 ~= 0) then
            local got = type(v) == "number" and tostring(v) or type(v)
            return nil, "must be a whole number >= 0, got " .. got, f
        end
    end
    if ssl.mode ~= nil and ssl.mode ~= "client" then
        if ssl.mode == "server" then
            return nil, 'must be "client": smtp-native is the client of an SMTP server '
                .. '("server" is for accepting TLS connections)', "ssl.mode"
        end
        return nil, 'must be "client"', "ssl.mode"
    end
    local p = ssl.protocol
    if p ~= nil and not protocols[p] then
        if too_old[p] then
            return nil, string_format('"%s" (%s) is below the TLS 1.2 floor (RFC 8996 retires TLS 1.0 and '
                .. '1.1): use "any", "tlsv1_2" or "tlsv1_3"', p, too_old[p]), "ssl.protocol"
        end
        return nil, 'must be "any" (the best both sides support, at least TLS 1.2), "tlsv1_2" or "tlsv1_3" '
            .. '(the lowest version allowed)', "ssl.protocol"
    end
    local ok, err
    if ssl.verify ~= nil then
        ok, err = list_of(ssl.verify, verify_flags, "verify flag")
        if not ok then return nil, err, "ssl.verify" end
    end
    if ssl.verifyext ~= nil then
        ok, err = list_of(ssl.verifyext, verifyext_flags, "verifyext flag")
        if not ok then return nil, err, "ssl.verifyext" end
    end
    if ssl.options ~= nil then
        ok, err = list_of(ssl.options, luasec_options(), "option")
        if not ok then return nil, err, "ssl.options" end
    end
    return true
end

-- The fields an OpenResty cosocket cannot apply, and the nginx directive
-- that does it instead.
local cosocket_refused = {
    { "cafile", "lua_ssl_trusted_certificate" },
    { "capath", "lua_ssl_trusted_certificate (one PEM file holding the CAs)" },
    { "protocol", "lua_ssl_protocols (e.g. \"lua_ssl_protocols TLSv1.2 TLSv1.3;\")" },
    { "options", "lua_ssl_protocols (for no_tlsv1 ...) or lua_ssl_conf_command Options" },
    { "ciphers", "lua_ssl_ciphers" },
    { "ciphersuites", "lua_ssl_conf_command Ciphersuites" },
    { "curve", "lua_ssl_conf_command Curves" },
    { "curveslist", "lua_ssl_conf_command Curves" },
    { "depth", "lua_ssl_verify_depth" },
    { "verifyext", "lua_ssl_crl (for crl_check)" },
    { "dhparam", "none: DH parameters are the server's (ssl_dhparam in a server block)" },
}

-- Can `ssl` be applied on an OpenResty cosocket (with no ssl.upgrade)?
-- true | nil, message, field. Honoured there: verify (sslhandshake's
-- ssl_verify), sni, mode = "client", and certificate + key through
-- tcpsock:setclientcert (lua-nginx-module 0.10.22+, with lua-resty-core).
local function cosocket_check(ssl, sock)
    if ssl == nil or ssl.upgrade then return true end
    for _, r in ipairs(cosocket_refused) do
        if ssl[r[1]] ~= nil then
            return nil, "cannot be applied on an OpenResty cosocket: use nginx's " .. r[2], "ssl." .. r[1]
        end
    end
    if ssl.certificate ~= nil or ssl.key ~= nil then
        if ssl.certificate == nil or ssl.key == nil then
            local missing = ssl.certificate == nil and "certificate" or "key"
            return nil, "needs ssl." .. missing .. " as well on an OpenResty cosocket (tcpsock:setclientcert "
                .. "takes both)", "ssl." .. (missing == "key" and "certificate" or "key")
        end
        if ssl.password ~= nil then
            return nil, "cannot be applied on an OpenResty cosocket: ngx.ssl.parse_pem_priv_key reads "
                .. "unencrypted keys only (decrypt it: openssl pkey -in KEY -out PLAIN_KEY)", "ssl.password"
        end
        local ok, ngx_ssl = pcall(require, "ngx.ssl")
        if (sock and type(sock.setclientcert) ~= "function") or not ok or type(ngx_ssl) ~= "table"
            or not ngx_ssl.parse_pem_cert then
            return nil, "cannot be applied on this OpenResty cosocket: it needs tcpsock:setclientcert "
                .. "(lua-nginx-module 0.10.22+) and ngx.ssl (lua-resty-core); else use nginx's "
                .. "lua_ssl_certificate and lua_ssl_certificate_key (0.10.26+)", "ssl.certificate"
        end
    elseif ssl.password ~= nil then
        return nil, "needs ssl.key (the key it decrypts)", "ssl.password"
    end
    return true
end
_M.cosocket_check = cosocket_check

-- LuaSec parameters from ours: the caller's table, passed on, with our
-- floor and verification merged in.
local function luasec_params(ssl, cafile)
    local off = verify_off(ssl)
    local options, seen = {}, {}
    local function add(list, o)
        if not seen[o] then
            seen[o] = true
            list[#list + 1] = o
        end
    end
    add(options, "all")
    for _, o in ipairs(list_of(ssl.options or {}) or {}) do add(options, o) end
    for _, o in ipairs(floors[protocols[ssl.protocol or "any"]]) do add(options, o) end
    local verify, verifyext = "none", nil
    if not off then
        verify, seen = {}, {}
        add(verify, "peer")
        for _, f in ipairs(list_of(ssl.verify or {}) or {}) do
            if f ~= "none" then add(verify, f) end
        end
        -- Finish the handshake even when the chain does not verify, so that
        -- upgrade_luasec can name the reason (getpeerverification) and
        -- close before a byte of SMTP is sent. Without it OpenSSL aborts
        -- with a bare "certificate verify failed" (reported as ETLS).
        verifyext, seen = {}, {}
        add(verifyext, "lsec_continue")
        for _, f in ipairs(list_of(ssl.verifyext or {}) or {}) do add(verifyext, f) end
    elseif ssl.verifyext ~= nil then
        verifyext = list_of(ssl.verifyext)
    end
    return {
        mode = "client",
        protocol = "any",
        options = options,
        verify = verify,
        verifyext = verifyext,
        cafile = cafile,
        capath = ssl.capath,
        certificate = ssl.certificate,
        key = ssl.key,
        password = ssl.password,
        ciphers = ssl.ciphers,
        ciphersuites = ssl.ciphersuites,
        depth = ssl.depth,
        curve = ssl.curve,
        curveslist = ssl.curveslist,
        dhparam = ssl.dhparam,
    }
end
_M.luasec_params = luasec_params

-- The names a certificate holds, for core.verify_host.
local function cert_names(cert)
    local names = { dns = {}, ip = {}, cn = {} }
    local ok, ext = pcall(cert.extensions, cert)
    local san = ok and type(ext) == "table" and ext["2.5.29.17"]
    if type(san) == "table" then
        for _, v in ipairs(san.dNSName or {}) do names.dns[#names.dns + 1] = v end
        for _, v in ipairs(san.iPAddress or {}) do names.ip[#names.ip + 1] = v end
    end
    local sok, subject = pcall(cert.subject, cert)
    if sok and type(subject) == "table" then
        for _, e in ipairs(subject) do
            if e.oid == "2.5.4.3" or e.name == "commonName" then names.cn[#names.cn + 1] = e.value end
        end
    end
    return names
end

-- OpenSSL's words for a chain that failed, as LuaSec reports them.
-- LuaSec keys the lists by depth + 1 (the server's own certificate is 1);
-- the message gives OpenSSL's depth (0), leaf first.
local function chain_error(errs)
    local out = {}
    if type(errs) == "table" then
        local keys = {}
        for k, list in pairs(errs) do
            if type(k) == "number" and type(list) == "table" then keys[#keys + 1] = k end
        end
        table_sort(keys)
        for _, k in ipairs(keys) do
            for _, e in ipairs(errs[k]) do
                out[#out + 1] = tostring(e) .. " (depth " .. tostring(k - 1) .. ")"
            end
        end
    end
    if #out == 0 then return "certificate verification failed" end
    return "certificate verification failed: " .. table_concat(out, "; ")
end

local function is_ip(host)
    return core.ip(host) ~= nil
end

-- LuaSocket + LuaSec. Returns the TLS socket or nil, err, name.
local function upgrade_luasec(sock, host, ssl, left)
    local ok, luasec = pcall(require, "ssl")
    if not ok or type(luasec) ~= "table" or not luasec.wrap then
        return nil, "TLS needs LuaSec (the Lua module \"ssl\"), which is not installed", "ETLS_NOLAYER"
    end
    local verify = not verify_off(ssl)
    local cafile = ssl.cafile
    if verify and not cafile and not ssl.capath then
        cafile = system_cafile()
        if not cafile then
            return nil, "no CA certificates to verify the server with: set ssl.cafile or ssl.capath",
                "ETLS_CA"
        end
    end
    local conn, err = luasec.wrap(sock, luasec_params(ssl, cafile))
    if not conn then return nil, "TLS setup failed: " .. tostring(err), "ETLS" end
    local name = ssl.sni or host
    if not is_ip(name) then conn:sni(name) end
    conn:settimeout(left)
    local hok, herr = conn:dohandshake()
    if not hok then
        if herr == "wantread" or herr == "wantwrite" then herr = "timeout" end
        conn:close()
        return nil, "TLS handshake failed: " .. tostring(herr), herr == "timeout" and "ETIMEOUT" or "ETLS"
    end
    if verify then
        local vok, errs = conn:getpeerverification()
        if not vok then
            conn:close()
            return nil, chain_error(errs), "ETLS_VERIFY"
        end
        local cert = conn:getpeercertificate()
        if not cert then
            conn:close()
            return nil, "the server sent no certificate", "ETLS_VERIFY"
        end
        local mok, merr, mname = core.verify_host(ssl.sni or host, cert_names(cert))
        if not mok then
            conn:close()
            return nil, merr, mname
        end
    end
    return conn
end

-- The client certificate of ssl.certificate/ssl.key on cosocket `sock`
-- (tcpsock:setclientcert, used by the next sslhandshake). The files are
-- read here, with io.open: small files, read once per connection.
-- true | nil, message, field.
local function read_pem(path, field)
    local f, err = io_open(path, "rb")
    if not f then return nil, "cannot be read: " .. tostring(err), field end
    local pem = f:read("*a")
    f:close()
    if not pem then return nil, "cannot be read: " .. path, field end
    return pem
end

local function set_client_cert(sock, ssl)
    if ssl.certificate == nil then return true end
    local ngx_ssl = require("ngx.ssl")
    local pem, err, field = read_pem(ssl.certificate, "ssl.certificate")
    if not pem then return nil, err, field end
    local cert, cerr = ngx_ssl.parse_pem_cert(pem)
    if not cert then return nil, "not a PEM certificate: " .. tostring(cerr), "ssl.certificate" end
    pem, err, field = read_pem(ssl.key, "ssl.key")
    if not pem then return nil, err, field end
    local key, kerr = ngx_ssl.parse_pem_priv_key(pem)
    if not key then return nil, "not a PEM private key: " .. tostring(kerr), "ssl.key" end
    local ok, serr = sock:setclientcert(cert, key)
    if not ok then return nil, "refused by tcpsock:setclientcert: " .. tostring(serr), "ssl.certificate" end
    return true
end

-- The check and the client certificate for a new cosocket, before it
-- connects. true | nil, message, field.
local function prepare_cosocket(sock, ssl)
    local ok, err, field = cosocket_check(ssl, sock)
    if not ok then return nil, err, field end
    return set_client_cert(sock, ssl)
end

-- `create` for a connection that will use `ssl`: on an OpenResty cosocket
-- the fields nginx cannot apply are refused, and the client certificate
-- set, before connect. Returns the function to use as `create`, and a
-- function that says why it refused (message, field), or nil when it did
-- not.
local function nothing_refused() return nil end
function _M.guard(create, ssl)
    if create == nil or ssl == nil or type(ssl) ~= "table" or ssl.upgrade then
        return create, nothing_refused
    end
    local why, which
    return function(...)
        local sock, err = create(...)
        if sock ~= nil and transport.is_cosocket(sock) then
            local ok, perr, field = prepare_cosocket(sock, ssl)
            if not ok then
                why, which = perr, field
                sock:close()
                return nil, "invalid " .. field .. ": " .. perr
            end
            prepared[sock] = ssl
        end
        return sock, err
    end, function() return why, which end
end

-- Before STARTTLS on an open transport (s:starttls): what _M.guard does
-- before connect. true | nil, message, field.
function _M.prepare(t, ssl)
    local sock = t:socket()
    if t:socket_kind() ~= "cosocket" or ssl == nil or ssl.upgrade or prepared[sock] == ssl then
        return true
    end
    local ok, err, field = prepare_cosocket(sock, ssl)
    if not ok then return nil, err, field end
    prepared[sock] = ssl
    return true
end

-- An OpenResty cosocket: nginx verifies the chain and the host name.
local function upgrade_cosocket(sock, host, ssl, left)
    if prepared[sock] ~= ssl then
        local ok, err, field = prepare_cosocket(sock, ssl)
        if not ok then return nil, "invalid " .. field .. ": " .. err, "EARG" end
    end
    local ms = left * 1000
    if ms < 1 then ms = 1 end
    sock:settimeout(ms - ms % 1)
    local name = ssl.sni or host
    -- lua-resty-core without the fix of its issue #499 (Debian 12 has
    -- 0.1.25) raises "assertion failed!" when a handshake that completed at
    -- once then fails nginx's verification. That is a refusal: fail closed
    -- and return it, as for any other certificate failure, rather than
    -- raise out of smtp.send. (LuaJIT's pcall lets the handshake yield.)
    local done, session, err = pcall(sock.sslhandshake, sock, nil, not is_ip(name) and name or nil,
        not verify_off(ssl))
    if not done then
        if string_find(tostring(session), "assertion failed!", 1, true) then
            return nil, "certificate verification failed: nginx refused the handshake (lua-resty-core: "
                .. tostring(session) .. "; the reason is in nginx's error log)", "ETLS_VERIFY"
        end
        error(session, 0)
    end
    if not session then
        -- lua-nginx-module's words for the two certificate failures, so
        -- that details.name is the same as with LuaSec
        err = tostring(err)
        if err == "certificate host mismatch" then
            return nil, string_format('certificate does not match host "%s" (nginx: %s)', name, err),
                "ETLS_HOST"
        elseif string_match(err, "^%d+: ") then -- "10: certificate has expired"
            return nil, "certificate verification failed: " .. err, "ETLS_VERIFY"
        end
        return nil, "TLS handshake failed: " .. err, "ETLS"
    end
    return sock
end

-- Upgrade transport t (socket.smtp.transport) to TLS, the handshake
-- bounded by `deadline`. true | nil, err, name.
function _M.upgrade(t, host, ssl, deadline)
    ssl = ssl or {}
    local left = deadline - transport.now()
    if left <= 0 then return nil, "timeout", "ETIMEOUT" end
    local new, err, name
    local sock, kind = t:socket(), t:socket_kind()
    if ssl.upgrade then
        new, err = ssl.upgrade(sock, host, ssl)
        name = "ETLS"
    elseif kind == "luasocket" then
        new, err, name = upgrade_luasec(sock, host, ssl, left)
    elseif kind == "cosocket" then
        new, err, name = upgrade_cosocket(sock, host, ssl, left)
    else
        return nil, "no TLS layer for this socket: pass ssl.upgrade = function(sock, host, params)",
            "ETLS_NOLAYER"
    end
    if not new then return nil, err or "TLS upgrade failed", name end
    t:secured(new)
    return true
end

-- Can TLS be set up on this transport at all (for tls = "auto")?
function _M.available(t, ssl)
    if ssl and ssl.upgrade then return true end
    local kind = t:socket_kind()
    if kind == "cosocket" then return true end
    if kind ~= "luasocket" then return false end
    local ok, luasec = pcall(require, "ssl")
    return ok and type(luasec) == "table" and luasec.wrap ~= nil
end

return _M
