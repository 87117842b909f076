#define _GNU_SOURCE
#include <stdio.h>
#include "ck_write_stream.h"

FILE *ck_open_write_stream(void *cookie, ck_write_function write, ck_close_function close) {
    cookie_io_functions_t functions = { .read = NULL, .write = write, .seek = NULL, .close = close };
    return fopencookie(cookie, "w", functions);
}
