-- smtp-native inside nginx (lua-nginx-module) on cosockets.
--
-- A private nginx (spec/support/nginx.lua) runs content_by_lua_block
-- handlers that call socket.smtp with `create = ngx.socket.tcp`; the spec
-- fetches them over HTTP and checks what reached the capture server.
-- nginx always runs its own LuaJIT and loads build/jit/socket/smtp/core.so,
-- so this spec runs the same under luajit and lua5.4 busted:
--
--   make LUA=jit
--   luajit /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
--       --cpath='./build/jit/?.so' spec/openresty_spec.lua
--
-- Without nginx or its lua module the spec fails, unless the run says to
-- skip it: SMTP_NATIVE_SKIP_PEERS=nginx (or SMTP_NATIVE_SKIP_NGINX=1; then
-- it is pending).

-- luacheck: read_globals ngx

local H = require("helper")
local N = require("support.nginx")
local socket = require("socket")
local json = require("dkjson")

--------------------------------------------------------------------------
-- Code shared by the handlers (in nginx) and the spec (here): the test
-- data, so both sides agree on every byte.
--------------------------------------------------------------------------
local SHARED = [==[
local FIX = {
    from = "<sender@example.com>",
    rcpt = { "<alice@example.com>", "<bob@example.org>" },
    text = "Hello from nginx.\r\n.A line that starts with a dot\r\n\r\nBye.\r\n",
    preamble = "This is a multi-part message in MIME format.",
    epilogue = "That was all.",
}

-- n bytes covering every byte value, CR, LF and ".\r\n" included.
local function gen_bytes(n, seed)
    local t = {}
    for i = 0, n - 1 do
        t[#t + 1] = string.char((i * 73 + seed * 7 + math.floor(i / 256)) % 256)
    end
    local s = table.concat(t)
    return "\r\n.\r\n\0" .. s .. "\n.\r"
end

-- Chunk i of a streamed body: whole lines, some starting with a dot.
local function body_chunk(i, tag)
    local dot = (i % 3 == 0) and "." or ""
    return ("%sline %03d of %s: %s\r\n"):format(dot, i, tag, ("x"):rep(60 + i % 7))
end
]==]

local PRELUDE = SHARED .. [==[
local json
do
    local ok, m = pcall(require, "cjson.safe")
    if not ok then m = require("dkjson") end
    json = m
end
local args = ngx.req.get_uri_args()
local function num(name) return tonumber(args[name]) end

-- Runs main(); its result table, or the Lua error, goes out as JSON.
local function run(main)
    local ok, res = xpcall(main, debug.traceback)
    if not ok then
        ngx.status = 500
        res = { lua_error = tostring(res) }
    end
    local text, err = json.encode(res)
    if not text then
        ngx.status = 500
        text = json.encode({ lua_error = "cannot encode the result: " .. tostring(err) })
    end
    ngx.say(text)
end

-- smtp.send's results as a table (r, then err or report, then details).
local function result(r, e, det)
    return { r = r, err = (not r) and e or nil, report = r and e or nil, det = det }
end
]==]

local LOCATIONS = {}

-- 1. Our module loads and sends a multipart message with an attachment.
LOCATIONS["/send"] = PRELUDE .. [==[
run(function()
    local smtp = require("socket.smtp")
    local ltn12 = require("ltn12")
    local mime = require("mime")
    local core = package.loaded["socket.smtp.core"]
    local attachment = gen_bytes(num("size") or 3000, 1)
    local source = smtp.message{
        headers = {
            from = "Sender <sender@example.com>",
            to = "Alice <alice@example.com>, bob@example.org",
            subject = "from nginx " .. (args.tag or ""),
        },
        body = {
            preamble = FIX.preamble,
            [1] = {
                headers = { ["content-type"] = 'text/plain; charset="utf-8"' },
                body = FIX.text,
            },
            [2] = {
                headers = {
                    ["content-type"] = 'application/octet-stream; name="data.bin"',
                    ["content-disposition"] = 'attachment; filename="data.bin"',
                    ["content-description"] = "bytes built from a string",
                    ["content-transfer-encoding"] = "BASE64",
                },
                body = ltn12.source.chain(ltn12.source.string(attachment),
                    ltn12.filter.chain(mime.encode("base64"), mime.wrap())),
            },
            epilogue = FIX.epilogue,
        },
    }
    local res = result(smtp.send{
        from = FIX.from,
        rcpt = FIX.rcpt,
        source = source,
        server = "127.0.0.1",
        port = num("port"),
        create = ngx.socket.tcp,
    })
    res.core_loaded = core ~= nil
    res.version = core and core._VERSION
    res.smtp_version = smtp._VERSION
    res.smtp_file = debug.getinfo(smtp.send, "S").source
    res.core_file = package.searchpath("socket.smtp.core", package.cpath)
    res.attachment_b64 = ngx.encode_base64(attachment)
    return res
end)
]==]

-- 2. Body sources (and a step function) that yield on the cosocket.
--    mode=raw: `source` itself yields and produces the whole message;
--    mode=message: smtp.message whose body is the yielding source;
--    mode=multipart: the yielding source is the second part;
--    step=1: a step function that yields too.
LOCATIONS["/yield"] = PRELUDE .. [==[
run(function()
    local smtp = require("socket.smtp")
    local ltn12 = require("ltn12")
    local mode = args.mode or "raw"
    local tag = args.tag or mode
    local chunks = num("chunks") or 20
    local delay = num("delay") or 0.001
    local yields, i = 0, 0
    local function pause()
        ngx.sleep(delay)
        yields = yields + 1
    end
    local function body()
        pause()
        i = i + 1
        if i > chunks then return nil end
        return body_chunk(i, tag)
    end
    local source
    if mode == "raw" then
        local head = "From: <sender@example.com>\r\nTo: <alice@example.com>\r\n"
            .. "Subject: yield " .. tag .. "\r\n\r\n"
        source = function()
            if head then
                pause()
                local h = head
                head = nil
                return h
            end
            return body()
        end
    elseif mode == "message" then
        source = smtp.message{ headers = { subject = "yield " .. tag }, body = body }
    elseif mode == "multipart" then
        source = smtp.message{
            headers = { subject = "yield " .. tag },
            body = { [1] = { body = FIX.text }, [2] = { body = body } },
        }
    else
        error("unknown mode " .. mode)
    end
    local step
    if args.step then
        step = function(src, snk)
            pause()
            return ltn12.pump.step(src, snk)
        end
    end
    ngx.update_time()
    local t0 = ngx.now()
    local res = result(smtp.send{
        from = FIX.from,
        rcpt = FIX.rcpt[1],
        source = source,
        step = step,
        server = "127.0.0.1",
        port = num("port"),
        create = ngx.socket.tcp,
    })
    ngx.update_time()
    res.elapsed = ngx.now() - t0
    res.yields = yields
    return res
end)
]==]

-- 3. Errors as nil, err: refused recipient, refused connection, timeout.
LOCATIONS["/error"] = PRELUDE .. [==[
run(function()
    local smtp = require("socket.smtp")
    local saved = smtp.TIMEOUT
    if args.timeout then smtp.TIMEOUT = num("timeout") end
    ngx.update_time()
    local t0 = ngx.now()
    local ok, r, e, det = pcall(smtp.send, {
        from = FIX.from,
        rcpt = { "<good@example.com>", "<bad@example.com>" },
        source = smtp.message{ headers = { subject = "refused" }, body = FIX.text },
        server = "127.0.0.1",
        port = num("port"),
        create = ngx.socket.tcp,
    })
    smtp.TIMEOUT = saved
    if not ok then error(r, 0) end
    ngx.update_time()
    local res = result(r, e, det)
    res.elapsed = ngx.now() - t0
    res.err_type = type(e)
    return res
end)
]==]

-- 3b. A timeout that ran out while the worker was busy elsewhere (a
--     CPU-bound light thread): the step must still end at once with
--     "timeout", not wait for nginx's lua_socket_read_timeout.
LOCATIONS["/busy"] = PRELUDE .. [==[
run(function()
    local smtp = require("socket.smtp")
    local saved = smtp.TIMEOUT
    smtp.TIMEOUT = num("timeout") or 0.3
    ngx.update_time()
    local t0 = ngx.now()
    local sender = ngx.thread.spawn(function()
        return smtp.send{
            from = FIX.from,
            rcpt = FIX.rcpt[1],
            source = smtp.message{ headers = { subject = "busy" }, body = FIX.text },
            server = "127.0.0.1",
            port = num("port"),
            create = ngx.socket.tcp,
        }
    end)
    local busy = ngx.thread.spawn(function()
        ngx.sleep(0.05)
        local c = os.clock()
        while os.clock() - c < (num("busy") or 0.5) do end   -- blocks the worker
    end)
    local ok, r, e, det = ngx.thread.wait(sender)
    ngx.thread.wait(busy)
    smtp.TIMEOUT = saved
    if not ok then error(r, 0) end
    ngx.update_time()
    local res = result(r, e, det)
    res.elapsed = ngx.now() - t0
    return res
end)
]==]

-- 4. Several sends in parallel light threads of one request.
LOCATIONS["/threads"] = PRELUDE .. [==[
run(function()
    local smtp = require("socket.smtp")
    local n = num("n") or 5
    local chunks = num("chunks") or 10
    local delay = num("delay") or 0.05
    local threads = {}
    ngx.update_time()
    local t0 = ngx.now()
    for k = 1, n do
        threads[k] = ngx.thread.spawn(function()
            local i = 0
            local tag = "thread " .. k
            local function body()
                ngx.sleep(delay)
                i = i + 1
                if i > chunks then return nil end
                return body_chunk(i, tag)
            end
            return smtp.send{
                from = FIX.from,
                rcpt = ("<t%d@example.com>"):format(k),
                source = smtp.message{ headers = { subject = tag }, body = body },
                server = "127.0.0.1",
                port = num("port"),
                create = ngx.socket.tcp,
            }
        end)
    end
    local results = {}
    for k = 1, n do
        local ok, r, e, det = ngx.thread.wait(threads[k])
        results[k] = ok and result(r, e, det) or { thread_error = tostring(r) }
    end
    ngx.update_time()
    return { results = results, elapsed = ngx.now() - t0 }
end)
]==]

local load_string = rawget(_G, "loadstring") or load -- Lua 5.1's load takes a function
local FIX, gen_bytes, body_chunk = assert(load_string(SHARED .. "\nreturn FIX, gen_bytes, body_chunk"))()

--------------------------------------------------------------------------
-- Spec-side helpers
--------------------------------------------------------------------------

local CORE_SO = H.root .. "/build/jit/socket/smtp/core.so"

local function file_exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
end

-- Starts nginx for one test; stopped by PID when the test ends, pass or fail.
-- A cosocket whose timeout is 0 waits lua_socket_read_timeout (default
-- 60 s): 5 s makes a wrong wait visible without stalling the run.
local function start_nginx()
    local srv = N.start{ locations = LOCATIONS, http = "    lua_socket_read_timeout 5s;" }
    finally(function() srv:stop() end)
    return srv
end

local function start_capture(opts)
    local srv = H.capture(opts)
    finally(function() srv:stop() end)
    return srv
end

local function tail(text, n)
    n = n or 3000
    if #text <= n then return text end
    return "..." .. text:sub(-n)
end

-- GET a handler; returns its decoded JSON result (asserting HTTP 200).
local function get(ngx_srv, path)
    -- (not a tail call: get_json's error blames our caller)
    local res = ngx_srv:get_json(path)
    return res
end

-- The handlers must never hit a Lua error in nginx.
local function assert_clean_log(ngx_srv)
    local log = ngx_srv:error_log()
    assert.is_nil(log:find("yield across", 1, true), log)
    assert.is_nil(log:find("runtime error", 1, true), log)
    assert.is_nil(log:find("lua entry thread aborted", 1, true), log)
end

local function show(v)
    return json.encode(v, { indent = true })
end

-- Wait for exactly n messages (and no more after a short grace period).
local function messages(srv, n)
    local msgs, err = srv:wait_messages(n, 10)
    assert.is_nil(err, "expected " .. n .. " message(s), got " .. #msgs .. "\n" .. srv:log())
    H.sleep(0.1)
    msgs = srv:messages()
    assert.are.equal(n, #msgs)
    return msgs
end

local function sorted(list)
    local copy = {}
    for i, v in ipairs(list) do copy[i] = v end
    table.sort(copy)
    return copy
end

--------------------------------------------------------------------------
-- The spec
--------------------------------------------------------------------------

local available, why = N.available()

-- #once: what this checks does not depend on the interpreter running
-- busted (nginx runs its own LuaJIT; the LuaRocks trees are tried under
-- every interpreter from inside the spec): .ci/test.sh runs it in the
-- first suite only.
describe("socket.smtp in nginx on cosockets #once", function()
    if not H.need_peer("nginx", available, why, "the OpenResty spec") then return end

    teardown(function()
        N.stop_all()
        H.stop_all()
    end)

    before_each(function()
        assert(file_exists(CORE_SO), CORE_SO .. " is missing: run `make LUA=jit` first "
            .. "(nginx runs LuaJIT and loads the jit build, whatever Lua runs busted)")
    end)

    it("loads our module and sends a multipart message with an attachment", function()
        local ngx_srv = start_nginx()
        local cap = start_capture()
        local res = get(ngx_srv, "/send?tag=one&port=" .. cap.port)

        assert.is_true(res.core_loaded, show(res))
        assert.are.equal("string", type(res.version), show(res))
        assert.are.equal("smtp-native", res.version:sub(1, #"smtp-native"), show(res))
        assert.are.equal(res.version, res.smtp_version)
        assert.are.equal("@" .. H.root .. "/lua/smtp_native.lua", res.smtp_file)
        assert.are.equal(H.root .. "/build/jit/socket/smtp/core.so", res.core_file)
        assert.are.equal(1, res.r, show(res))
        assert.is_nil(res.err)
        assert.are.equal("table", type(res.report), show(res))
        assert.are.same(FIX.rcpt, res.report.accepted)
        assert.are.same({}, res.report.refused or {})
        assert.are.equal(250, res.report.code)

        local msg = messages(cap, 1)[1]
        assert.are.equal("sender@example.com", msg.from)
        assert.are.same({ "alice@example.com", "bob@example.org" }, msg.rcpt)

        local tree = H.parse_email(msg.data)
        assert.are.same({}, tree.defects)
        assert.is_true(tree.is_multipart)
        assert.are.equal("multipart/mixed", tree.content_type)
        assert.are.equal("from nginx one", H.header(tree, "Subject"))
        assert.are.equal("Sender <sender@example.com>", H.header(tree, "From"))
        assert.are.equal("Alice <alice@example.com>, bob@example.org", H.header(tree, "To"))
        assert.are.equal("1.0", H.header(tree, "MIME-Version"))
        assert.is_truthy(H.header(tree, "Date"))
        assert.are.equal("smtp-native", (H.header(tree, "X-Mailer") or ""):sub(1, #"smtp-native"))
        assert.are.equal(FIX.preamble, (tree.preamble:gsub("\r?\n$", "")))
        assert.are.equal(FIX.epilogue, (tree.epilogue:gsub("^\r?\n", ""):gsub("\r?\n$", "")))
        assert.are.equal(2, #tree.parts)

        local text, att = tree.parts[1], tree.parts[2]
        assert.are.equal("text/plain", text.content_type)
        assert.are.equal("utf-8", text.charset)
        assert.are.equal(FIX.text, text.payload)

        local expected = gen_bytes(3000, 1)
        assert.are.equal("application/octet-stream", att.content_type)
        assert.are.equal('attachment; filename="data.bin"', H.header(att, "Content-Disposition"))
        assert.are.equal("BASE64", H.header(att, "Content-Transfer-Encoding"))
        assert.are.same({}, att.defects)
        assert.are.equal(#expected, #att.payload)
        assert.is_true(expected == att.payload, "attachment bytes differ")
        assert.are.equal(res.attachment_b64, (require("mime").b64(expected)))
        -- base64 lines wrapped at 76 columns by mime.wrap()
        for line in att.raw_payload:gmatch("[^\r\n]+") do
            assert.is_true(#line <= 76, line)
        end
        assert_clean_log(ngx_srv)
    end)

    describe("a body source that yields on the cosocket", function()
        local function check_yield(query, expect_yields)
            local ngx_srv = start_nginx()
            local cap = start_capture()
            local res = get(ngx_srv, "/yield?" .. query .. "&port=" .. cap.port)
            assert.are.equal(1, res.r, show(res))
            assert.is_nil(res.err, show(res))
            assert.is_true(res.yields >= expect_yields, show(res))
            assert.are.same({ FIX.rcpt[1] }, res.report.accepted)
            local msg = messages(cap, 1)[1]
            assert.are.equal("sender@example.com", msg.from)
            assert.are.same({ "alice@example.com" }, msg.rcpt)
            assert_clean_log(ngx_srv)
            return msg, res
        end

        local function expected_body(n, tag)
            local t = {}
            for i = 1, n do t[i] = body_chunk(i, tag) end
            return table.concat(t)
        end

        it("as the whole message (`source` itself yields)", function()
            local msg = check_yield("mode=raw&chunks=25&tag=r", 26)
            assert.are.equal("From: <sender@example.com>\r\nTo: <alice@example.com>\r\n"
                .. "Subject: yield r\r\n\r\n" .. expected_body(25, "r"), msg.data)
        end)

        it("as the body of smtp.message", function()
            local msg = check_yield("mode=message&chunks=25&tag=m", 25)
            local tree = H.parse_email(msg.data)
            assert.are.same({}, tree.defects)
            assert.are.equal("yield m", H.header(tree, "Subject"))
            assert.are.equal(expected_body(25, "m"), tree.payload)
        end)

        it("as a part of a multipart smtp.message", function()
            local msg = check_yield("mode=multipart&chunks=25&tag=p", 25)
            local tree = H.parse_email(msg.data)
            assert.are.same({}, tree.defects)
            assert.is_true(tree.is_multipart)
            assert.are.equal(2, #tree.parts)
            assert.are.equal(FIX.text, tree.parts[1].payload)
            assert.are.equal(expected_body(25, "p"), tree.parts[2].payload)
        end)

        it("with a step function that yields as well", function()
            local msg = check_yield("mode=raw&chunks=10&tag=s&step=1", 22)
            assert.are.equal("From: <sender@example.com>\r\nTo: <alice@example.com>\r\n"
                .. "Subject: yield s\r\n\r\n" .. expected_body(10, "s"), msg.data)
        end)
    end)

    describe("errors come back as nil, err", function()
        it("a refused recipient: the 550 reply naming the recipient", function()
            local ngx_srv = start_nginx()
            local cap = start_capture({ reject_rcpt = "^bad@" })
            local res = get(ngx_srv, "/error?port=" .. cap.port)
            assert.is_nil(res.r, show(res))
            assert.are.equal("string", res.err_type, show(res))
            assert.is_truthy(res.err:match("^550"), res.err)
            assert.is_truthy(res.err:find("bad@example.com", 1, true), res.err)
            assert.is_nil(res.err:find("good@example.com", 1, true), res.err)
            assert.are.equal(0, #cap:messages())
            assert_clean_log(ngx_srv)
        end)

        it("a closed port: connection refused", function()
            local ngx_srv = start_nginx()
            local res = get(ngx_srv, "/error?port=" .. N.free_port())
            assert.is_nil(res.r, show(res))
            assert.are.equal("connection refused", res.err, show(res))
            assert_clean_log(ngx_srv)
        end)

        it("a server that never answers: timeout after smtp.TIMEOUT", function()
            local ngx_srv = start_nginx()
            local peer = H.scripted({ { send = "220 hi\r\n" }, { expect = "EHLO" }, { hang = true } })
            finally(function() peer:stop() end)
            local t0 = socket.gettime()
            local res = get(ngx_srv, "/error?timeout=0.3&port=" .. peer.port)
            local took = socket.gettime() - t0
            assert.is_nil(res.r, show(res))
            assert.are.equal("timeout", res.err, show(res))
            assert.is_true(res.elapsed >= 0.25 and res.elapsed < 2, show(res))
            assert.is_true(took < 5, "the request took " .. took .. " s")
            assert.is_truthy(peer:transcript():find("^EHLO "), peer:transcript())
            assert_clean_log(ngx_srv)
        end)

        it("a timeout that ran out while the worker was busy: still timeout at once", function()
            -- The greeting's first line comes at once, the second 0.1 s later,
            -- while another light thread keeps the worker busy until 0.55 s:
            -- when the sender runs again its 0.3 s step is over.
            local ngx_srv = start_nginx()
            local peer = H.scripted({ { send = "220-first line\r\n" }, { sleep = 0.1 },
                { send = "220-second line\r\n" }, { hang = true } })
            finally(function() peer:stop() end)
            local res = get(ngx_srv, "/busy?timeout=0.3&busy=0.5&port=" .. peer.port)
            assert.is_nil(res.r, show(res))
            assert.are.equal("timeout", res.err, show(res))
            assert.is_true(res.elapsed < 1.5, ("timeout after %.2f s instead of ~0.55 s"
                .. " (smtp.TIMEOUT = 0.3, lua_socket_read_timeout = 5 s): %s"):format(res.elapsed, show(res)))
            assert_clean_log(ngx_srv)
        end)
    end)

    describe("concurrency", function()
        it("five light threads in one request each deliver their message", function()
            local ngx_srv = start_nginx()
            local cap = start_capture()
            -- each send streams 10 chunks 50 ms apart: 0.5 s alone, 2.5 s in a row
            local res = get(ngx_srv, "/threads?n=5&chunks=10&delay=0.05&port=" .. cap.port)
            assert.are.equal(5, #res.results, show(res))
            for k, r in ipairs(res.results) do
                assert.are.equal(1, r.r, "thread " .. k .. ": " .. show(r))
                assert.are.same({ ("<t%d@example.com>"):format(k) }, r.report.accepted)
            end
            assert.is_true(res.elapsed < 1.6, "not concurrent: " .. res.elapsed .. " s")
            local msgs = messages(cap, 5)
            local rcpts, subjects = {}, {}
            for _, msg in ipairs(msgs) do
                assert.are.equal(1, #msg.rcpt)
                rcpts[#rcpts + 1] = msg.rcpt[1]
                local tree = H.parse_email(msg.data)
                local subject = H.header(tree, "Subject")
                subjects[#subjects + 1] = subject
                local k = tonumber(subject:match("^thread (%d+)$"))
                assert.are.equal(("t%d@example.com"):format(k), msg.rcpt[1])
                local t = {}
                for i = 1, 10 do t[i] = body_chunk(i, subject) end
                assert.are.equal(table.concat(t), tree.payload)
            end
            assert.are.same({ "t1@example.com", "t2@example.com", "t3@example.com",
                "t4@example.com", "t5@example.com" }, sorted(rcpts))
            assert.are.same({ "thread 1", "thread 2", "thread 3", "thread 4", "thread 5" },
                sorted(subjects))
            assert_clean_log(ngx_srv)
        end)

        it("five parallel HTTP requests each deliver their message", function()
            local ngx_srv = start_nginx()
            local cap = start_capture()
            local conns = {}
            local t0 = socket.gettime()
            for k = 1, 5 do
                local c = socket.tcp()
                c:settimeout(30)
                assert(c:connect("127.0.0.1", ngx_srv.port))
                finally(function() c:close() end)
                -- 8 chunks 50 ms apart: 0.4 s each, 2 s one after the other
                local path = ("/yield?mode=message&chunks=8&delay=0.05&tag=par%d&port=%d")
                    :format(k, cap.port)
                assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
                conns[k] = c
            end
            for k, c in ipairs(conns) do
                local resp = assert(c:receive("*a"))
                local status = tonumber(resp:match("^HTTP/1%.%d (%d+)"))
                local body = resp:match("\r\n\r\n(.*)$")
                assert.are.equal(200, status, resp .. "\n" .. tail(ngx_srv:error_log()))
                local res = assert(json.decode(body), body)
                assert.are.equal(1, res.r, "request " .. k .. ": " .. show(res))
            end
            local took = socket.gettime() - t0
            assert.is_true(took < 1.5, "not concurrent: " .. took .. " s")
            local msgs = messages(cap, 5)
            local subjects = {}
            for _, msg in ipairs(msgs) do
                local tree = H.parse_email(msg.data)
                local subject = H.header(tree, "Subject")
                subjects[#subjects + 1] = subject
                local tag = subject:match("^yield (par%d)$")
                local t = {}
                for i = 1, 8 do t[i] = body_chunk(i, tag) end
                assert.are.equal(table.concat(t), tree.payload)
            end
            assert.are.same({ "yield par1", "yield par2", "yield par3", "yield par4", "yield par5" },
                sorted(subjects))
            assert_clean_log(ngx_srv)
        end)
    end)
end)
