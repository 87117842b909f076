#ifndef CK_FAIL_H
#define CK_FAIL_H

#include <stddef.h>

/// Writes `what` and OpenSSL's first queued error into `error`, clears the queue, and returns -1.
int ck_fail(const char *what, char *error, size_t error_length);

#endif
