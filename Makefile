# callrec: the two commands a newcomer needs, and a few more.
#   make demo   set up, build, convert the bundled captures into ./recordings
#   make test   set up, check imports against Package.swift, build, run the whole test suite and the browser test, replay and fuzz every network parser (bounded)

SWIFT ?= swift
DEMO_CAPTURES = Fixtures/g711u-2legs-20ms.pcap Fixtures/g711a-2legs-20ms.pcap

.PHONY: setup bench-deps python-deps browser-deps browser-test serve-load serve-load-hour build release demo test fixtures bench bench-check clean fuzz fuzz-build fuzz-replay fuzz-long fuzz-corpus fuzz-seed fuzz-minimise soak overload

setup:
	@./scripts/setup.sh

# PESQ (ITU-T P.862, the pesq package) for the tests that hold audio quality to a figure.
python-deps:
	@python3 -c "import pesq, numpy, scipy.signal" 2>/dev/null || python3 -m pip install --quiet pesq numpy scipy

# selenium, which drives Debian's chromium (setup.sh installs it and chromium-driver) for make browser-test.
browser-deps:
	@python3 -c "import selenium" 2>/dev/null || python3 -m pip install --quiet selenium

# Debug builds carry no debug information (DWARF): make test's build is about 45 s shorter that way (make test must
# stay under 15 minutes on this 2-core machine), and backtraces still name the functions. Every debug build here uses
# the same flags, since a build with other flags rebuilds everything. For a debugger: make build DEBUG_BUILD_FLAGS=
DEBUG_BUILD_FLAGS ?= -debug-info-format none

build: setup
	$(SWIFT) build $(DEBUG_BUILD_FLAGS)

release: setup
	$(SWIFT) build -c release

demo: build
	.build/debug/callrec convert $(DEMO_CAPTURES) --out recordings
	@echo
	@echo "Files in ./recordings:"
	@find recordings -type f | sort

# Each step's start time is printed, so a slow run shows where its time went.
test: setup python-deps
	@date '+make test: %T check imports'
	./scripts/check-imports.py
	@date '+make test: %T build'
	$(SWIFT) build --build-tests $(DEBUG_BUILD_FLAGS)
	@# The fuzzing build (its own folder, sanitizer flags) goes on beside the test run at low priority:
	@# it takes only the CPU the tests leave idle while they wait (sign-in slow-downs, timeouts, audio
	@# played in real time); its log is shown only when it fails.
	@date '+make test: %T swift test, the fuzzing build beside it'
	@mkdir -p $(FUZZ_SCRATCH)
	nice -n 15 $(MAKE) --no-print-directory fuzz-build > $(FUZZ_SCRATCH)/make-test-build.log 2>&1 & fuzz=$$!; \
	$(SWIFT) test --skip-build; status=$$?; \
	wait $$fuzz || { cat $(FUZZ_SCRATCH)/make-test-build.log; echo "make test: the fuzzing build failed"; exit 1; }; \
	exit $$status
	@date '+make test: %T fuzz replay'
	$(MAKE) fuzz-replay
	@# The browser test mostly waits (audio plays in real time): the bounded fuzzing run goes on beside it.
	@date '+make test: %T browser test, beside the fuzzing run'
	$(MAKE) -j2 --output-sync=target browser-test fuzz
	@date '+make test: %T done'

# callrec serve in a real browser (headless chromium through WebDriver): sign in, see only one's own
# calls, play, seek, sign out; a supervisor sees the team's. The screenshot of the call page is
# left in BROWSER_TEST_OUT.
BROWSER_TEST_OUT ?= .build/browser-test
browser-test: setup browser-deps
	$(SWIFT) build --product callrec $(DEBUG_BUILD_FLAGS)
	python3 Tests/Browser/serve_browser_test.py --callrec .build/debug/callrec --out $(BROWSER_TEST_OUT)

# callrec serve under load (not part of make test): LISTENERS connections streaming a sealed
# recording's audio through wrk for LOAD_SECONDS, the server's memory sampled (it must stay flat),
# and the first byte of a range timed. A release build, as every benchmark.
LISTENERS ?= 200
LOAD_SECONDS ?= 20
serve-load: setup
	$(SWIFT) build -c release --product callrec
	python3 Tests/Load/serve_load.py --callrec .build/release/callrec --listeners $(LISTENERS) --seconds $(LOAD_SECONDS)

# The same with a generated one-hour call as the recording served (the first byte of a range in it, timed).
serve-load-hour: setup
	$(SWIFT) build -c release --product callrec
	$(SWIFT) build -c release --product soak
	python3 Tests/Load/serve_load.py --callrec .build/release/callrec --hour .build/release/soak --listeners $(LISTENERS) --seconds $(LOAD_SECONDS)

# libFuzzer over every parser that reads the network (Fuzz/README.md): one
# executable, CallrecFuzzer, whose first argument names the target. The fuzzing
# build has its own folder so the sanitizer flags do not touch the normal build;
# the normal build of the same target replays inputs.
FUZZ_TARGETS = capture sip rtp tcp fragment
FUZZ_SCRATCH = .build/fuzz
# make test fuzzes FUZZ_SECONDS per target, the targets side by side (one per core, FUZZ_JOBS): 12 s x 5 targets
# on 2 cores is about 40 s.
FUZZ_SECONDS ?= 12
FUZZ_LONG_SECONDS ?= 3600
FUZZ_CORPUS_SECONDS ?= 600
export FUZZ_SCRATCH

# Optimised (-O keeps every precondition; measured: 780 SIP inputs a second against 67 in a debug build).
fuzz-build:
	$(SWIFT) build -c release --scratch-path $(FUZZ_SCRATCH) --product CallrecFuzzer -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING

# Each committed corpus replayed once (normal build, no sanitizer).
fuzz-replay:
	$(SWIFT) build --product CallrecFuzzer $(DEBUG_BUILD_FLAGS)
	@for t in $(FUZZ_TARGETS); do .build/debug/CallrecFuzzer $$t Fuzz/corpus/$$t || exit 1; done

# Bounded run (CI, make test): FUZZ_SECONDS per target from its committed corpus.
fuzz: fuzz-build
	@./scripts/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# An hour per target (FUZZ_LONG_SECONDS), one per core at a time (FUZZ_JOBS=1: one after the other), each going on from what
# the last long run found (kept in .build/fuzz/long): make fuzz-long FUZZ_LONG_SECONDS=600 FUZZ_TARGETS=sip
fuzz-long: fuzz-build
	@FUZZ_WORK=$(FUZZ_SCRATCH)/long ./scripts/fuzz.sh run $(FUZZ_LONG_SECONDS) $(FUZZ_TARGETS)

# Grows the committed corpora: fuzz FUZZ_CORPUS_SECONDS per target, keep only what adds coverage.
fuzz-corpus: fuzz-build
	@./scripts/fuzz.sh grow $(FUZZ_CORPUS_SECONDS) $(FUZZ_TARGETS)

# Rewrites each committed corpus as the smallest set keeping every edge it and the long runs reach.
fuzz-minimise: fuzz-build
	@./scripts/fuzz.sh minimise $(FUZZ_TARGETS)

# Seeds from the real captures (../shared/data/captures) and generated calls, merged likewise.
fuzz-seed: fuzz-build
	$(SWIFT) build --product CallrecFuzzer $(DEBUG_BUILD_FLAGS)
	@./scripts/fuzz.sh seed $(FUZZ_TARGETS)

# Regenerate the generated captures in Fixtures/ (deterministic: same bytes every time).
fixtures: build
	$(SWIFT) run make-fixtures

# The live recorder under generated traffic through a pipe, as fast as it takes it: every call
# written, the catalog and the files in agreement, memory flat. Default: an hour of 200 calls at
# once (about an hour on 2 cores). Shorter: make soak SOAK_SECONDS=600.
SOAK_CALLS ?= 200
SOAK_SECONDS ?= 3600
soak: setup
	$(SWIFT) build -c release --product callrec
	$(SWIFT) build -c release --product soak
	.build/release/soak --calls $(SOAK_CALLS) --seconds $(SOAK_SECONDS) --callrec .build/release/callrec

# The live recorder under overload: OVERLOAD_CALLS calls at once (about twice what this 2-core machine
# sustains at complexity 5: make soak measures 193), written through a pipe at their capture times for
# OVERLOAD_SECONDS, then OVERLOAD_TAIL seconds of silence. Every call must be written, the lines in
# order, peak memory no higher in the overload's second half than in its first (+15 %); the report
# gives the recorder's steps of Opus complexity, memory over time and when the backlog was gone.
OVERLOAD_CALLS ?= 390
OVERLOAD_SECONDS ?= 300
OVERLOAD_TAIL ?= 120
overload: setup
	$(SWIFT) build -c release --product callrec
	$(SWIFT) build -c release --product soak
	.build/release/soak --pace --calls $(OVERLOAD_CALLS) --seconds $(OVERLOAD_SECONDS) --tail $(OVERLOAD_TAIL) --callrec .build/release/callrec

# The package-benchmark suites (Benchmarks/ is its own package).
# tshark, the peer ReadSliceDemux measures inspect against (`tshark -q -z rtp,streams`): installed for the
# benchmarks only, not for the tests.
bench-deps: setup
	@command -v tshark >/dev/null 2>&1 || { echo "bench: installing tshark"; sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq tshark; }

bench: bench-deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark

# Fails if a change makes conversion or capture reading allocate more than the
# counts committed in Benchmarks/Thresholds/ (p90, within 5 %): a per-packet
# allocation adds thousands. Refresh after a deliberate change with
#   cd Benchmarks && swift package --disable-sandbox benchmark thresholds update --target Convert
# (then rename the written files: spaces, not underscores, as the check reads them).
bench-check: bench-deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark thresholds check --target Convert --target ReadSliceDemux

clean:
	rm -rf .build recordings
