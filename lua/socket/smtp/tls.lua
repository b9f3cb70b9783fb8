-----------------------------------------------------------------------------
-- socket.smtp.tls: TLS for the transport (STARTTLS and SMTPS).
--
-- The engine only says when ("upgrade the transport now"); this module
-- does it on the socket kinds of socket.smtp.transport:
--   * LuaSocket sockets: LuaSec (ssl.wrap, SNI, handshake), then the
--     certificate's chain (LuaSec/OpenSSL) and its names against the host
--     (core.verify_host: LuaSec does not check host names);
--   * OpenResty cosockets: sock:sslhandshake(nil, name, verify), where
--     nginx checks the chain and the host name (lua_ssl_trusted_certificate
--     gives it the CAs);
--   * anything else, or when the caller wants: ssl.upgrade =
--     function(sock, host, params) return new_sock | nil, err end.
-- Like every I/O step it runs in the caller's Lua frame (a handshake on a
-- cosocket yields).
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")
local transport = require("socket.smtp.transport")

local type, ipairs, pairs, pcall, require, tostring = type, ipairs, pairs, pcall, require, tostring
local table_concat, table_sort = table.concat, table.sort
local string_format, string_match = string.format, string.match
local io_open, os_getenv = io.open, os.getenv

local _M = {}

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

-- Is the `ssl` table valid? nil, message naming the field otherwise.
function _M.check(ssl)
    if ssl == nil then return true end
    if type(ssl) ~= "table" then return nil, "ssl must be a table" end
    local verify = ssl.verify
    if verify ~= nil and verify ~= "peer" and verify ~= "none" then
        return nil, 'ssl.verify must be "peer" or "none"'
    end
    if ssl.protocol ~= nil and not floors[ssl.protocol] then
        return nil, 'ssl.protocol must be "tlsv1_2" or "tlsv1_3" (the lowest version allowed)'
    end
    for _, k in ipairs({ "cafile", "capath", "certificate", "key", "sni" }) do
        if ssl[k] ~= nil and type(ssl[k]) ~= "string" then
            return nil, "ssl." .. k .. " must be a string"
        end
    end
    if ssl.upgrade ~= nil and type(ssl.upgrade) ~= "function" then
        return nil, "ssl.upgrade must be a function"
    end
    return true
end

-- LuaSec parameters from ours.
local function luasec_params(ssl, cafile)
    local p = {
        mode = "client",
        protocol = "any",
        options = { "all" },
        verify = ssl.verify == "none" and "none" or "peer",
        -- Finish the handshake even when the chain does not verify, so that
        -- upgrade_luasec can name the reason (getpeerverification) and
        -- close before a byte of SMTP is sent. Without it OpenSSL aborts
        -- with a bare "certificate verify failed" (reported as ETLS).
        verifyext = ssl.verify ~= "none" and { "lsec_continue" } or nil,
        cafile = cafile,
        capath = ssl.capath,
        certificate = ssl.certificate,
        key = ssl.key,
        password = ssl.password,
    }
    for _, o in ipairs(floors[ssl.protocol or "tlsv1_2"]) do p.options[#p.options + 1] = o end
    return p
end

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
    local verify = ssl.verify ~= "none"
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

-- An OpenResty cosocket: nginx verifies the chain and the host name.
local function upgrade_cosocket(sock, host, ssl, left)
    local ms = left * 1000
    if ms < 1 then ms = 1 end
    sock:settimeout(ms - ms % 1)
    local name = ssl.sni or host
    local session, err = sock:sslhandshake(nil, not is_ip(name) and name or nil, ssl.verify ~= "none")
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
    if ssl.upgrade then
        new, err = ssl.upgrade(t.sock, host, ssl)
        name = "ETLS"
    elseif t.kind == "luasocket" then
        new, err, name = upgrade_luasec(t.sock, host, ssl, left)
    elseif t.kind == "cosocket" then
        new, err, name = upgrade_cosocket(t.sock, host, ssl, left)
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
    if t.kind == "cosocket" then return true end
    if t.kind ~= "luasocket" then return false end
    local ok, luasec = pcall(require, "ssl")
    return ok and type(luasec) == "table" and luasec.wrap ~= nil
end

return _M
