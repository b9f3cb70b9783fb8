-- luacheck configuration (lua-http style): the library uses only the
-- minimal standard globals; specs add busted's.
std = "min"
max_line_length = 110
files["spec"] = { std = "+busted" }
files["lua/socket/smtp/transport.lua"] = { read_globals = { "ngx" } }
files["spec/openresty"] = { read_globals = { "ngx" } }
files["bench"] = { std = "min" }
