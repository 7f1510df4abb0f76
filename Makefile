# Cirrus -- top-level entry points. Each target installs missing Debian
# packages first (scripts/deps.sh), so a fresh Debian 12 machine needs only
# `make run` or `make test`.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PYTHON     ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
CONF       ?= examples/cirrus.yaml

.PHONY: all build run test unit system bench fuzz clean

all: build

build:
	@scripts/deps.sh build
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=release -Dtests=false
	ninja -C $(BUILD)

run: build
	@echo "Serving examples/example.com.zone on 127.0.0.1:5353. Try, in another shell:"
	@echo "    dig @127.0.0.1 -p 5353 www.example.com A"
	$(BUILD)/src/cirrus serve -c $(CONF)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer:
# cmocka unit tests, then pytest system tests against the real binary.
test:
	@scripts/deps.sh test
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs
	CIRRUS_BIN=$(CURDIR)/$(ASAN_BUILD)/src/cirrus \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(PYTHON) -m pytest -q tests/system

bench: build
	@scripts/deps.sh bench
	bench/run.sh $(BUILD)/src/cirrus

fuzz:
	@scripts/deps.sh fuzz
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) \
		-Dfuzz=true -Dtests=false -Db_lundef=false --buildtype=debugoptimized
	ninja -C $(FUZZ_BUILD)
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
