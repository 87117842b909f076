#ifndef CK_TOKEN_H
#define CK_TOKEN_H

#include <stddef.h>

/// A private key in a PKCS#11 token, open for signing: a session logged in to the token, the key's handle, and its
/// public half as the token stores it.
typedef struct ck_token_key ck_token_key;

/// Opens the private key a `pkcs11:` URI (RFC 7512) names: `token=`, `object=`/`id=` pick the token and the key,
/// `pin-value=` or `pin-source=` (a file) give the user PIN, `module-path=` the module to load (else the modules
/// p11-kit has registered). p11-kit parses the URI and loads the module. Only EC P-256 and Ed25519 keys are taken.
/// NULL with a message in `error` when the token is absent, the PIN is refused, or no key (or more than one) matches;
/// `failure` then says which kind: CK_TOKEN_ABSENT, CK_TOKEN_PIN_REFUSED, or CK_TOKEN_OTHER.
ck_token_key *ck_token_open(const char *uri, int *failure, char *error, size_t error_length);

/// Why `ck_token_open` failed.
enum { CK_TOKEN_OTHER = 0, CK_TOKEN_ABSENT = 1, CK_TOKEN_PIN_REFUSED = 2 };

/// The key's type: 1 for EC (P-256: `ck_token_ec_params` names the curve), 2 for Ed25519.
int ck_token_key_type(const ck_token_key *key);

/// The public key's CKA_EC_POINT (DER OCTET STRING of the point, as PKCS#11 stores it) into `out` (`*length` in: its
/// capacity, out: the bytes); 0, or -1.
int ck_token_ec_point(const ck_token_key *key, unsigned char *out, size_t *length);

/// The key's CKA_EC_PARAMS (DER: the curve's OID, or Ed25519's name) into `out`; 0, or -1.
int ck_token_ec_params(const ck_token_key *key, unsigned char *out, size_t *length);

/// Signs in the token: CKM_ECDSA over `input` (a SHA-256 digest; the signature is r || s, 64 bytes) or CKM_EDDSA over
/// the message itself (64 bytes). One signature at a time per key (a lock). 0, or -1 with a message.
int ck_token_sign(ck_token_key *key, const unsigned char *input, size_t input_length, unsigned char *signature,
                  size_t *signature_length, char *error, size_t error_length);

/// Logs out, closes the session and releases the module.
void ck_token_close(ck_token_key *key);

#endif
