# The two commands of the README:
#   make run   installs what is missing, builds, and starts offstatd on its
#              bundled data at tcp://127.0.0.1:7355
#   make test  installs what is missing, builds, and runs every test (then
#              the whole suite again under AddressSanitizer+UBSan)
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_TSAN  ?= build-tsan
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
RUN_FLAGS   ?=
FUZZ_SECONDS ?= 60
SOAK_MINUTES ?= 10

.PHONY: all deps build run test test-fast test-asan test-tsan install clean fuzz \
	fuzz-short soak bench container-test

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/service/offstatd $(RUN_FLAGS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(BUILD_ASAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug \
	    -DOFFSTAT_SANITIZER=address $(CMAKE_FLAGS)

test-asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS)

$(BUILD_TSAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug \
	    -DOFFSTAT_SANITIZER=thread $(CMAKE_FLAGS)

test-tsan: deps $(BUILD_TSAN)/CMakeCache.txt
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    ctest --output-on-failure -j $(JOBS)

test: test-fast test-asan test-tsan fuzz-short

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)

# Not part of `make test`: each fuzz target for FUZZ_SECONDS (clang,
# libFuzzer), and a soak of mixed load with malformed requests.
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Each fuzz target for 10 s over its corpus: what CI runs.
fuzz-short: deps
	scripts/fuzz.sh 10

# Baseline, offstat and the gRPC peer interleaved on the full-size data.
bench: deps
	bench/run.sh

# Builds the container image for real, starts it, queries it, stops it.
container-test: build
	scripts/container-test.sh

soak: build
	scripts/soak.sh $(SOAK_MINUTES)
