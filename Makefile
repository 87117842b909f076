.PHONY: demo test bench build
demo:
	scripts/demo
test:
	scripts/test
build:
	swift build
# Benchmarks against named peers (cjpeg, libpng defaults, scanimage, nginx), ratios printed.
bench:
	scripts/install-deps --bench
	swift build -c release
	.build/release/counterkit-bench
	scripts/bench-camera
	scripts/bench-pad
