.PHONY: demo test bench build fuzz soak
demo:
	scripts/demo
test:
	scripts/test
build:
	swift build
# Benchmarks against named peers (cjpeg, libpng defaults, scanimage, nginx), ratios printed.
bench:
	scripts/install-deps --bench
	COUNTERKIT_BENCH=1 swift build -c release --static-swift-stdlib
	.build/release/counterkit-bench
	scripts/bench-camera
	scripts/bench-pad
	scripts/bench-preview
	scripts/bench-escl
# Each fuzz target for FUZZ_SECONDS (default 60) under libFuzzer and AddressSanitizer.
fuzz:
	scripts/fuzz --seconds $(or $(FUZZ_SECONDS),60)
# 64 keep-alive connections for SOAK_SECONDS (default 60) against a real service; accounts checked at the end.
soak:
	COUNTERKIT_BENCH=1 swift build -c release --static-swift-stdlib
	.build/release/counterkit-bench soak $(or $(SOAK_SECONDS),60)
