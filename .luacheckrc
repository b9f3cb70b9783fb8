-- luacheck configuration (lua-http style): the library uses only the
-- minimal standard globals; specs add busted's.
std = "min"
max_line_length = 110
files["spec"] = { std = "+busted", max_line_length = 120 }
-- LuaSocket's reference examples, kept verbatim (they set globals)
exclude_files = { "spec/fixtures/luasocket_example*.lua" }
files["lua/socket/smtp/transport.lua"] = { read_globals = { "ngx" } }
files["spec/openresty"] = { read_globals = { "ngx" } }
files["bench"] = { std = "min" }
-- the binding fuzzer runs under Lua 5.4 (math.type, <close>) and may under 5.1
files["fuzz"] = { std = "max" }
