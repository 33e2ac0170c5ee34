# Thin wrapper over CMake: `make`, `make check`, `make demo`, `make fuzz`,
# `make bench`, `make format-check`.
BUILD   ?= build
ASAN    ?= build-asan
FUZZB   ?= build-fuzz
FUZZ_SECONDS ?= 600
CHECK_FUZZ_SECONDS ?= 60
JOBS    ?= $(shell nproc)

.PHONY: all deps build check check-unit check-asan fuzz fuzz-smoke demo bench format format-check clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory fuzz-smoke FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	$(MAKE) --no-print-directory check-asan
	@echo "make check: all passed"

check-asan: deps
	cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIMAPMIG_SANITIZE=ON -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) -L 'unit|integration' -LE no-sanitizer

fuzz-build: deps
	cmake -S . -B $(FUZZB) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIMAPMIG_SANITIZE=ON -DIMAPMIG_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build $(FUZZB) -j $(JOBS)

# Runs every fuzz target for FUZZ_SECONDS each (default 10 minutes).
fuzz: fuzz-build
	FUZZ_PER_TARGET=1 scripts/fuzz.sh $(FUZZB) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	scripts/fuzz.sh $(FUZZB) $(FUZZ_SECONDS)

demo: build
	scripts/demo.sh $(BUILD)/imapmig

bench: build
	bench/run.sh $(BUILD)/imapmig

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.c')

format-check:
	clang-format --dry-run -Werror $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.c')

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZB)
