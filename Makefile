# Thin wrapper over CMake: `make`, `make check`, `make demo`, `make fuzz`,
# `make bench`, `make format-check`.
BUILD   ?= build
ASAN    ?= build-asan
FUZZ_SECONDS ?= 600
CHECK_FUZZ_SECONDS ?= 60
JOBS    ?= $(shell nproc)

.PHONY: all deps build check check-unit check-asan asan-build fuzz-build fuzz fuzz-smoke demo bench format format-check clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The suites under AddressSanitizer and UndefinedBehaviorSanitizer: unit and
# integration tests but the long waiting ones (label no-sanitizer).
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SANITIZER_CTEST = ctest --output-on-failure -j $(JOBS) -L 'unit|integration' -LE no-sanitizer

# Every test, twice: the release suite and the sanitizer suite side by side
# (their time is mostly spent waiting on servers, slowed links and
# back-offs, so two suites on two cores take little longer than one; the
# sanitizer suite's output comes when it ends), then the fuzz smoke run.
check: build asan-build
	@log=$$(mktemp); \
	( cd $(ASAN) && $(SANITIZER_ENV) $(SANITIZER_CTEST) ) >$$log 2>&1 & apid=$$!; \
	( cd $(BUILD) && ctest --output-on-failure -j $(JOBS) ); rrc=$$?; \
	wait $$apid; arc=$$?; \
	echo "== the sanitizer suite ($(ASAN))"; cat $$log; rm -f $$log; \
	[ $$rrc = 0 ] || echo "make check: the release suite failed" >&2; \
	[ $$arc = 0 ] || echo "make check: the sanitizer suite failed" >&2; \
	[ $$rrc = 0 ] && [ $$arc = 0 ]
	scripts/fuzz.sh $(ASAN) $(CHECK_FUZZ_SECONDS)
	@echo "make check: all passed"

# One sanitizer tree for the suites and the fuzz targets: the code is built
# once with ASan, UBSan and the fuzzers' coverage instrumentation.
asan-build: deps
	cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIMAPMIG_SANITIZE=ON -DIMAPMIG_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build $(ASAN) -j $(JOBS)

check-asan: asan-build
	cd $(ASAN) && $(SANITIZER_ENV) $(SANITIZER_CTEST)

fuzz-build: asan-build

# Runs every fuzz target for FUZZ_SECONDS each (default 10 minutes).
fuzz: fuzz-build
	FUZZ_PER_TARGET=1 scripts/fuzz.sh $(ASAN) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	scripts/fuzz.sh $(ASAN) $(FUZZ_SECONDS)

demo: build
	scripts/demo.sh $(BUILD)/imapmig

bench: build
	bench/run.sh $(BUILD)/imapmig

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.c')

format-check:
	clang-format --dry-run -Werror $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.c')

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz
