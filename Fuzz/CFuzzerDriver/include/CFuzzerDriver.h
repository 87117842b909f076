#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt), run from our own main: SwiftPM names an executable's entry point itself.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
