# yubin — one Makefile for the whole tree.
#
#   make              programs and lib/libyubin.a
#   make check        every test under t/ (TAP through prove)
#   make check SANITIZE=1   the same, built with ASan + UBSan (separate build dir)
#   make run          a demo server on loopback ports (see README.md)
#   make deps         install the Debian packages needed to build and test
#   make install      PREFIX, DESTDIR, sysconfdir, unitdir honoured
#   make fuzz         libFuzzer targets of t/fuzz/ (clang), in build/fuzz

VERSION    = 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
sysconfdir ?= /etc
unitdir   ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
DESTDIR   ?=

CC        ?= cc
PKG_CONFIG ?= pkg-config
WITH_SYSTEMD ?= 1

# zlib: lib/deflate.c, IMAP COMPRESS=DEFLATE; only imap-session calls it.
PKGS = gnutls zlib
ifeq ($(WITH_SYSTEMD),1)
PKGS += libsystemd
endif
# GnuTLS is compiled against but not linked: lib/tlslib.c dlopen()s it by
# this soname when a session first needs TLS, DKIM or a digest.
LINK_PKGS = $(filter-out gnutls,$(PKGS))
ifndef GNUTLS_SONAME
GNUTLS_SONAME := $(shell objdump -p "$$($(PKG_CONFIG) --variable=libdir gnutls)/libgnutls.so" 2>/dev/null | awk '$$1 == "SONAME" { print $$2 }')
endif

# Sanitizer builds live in their own directory so they never mix with normal objects.
# `make fuzz` builds everything again with clang's coverage for libFuzzer
# (FUZZ=1, in build/fuzz): the same sources, flags and archives as here.
ifeq ($(SANITIZE),1)
B = build/san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(FUZZ),1)
B = build/fuzz
CC = clang
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
else
B = build/obj
SANFLAGS =
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wformat-security -Wshadow \
            -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes \
            -fstack-protector-strong $(SANFLAGS)
CPPFLAGS += -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -Ilib -MMD -MP \
            -DYUBIN_VERSION='"$(VERSION)"' -DSYSCONFDIR='"$(sysconfdir)"' \
            -DWITH_SYSTEMD=$(WITH_SYSTEMD) \
            $(if $(GNUTLS_SONAME),-DTLSLIB_SONAME='"$(GNUTLS_SONAME)"') \
            $(shell $(PKG_CONFIG) --cflags $(PKGS))
LDFLAGS  += $(SANFLAGS)
LDLIBS   += $(if $(LINK_PKGS),$(shell $(PKG_CONFIG) --libs $(LINK_PKGS))) -lcrypt -lresolv -ldl

# Every lib/*.c is part of libyubin.a; every program is the .c files of its directory.
LIB_SRCS = $(sort $(wildcard lib/*.c))
LIB_OBJS = $(LIB_SRCS:%.c=$(B)/%.o)
LIB      = $(B)/lib/libyubin.a

PROGRAMS_ALL = smtp-session pop3-session imap-session relay-runner
PROGRAMS = $(foreach p,$(PROGRAMS_ALL),$(if $(wildcard $(p)/*.c),$(p)))
BINS     = $(foreach p,$(PROGRAMS),$(B)/bin/$(p))
# A normal build also leaves each binary beside its sources (smtp-session/smtp-session).
ifneq ($(SANITIZE),1)
BINS    += $(foreach p,$(PROGRAMS),$(p)/$(p))
endif

UNIT_SRCS = $(sort $(wildcard t/unit/*.c))
UNIT_BINS = $(UNIT_SRCS:%.c=$(B)/%)
FUZZ_SRCS = $(sort $(wildcard t/fuzz/fuzz-*.c))
FUZZ_BINS = $(FUZZ_SRCS:%.c=$(B)/%)

# The tests that link a program's archive (its objects without main) as
# well as lib/libyubin.a.
TESTS_USING_imap-session = t/unit/test-imap-parser t/unit/test-mime t/fuzz/fuzz-imap-date \
                           t/unit/test-imapurl t/fuzz/fuzz-imapurl \
                           t/fuzz/fuzz-imap-parser t/fuzz/fuzz-mime
TESTS_USING_pop3-session = t/unit/test-pop3-parse t/fuzz/fuzz-pop3-command
TESTS_USING_relay-runner = t/unit/test-relay-reply t/fuzz/fuzz-smtp-reply
TESTS_USING_smtp-session = t/unit/test-smtp-data t/fuzz/fuzz-smtp-command t/fuzz/fuzz-smtp-data

# Quiet by default; `make V=1` shows every command.
ifneq ($(V),1)
Q = @
endif

.PHONY: all check unit-tests clean install uninstall deps run fuzz fuzz-targets
# Keep the test objects: otherwise `sudo make install` after `make` rebuilds
# them as root inside the user's build/.
.SECONDARY:
all: $(BINS) $(UNIT_BINS) $(FUZZ_BINS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

# A program is its main file (smtp-session/smtp-session.c: main() and its
# flags) and an archive of its other files (build/obj/smtp-session/
# libsmtp-session.a), which the unit and fuzz tests link too.
define program_rule
$(1)_MAIN = $(B)/$(1)/$(1).o
$(1)_OBJS = $$(filter-out $$($(1)_MAIN),$$(patsubst %.c,$(B)/%.o,$$(wildcard $(1)/*.c)))
$(1)_LIB  = $(B)/$(1)/lib$(1).a
$$($(1)_LIB): $$($(1)_OBJS)
	@mkdir -p $$(@D)
	$$(Q)rm -f $$@
	$$(Q)ar rcs $$@ $$^
$(B)/bin/$(1): $$($(1)_MAIN) $$($(1)_LIB) $(LIB)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@.tmp $$($(1)_MAIN) $$($(1)_LIB) $(LIB) $$(LDLIBS) && mv -f $$@.tmp $$@
$(1)/$(1): $(B)/bin/$(1)
	$$(Q)cp $$< $$@.tmp && mv -f $$@.tmp $$@
$$(addprefix $(B)/,$$(TESTS_USING_$(1))): $$($(1)_LIB)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

# Tests name a program's header by its folder ("imap-session/parser.h").
$(B)/t/%.o: t/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CPPFLAGS) -I. $(CFLAGS) -c -o $@ $<

# A fuzz target runs under libFuzzer's main in the fuzz build, and under
# replay-main.c (its seeds and their mutations) in `make check`.
ifeq ($(FUZZ),1)
FUZZ_DRIVER = -fsanitize=fuzzer
else
FUZZ_MAIN = $(B)/t/fuzz/replay-main.o
endif
TEST_LINK = $(CC) $(LDFLAGS) $(FUZZ_DRIVER) -o $@ $(filter %.o,$^) \
            $(filter-out $(LIB),$(filter %.a,$^)) $(LIB) $(LDLIBS)
$(B)/t/fuzz/fuzz-%: $(B)/t/fuzz/fuzz-%.o $(FUZZ_MAIN) $(LIB)
	$(Q)$(TEST_LINK)

$(B)/t/unit/%: $(B)/t/unit/%.o $(LIB)
	$(Q)$(TEST_LINK)
# test-users spies on crypt_r(3): the linker sends every call of it to the
# test's __wrap_crypt_r, which hands over to the real one.
$(B)/t/unit/test-users: LDFLAGS += -Wl,--wrap=crypt_r

# Leaks at exit of a one-connection process are not failures; any other
# sanitizer report is.
check: all
	YUBIN_BUILD=$(CURDIR)/$(B) ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	prove -j2 --timer --exec t/run-one t/*.t

SHELL = /bin/bash

# Run one as e.g. build/fuzz/t/fuzz/fuzz-sasl -max_total_time=60 t/fuzz/seeds/sasl
fuzz:
	$(MAKE) FUZZ=1 fuzz-targets
fuzz-targets: $(FUZZ_BINS)

deps:
	@sh t/deps.sh

run: all
	@YUBIN_BUILD=$(CURDIR)/$(B) sh units/demo-run.sh

# units/install.sh does the work: programs, man pages, yubin-setup, units and
# examples with their paths rewritten to BINDIR and sysconfdir; an existing
# yubin.conf is never overwritten. `make uninstall` keeps configuration and mail.
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BINDIR="$(BINDIR)" MANDIR="$(MANDIR)" \
	sysconfdir="$(sysconfdir)" unitdir="$(unitdir)" BIN="$(B)/bin" PROGRAMS="$(PROGRAMS)" \
	TLSLIB_SONAME="$(GNUTLS_SONAME)"
install: $(BINS)
	@$(INSTALL_ENV) sh units/install.sh install

uninstall:
	@$(INSTALL_ENV) sh units/install.sh uninstall

clean:
	rm -rf build $(foreach p,$(PROGRAMS_ALL),$(p)/$(p))

-include $(shell find build -name '*.d' 2>/dev/null)
