# yubin — one Makefile for the whole tree.
#
#   make              programs and lib/libyubin.a
#   make check        every test under t/ (TAP through prove)
#   make check SANITIZE=1   the same, built with ASan + UBSan (separate build dir)
#   make run          a demo server on loopback ports (see README.md)
#   make deps         install the Debian packages needed to build and test
#   make install      PREFIX, DESTDIR, sysconfdir, unitdir honoured
#   make fuzz         libFuzzer targets under t/fuzz/ (clang)

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

PKGS = gnutls
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
ifeq ($(SANITIZE),1)
B = build/san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
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

# Quiet by default; `make V=1` shows every command.
ifneq ($(V),1)
Q = @
endif

.PHONY: all check unit-tests clean install uninstall deps run fuzz
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

define program_rule
$(1)_OBJS = $$(patsubst %.c,$(B)/%.o,$$(wildcard $(1)/*.c))
$(B)/bin/$(1): $$($(1)_OBJS) $(LIB)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@.tmp $$($(1)_OBJS) $(LIB) $$(LDLIBS) && mv -f $$@.tmp $$@
$(1)/$(1): $(B)/bin/$(1)
	$$(Q)cp $$< $$@.tmp && mv -f $$@.tmp $$@
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

# Fuzz targets may #include a program's .c file; -I. lets them name it.
$(B)/t/fuzz/%.o: t/fuzz/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CPPFLAGS) -I. $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<
$(B)/t/fuzz/fuzz-%: $(B)/t/fuzz/fuzz-%.o $(B)/t/fuzz/replay-main.o $(LIB)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/t/unit/%: $(B)/t/unit/%.o $(LIB)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Leaks at exit of a one-connection process are not failures; any other
# sanitizer report is.
check: all
	YUBIN_BUILD=$(CURDIR)/$(B) ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	prove -j2 --timer --exec t/run-one t/*.t

SHELL = /bin/bash

fuzz:
	$(MAKE) -C t/fuzz

deps:
	@sh t/deps.sh

run: all
	@YUBIN_BUILD=$(CURDIR)/$(B) sh units/demo-run.sh

# units/install.sh does the work: programs, man pages, yubin-setup, units and
# examples with their paths rewritten to BINDIR and sysconfdir; an existing
# yubin.conf is never overwritten. `make uninstall` keeps configuration and mail.
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BINDIR="$(BINDIR)" MANDIR="$(MANDIR)" \
	sysconfdir="$(sysconfdir)" unitdir="$(unitdir)" BIN="$(B)/bin" PROGRAMS="$(PROGRAMS)"
install: $(BINS)
	@$(INSTALL_ENV) sh units/install.sh install

uninstall:
	@$(INSTALL_ENV) sh units/install.sh uninstall

clean:
	rm -rf build $(foreach p,$(PROGRAMS_ALL),$(p)/$(p))

-include $(shell find build -name '*.d' 2>/dev/null)
