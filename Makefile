# smtp-native -- LuaSocket's socket.smtp on a sans-I/O C core.
#
#   make              build socket/smtp/core.so for LUA (5.4 by default)
#   make LUA=jit      ... for LuaJIT (Lua 5.1 ABI); LUA=5.1/5.2/5.3 work too
#   make test         install missing packages, build for 5.4 and LuaJIT
#                     (and 5.1, 5.2, 5.3), run the C tests and every spec under each
#   make demo         send a multipart message to a local capture server
#   make bench        LuaSocket's smtp and ours, side by side
#   make fuzz         run the libFuzzer targets and the binding fuzzer
#                     (fuzz_bind, under ASan), FUZZ_SECONDS each
#   make asan         build/asan/socket/smtp/core.so: Lua 5.4, ASan+UBSan
#   make install PREFIX=DIR
#
# The variables LuaRocks passes are honoured (CFLAGS, LIBFLAG, LUA_INCDIR,
# PREFIX, LUADIR, LIBDIR); each has a default below.

LUA ?= 5.4
ifeq ($(LUA),jit)
LUA_VER := 5.1
LUA_PC ?= luajit
LUA_BIN ?= luajit
else
LUA_VER := $(LUA)
LUA_PC ?= lua$(LUA)
LUA_BIN ?= lua$(LUA)
endif

LUA_INCDIR ?= $(patsubst -I%,%,$(firstword $(shell pkg-config --cflags-only-I $(LUA_PC) 2>/dev/null)))
CC ?= cc
CFLAGS ?= -O2 -g
# -Werror only where we build (make test, make asan, CI): a user's or
# LuaRocks' build must not fail on a new compiler's new warning.
WERROR ?=
WARN = -std=c99 -pedantic -Wall -Wextra $(WERROR) -Wshadow -Wpointer-arith \
       -Wcast-qual -Wwrite-strings -Wundef -Wmissing-prototypes \
       -Wstrict-prototypes -Wdeclaration-after-statement
LIBFLAG ?= -shared
PREFIX ?= /usr/local
LUADIR ?= $(PREFIX)/share/lua/$(LUA_VER)
LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_VER)

BUILD := build/$(LUA)
SO := $(BUILD)/socket/smtp/core.so

include src/sources.mk
OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(ENGINE_SRC) $(BINDING_SRC))

LUA_FILES := lua/smtp_native.lua lua/socket/smtp.lua lua/socket/smtp/session.lua \
             lua/socket/smtp/args.lua lua/socket/smtp/driver.lua lua/socket/smtp/transport.lua \
             lua/socket/smtp/message.lua lua/socket/smtp/tls.lua

.PHONY: all both all-luas deps test demo bench fuzz install clean lint asan

all: $(SO)

$(SO): $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) -o $@ $(OBJ)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(DEPFLAGS) -fPIC -fvisibility=hidden -Isrc -c $< -o $@

# The bindings (src/lua) are the only files that see Lua's headers.
$(BUILD)/obj/lua/%.o: src/lua/%.c
	@mkdir -p $(dir $@)
	@test -f "$(LUA_INCDIR)/lua.h" || { echo "lua.h not found in LUA_INCDIR=$(LUA_INCDIR): run 'make deps' or set LUA_INCDIR"; exit 1; }
	$(CC) $(CFLAGS) $(WARN) $(DEPFLAGS) -fPIC -fvisibility=hidden -Isrc -I$(LUA_INCDIR) -c $< -o $@

# Header dependencies: the compiler writes them (-MMD -MP) beside each object.
DEPFLAGS = -MMD -MP
-include $(OBJ:.o=.d)

# The ASan+UBSan build for Lua 5.4: the busted suite and the binding fuzzer
# run on it in `make test`. lua5.4 itself is not instrumented: it runs with
# the ASan runtime preloaded by .ci/lua-asan.sh (see .ci/test.sh and
# fuzz/bind/run.sh). float-cast-overflow is not part of gcc's "undefined".
ASAN_DIR := build/asan
ASAN_SO := $(ASAN_DIR)/socket/smtp/core.so
ASAN_CC ?= gcc
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow \
              -fno-sanitize-recover=all
ASAN_LUA_INCDIR ?= $(patsubst -I%,%,$(firstword $(shell pkg-config --cflags-only-I lua5.4 2>/dev/null)))
ASAN_OBJ := $(patsubst src/%.c,$(ASAN_DIR)/obj/%.o,$(ENGINE_SRC) $(BINDING_SRC))

asan: $(ASAN_SO)

$(ASAN_SO): $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) -shared -o $@ $(ASAN_OBJ)

-include $(ASAN_OBJ:.o=.d)

$(ASAN_DIR)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@test -f "$(ASAN_LUA_INCDIR)/lua.h" || { echo "lua.h (5.4) not found in ASAN_LUA_INCDIR=$(ASAN_LUA_INCDIR)"; exit 1; }
	$(ASAN_CC) $(ASAN_FLAGS) $(WARN) -Werror $(DEPFLAGS) -fPIC -fvisibility=hidden -Isrc -I$(ASAN_LUA_INCDIR) -c $< -o $@

both:
	$(MAKE) LUA=5.4
	$(MAKE) LUA=jit

# Every interpreter the tests run under: 5.4 and LuaJIT (the targets), plus
# plain 5.1, 5.2 and 5.3 to keep the compatibility layer honest.
TEST_LUAS ?= 5.4 jit 5.1 5.2 5.3
all-luas:
	@for v in $(TEST_LUAS); do $(MAKE) --no-print-directory LUA=$$v || exit 1; done

deps:
	@.ci/deps.sh

test: deps
	@$(MAKE) --no-print-directory WERROR=-Werror all-luas
	@$(MAKE) --no-print-directory WERROR=-Werror asan
	@TEST_LUAS="$(TEST_LUAS)" .ci/test.sh

lint:
	luacheck lua spec bench demo fuzz

demo: deps
	@$(MAKE) --no-print-directory LUA=5.4
	@demo/run.sh

bench: deps
	@$(MAKE) --no-print-directory LUA=5.4
	@bench/run.sh

FUZZ_SECONDS ?= 30
fuzz:
	@fuzz/run.sh $(FUZZ_SECONDS)

install: $(SO)
	install -d $(DESTDIR)$(LUADIR)/socket/smtp $(DESTDIR)$(LIBDIR)/socket/smtp
	install -m 644 lua/socket/smtp.lua $(DESTDIR)$(LUADIR)/socket/smtp.lua
	install -m 644 lua/smtp_native.lua $(DESTDIR)$(LUADIR)/smtp_native.lua
	install -m 644 $(filter lua/socket/smtp/%,$(LUA_FILES)) $(DESTDIR)$(LUADIR)/socket/smtp/
	install -m 755 $(SO) $(DESTDIR)$(LIBDIR)/socket/smtp/core.so

clean:
	rm -rf build

# Mutation testing of the safety rules (tools/mutate/mutants.txt): each
# one-line mutant, applied in a scratch copy, must make its tests fail.
# A few minutes; not part of `make test`. MUTATE_JOBS=N runs N at a time.
.PHONY: mutate
mutate:
	@tools/mutate/mutate.py
