# swvr — common tasks. Every target works on a fresh clone with cargo.
CARGO ?= cargo
SWVR := target/release/swvr
OUT ?= out

.PHONY: all build run test check fixtures reference expected audit bench clean

all: build

build:
	$(CARGO) build --release -p swvr-cli

## Run the whole pipeline on the committed fixture bundle into $(OUT)/.
run: build
	$(SWVR) run --out $(OUT)

## The test suite (what CI runs, see .ci/run).
test:
	$(CARGO) test --workspace --release

## Everything CI checks: fmt, clippy, docs, tests, contract check.
check:
	bash .ci/run

## Regenerate the committed fixture bundle from the committed seed.
fixtures: build
	$(SWVR) synth --out fixtures

## Recompute the R reference values under fixtures/reference/ (needs R + survey).
reference: build
	bash scripts/reference.sh

## Refresh fixtures/expected_manifest.json after an intended output change.
expected: build
	bash scripts/audit.sh --update

## Byte-reproducibility audit: regenerate fixtures, run twice and single-threaded, compare.
audit: build
	bash scripts/audit.sh

## Benchmarks at 1e5, 1e6, 1e7 respondents (time and peak memory per stage).
bench: build
	bash scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf $(OUT) bench-out
