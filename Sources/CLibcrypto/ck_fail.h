#ifndef CK_FAIL_H
#define CK_FAIL_H

#include <stddef.h>

/// Writes `what` and OpenSSL's first queued error into `error`, clears the queue, and returns -1.
int ck_fail(const char *what, char *error, size_t error_length);

/// GM/T 0010 envelopes written as their content arrives (`ck_envelope_stream_*` for an SM2 recipient): open, write,
/// then finish or abandon, as the public functions of the same names; the caller removes an abandoned stream's file.
void *ck_sm2_stream_open(const char *output, const unsigned char *certificate, size_t certificate_length, char *error,
                         size_t error_length);
int ck_sm2_stream_write(void *stream, const void *bytes, size_t count);
int ck_sm2_stream_finish(void *stream, long long *written, unsigned char sha256[32], char *error, size_t error_length);
void ck_sm2_stream_abandon(void *stream);

#endif
