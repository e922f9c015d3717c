# callrec: the two commands a newcomer needs, and a few more.
#   make demo   set up, build, convert the bundled captures into ./recordings
#   make test   set up, build, run the whole test suite

SWIFT ?= swift
DEMO_CAPTURES = Fixtures/g711u-2legs-20ms.pcap Fixtures/g711a-2legs-20ms.pcap

.PHONY: setup build release demo test fixtures bench clean

setup:
	@./scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

demo: build
	.build/debug/callrec convert $(DEMO_CAPTURES) --out recordings
	@echo
	@echo "Files in ./recordings:"
	@find recordings -type f | sort

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Regenerate the generated captures in Fixtures/ (deterministic: same bytes every time).
fixtures: build
	$(SWIFT) run make-fixtures

# The package-benchmark suites (Benchmarks/ is its own package).
bench: setup
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark

clean:
	rm -rf .build recordings
