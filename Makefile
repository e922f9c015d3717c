# callrec: the two commands a newcomer needs, and a few more.
#   make demo   set up, build, convert the bundled captures into ./recordings
#   make test   set up, check imports against Package.swift, build, run the whole test suite, replay and fuzz the capture readers (bounded)

SWIFT ?= swift
DEMO_CAPTURES = Fixtures/g711u-2legs-20ms.pcap Fixtures/g711a-2legs-20ms.pcap

.PHONY: setup python-deps build release demo test fixtures bench bench-check clean fuzz fuzz-build fuzz-corpus soak

setup:
	@./scripts/setup.sh

# PESQ (ITU-T P.862, the pesq package) for the tests that hold audio quality to a figure.
python-deps:
	@python3 -c "import pesq, numpy, scipy.signal" 2>/dev/null || python3 -m pip install --quiet pesq numpy scipy

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

demo: build
	.build/debug/callrec convert $(DEMO_CAPTURES) --out recordings
	@echo
	@echo "Files in ./recordings:"
	@find recordings -type f | sort

test: setup python-deps
	./scripts/check-imports.py
	$(SWIFT) build --build-tests
	$(SWIFT) test
	.build/debug/CaptureFuzzer $(FUZZ_CORPUS)
	$(MAKE) fuzz

# libFuzzer over the capture readers and the slicer (Fuzz/CaptureFuzzer), in its
# own build folder so the sanitizer flags do not touch the normal build.
FUZZ_SCRATCH = .build/fuzz
FUZZ_CORPUS = Fuzz/corpus/capture
FUZZ_SECONDS ?= 30
FUZZ_FLAGS = -max_len=16384 -timeout=10 -rss_limit_mb=1024 -artifact_prefix=$(FUZZ_SCRATCH)/ -print_final_stats=1

fuzz-build:
	$(SWIFT) build --scratch-path $(FUZZ_SCRATCH) --product CaptureFuzzer -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING

# Bounded run (CI): starts from the committed corpus; what it finds goes to a
# temporary folder, a crashing input to $(FUZZ_SCRATCH)/crash-*.
fuzz: fuzz-build
	@tmp=$$(mktemp -d); log=$(FUZZ_SCRATCH)/fuzz.log; \
	echo "fuzzing the capture readers for $(FUZZ_SECONDS) s (log: $$log)"; \
	SWIFT_BACKTRACE=enable=no $(FUZZ_SCRATCH)/debug/CaptureFuzzer -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) $$tmp $(FUZZ_CORPUS) > $$log 2>&1; \
	status=$$?; rm -rf $$tmp; grep -E '^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|artifact)' $$log; \
	if [ $$status -ne 0 ]; then tail -40 $$log; fi; exit $$status

# Grows the committed corpus: fuzz longer, then keep only the inputs that add coverage.
FUZZ_CORPUS_SECONDS ?= 600
fuzz-corpus: fuzz-build
	@tmp=$$(mktemp -d); \
	SWIFT_BACKTRACE=enable=no $(FUZZ_SCRATCH)/debug/CaptureFuzzer -max_total_time=$(FUZZ_CORPUS_SECONDS) $(FUZZ_FLAGS) $$tmp $(FUZZ_CORPUS) > $(FUZZ_SCRATCH)/fuzz-corpus.log 2>&1 \
	&& $(FUZZ_SCRATCH)/debug/CaptureFuzzer -merge=1 $(FUZZ_FLAGS) $(FUZZ_CORPUS) $$tmp >> $(FUZZ_SCRATCH)/fuzz-corpus.log 2>&1; \
	status=$$?; rm -rf $$tmp; ls $(FUZZ_CORPUS) | wc -l; exit $$status

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

# The package-benchmark suites (Benchmarks/ is its own package).
bench: setup
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark

# Fails if a change makes conversion or capture reading allocate more than the
# counts committed in Benchmarks/Thresholds/ (p90, within 5 %): a per-packet
# allocation adds thousands. Refresh after a deliberate change with
#   cd Benchmarks && swift package --disable-sandbox benchmark thresholds update --target Convert
# (then rename the written files: spaces, not underscores, as the check reads them).
bench-check: setup
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark thresholds check --target Convert --target ReadSliceDemux

clean:
	rm -rf .build recordings
