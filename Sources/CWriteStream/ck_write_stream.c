#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include "ck_write_stream.h"

FILE *ck_open_write_stream(void *cookie, ck_write_function write, ck_close_function close) {
    cookie_io_functions_t functions = { .read = NULL, .write = write, .seek = NULL, .close = close };
    return fopencookie(cookie, "w", functions);
}

int ck_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, (off64_t)offset, (off64_t)length, SYNC_FILE_RANGE_WRITE);
}
