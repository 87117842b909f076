// A stdio stream whose bytes go to a callback (glibc's fopencookie), so that encoders that take a
// FILE * (libjpeg, libpng) can be hashed and counted on their way to the file; and early writeback.
#ifndef COUNTERKIT_WRITE_STREAM_H
#define COUNTERKIT_WRITE_STREAM_H
#include <stdio.h>
#include <sys/types.h>

/// Writes `count` bytes; returns how many were taken, or 0 on error (with errno set).
typedef ssize_t (*ck_write_function)(void *cookie, const char *bytes, size_t count);
/// Ends the stream's target; 0, or -1 on error.
typedef int (*ck_close_function)(void *cookie);

/// A write-only stream over `write` and `close`; NULL (errno set) on failure.
FILE *ck_open_write_stream(void *cookie, ck_write_function write, ck_close_function close);

/// Starts writing `length` bytes of `fd` from `offset` to the disk without waiting for them
/// (Linux's sync_file_range with SYNC_FILE_RANGE_WRITE), so that a later fsync has little left to do.
/// 0, or -1 with errno set.
int ck_start_writeback(int fd, long long offset, long long length);
#endif
