#ifndef CK_ENVELOPE_H
#define CK_ENVELOPE_H

#include <stddef.h>

/// Encrypts the file at `input` for the holder of the certificate `certificate` (DER, `certificate_length` bytes)
/// into a CMS (RFC 5652) file at `output`: AuthEnvelopedData with AES-256-GCM (RFC 5083, 5084) when `authenticated`,
/// else EnvelopedData with AES-256-CBC. The content is streamed from `input` to `output` through OpenSSL's CMS
/// (BER, as `openssl cms -encrypt -stream -outform DER` writes it); the recipient's key is used as OpenSSL's CMS
/// does for its type (RSA: key transport; EC: ECDH key agreement). Returns 0, or -1 with a message in `error`.
int ck_envelope_seal(const char *input, const char *output, const unsigned char *certificate, size_t certificate_length,
                     int authenticated, char *error, size_t error_length);

#endif
