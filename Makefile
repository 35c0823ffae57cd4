# savor: one non-recursive Makefile.
#
#   make                      release build: build/savor
#   make test                 build, then run the whole suite (tests/run.sh)
#   make SANITIZE=1           ASan+UBSan build in build-san/
#   make fuzz                 libFuzzer targets with clang in build-fuzz/
#   make format / format-check
#
# Everything but src/main.c goes into libcore.a, which the binary, the unit
# tests and the fuzzers link.

CC      ?= cc
PKGS    := libmicrohttpd jansson sqlite3 openblas lapacke openssl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wwrite-strings -Wformat=2 -Wno-format-nonliteral -Werror
CFLAGS_BASE := -std=gnu11 -g $(WARN) -Isrc $(PKG_CFLAGS) -D_GNU_SOURCE -MMD -MP
LDLIBS  := $(PKG_LIBS) -lpthread -lm

ifeq ($(SANITIZE),1)
  BUILD  ?= build-san
  OPT    := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
else
  BUILD  ?= build
  OPT    := -O2
endif
CFLAGS_ALL := $(CFLAGS_BASE) $(OPT) $(CFLAGS)

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path src/main.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/main.o
LIB      := $(BUILD)/libcore.a
BIN      := $(BUILD)/savor

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BUILD := build-fuzz
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Isrc $(PKG_CFLAGS) -D_GNU_SOURCE -MMD -MP \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

.PHONY: all test unit fuzz format format-check clean
all: $(BIN) $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS_ALL) $(LDFLAGS) -Itests -o $@ $< $(LIB) $(LDLIBS) -lcmocka

test: all
	tests/run.sh

unit: $(UNIT_BIN)

fuzz: $(FUZZ_BIN)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libcore.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_BUILD)/libcore.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libcore.a $(LDLIBS)

FORMAT_FILES = $(shell find src tests/unit fuzz -name '*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)
