#ifndef CK_LIBCRYPTO_H
#define CK_LIBCRYPTO_H

#include <stddef.h>

/// Encrypts the file at `input` for the holder of the certificate `certificate` (DER, `certificate_length` bytes)
/// into a CMS (RFC 5652) file at `output`: AuthEnvelopedData with AES-256-GCM (RFC 5083, 5084) when `authenticated`,
/// else EnvelopedData with AES-256-CBC. The content is streamed from `input` to `output` through OpenSSL's CMS
/// (BER, as `openssl cms -encrypt -stream -outform DER` writes it); the recipient's key is used as OpenSSL's CMS
/// does for its type (RSA: key transport; EC: ECDH key agreement). The envelope's size and SHA-256 (32 bytes) are
/// counted as it is written, into `written` and `sha256`. Returns 0, or -1 with a message in `error`.
int ck_envelope_seal(const char *input, const char *output, const unsigned char *certificate, size_t certificate_length,
                     int authenticated, long long *written, unsigned char sha256[32], char *error, size_t error_length);

/// Encrypts the file at `input` for the holder of the SM2 certificate `certificate` (DER) into a GM/T 0010 (GB/T
/// 35275) envelope at `output`, DER: ContentInfo { envelopedData 1.2.156.10197.6.1.4.2.3, EnvelopedData { version 1,
/// one RecipientInfo { version 1, the certificate's issuer and serial number, sm2encrypt 1.2.156.10197.1.301.3, the
/// SM4 key encrypted by SM2 (GM/T 0009 ciphertext, DER) }, EncryptedContentInfo { data 1.2.156.10197.6.1.4.2.1,
/// sm4-cbc 1.2.156.10197.1.104.2 with its IV, [0] the content } } }. The content is streamed: encrypted with a new
/// random SM4 key and IV (CBC, PKCS#7 padding) as it is read, as `ck_envelope_stream_open` does for an SM2 certificate. Size and SHA-256 as `ck_envelope_seal` gives them.
/// Returns 0, or -1 with a message in `error`.
int ck_envelope_seal_sm2(const char *input, const char *output, const unsigned char *certificate,
                         size_t certificate_length, long long *written, unsigned char sha256[32], char *error,
                         size_t error_length);

/// An envelope being written as its content arrives, into the file `output`, for the holder of `certificate` (DER):
/// CMS AuthEnvelopedData with AES-256-GCM (push model: `BIO_new_CMS`), or for an SM2 certificate the GM/T 0010
/// envelope `ck_envelope_seal_sm2` writes (its SM4 ciphertext kept in an unlinked scratch file beside `output` until
/// the length is known). NULL with a message on failure.
void *ck_envelope_stream_open(const char *output, const unsigned char *certificate, size_t certificate_length, char *error,
                              size_t error_length);

/// Encrypts `count` more bytes of content into the envelope; 0, or -1.
int ck_envelope_stream_write(void *stream, const void *bytes, size_t count);

/// Ends the content, completes the envelope (its tag and closing octets) and frees the stream; its size and SHA-256 as
/// `ck_envelope_seal` gives them. 0, or -1 with a message.
int ck_envelope_stream_finish(void *stream, long long *written, unsigned char sha256[32], char *error, size_t error_length);

/// Frees a stream that will not be finished (the caller removes its file).
void ck_envelope_stream_abandon(void *stream);

/// A file BIO for `output` behind a SHA-256 digest BIO (what is written through the returned BIO is hashed on its way
/// to the file); NULL on failure. `ck_finish_hashed_output` flushes it, reads the size and digest, and frees it.
void *ck_open_hashed_output(const char *output);
int ck_finish_hashed_output(void *bio, long long *written, unsigned char sha256[32]);

/// What CounterKit checks of a recipient certificate that swift-certificates cannot read (an SM2 one): its validity
/// (seconds since 1970), its key usage bits (X509v3 `KU_*`; -1 without the extension), its subject (RFC 2253, into
/// `subject`) and whether its key is SM2's. 0, or -1 if it is not a certificate.
int ck_certificate_facts(const unsigned char *certificate, size_t certificate_length, long long *not_before,
                         long long *not_after, long *key_usage, int *is_sm2, char *subject, size_t subject_length);

/// The issuer of a certificate (RFC 2253, into `issuer`); 0, or -1 if it is not a certificate.
int ck_certificate_issuer(const unsigned char *certificate, size_t certificate_length, char *issuer, size_t issuer_length);

/// Checks a certificate chain, leaf first (`count` DER certificates): each is issued by the next (names and key
/// identifiers, as `X509_check_issued` sees them) and carries its valid signature (SM2 ones with the default signer
/// id), and a last one that names itself as issuer carries its own valid signature. 0, or -1 with the index of the
/// certificate that fails in `failed_at` and why in `error`.
int ck_chain_check(const unsigned char *const *certificates, const size_t *lengths, size_t count, size_t *failed_at,
                   char *error, size_t error_length);

/// Frees a buffer one of these functions returned.
void ck_release(void *buffer);

// MARK: SM2 and SM3 (GB/T 32918, GB/T 32905): OpenSSL's implementations, behind CounterKit's key types.

/// A new random SM2 key (an `EVP_PKEY *`), or NULL with a message in `error`. Freed by `ck_sm2_free`.
void *ck_sm2_generate(char *error, size_t error_length);

/// The SM2 key in PKCS#8 PEM text, or NULL with a message (not PEM, not PKCS#8, not an SM2 key).
void *ck_sm2_read_private(const char *pem, size_t pem_length, char *error, size_t error_length);

/// Frees a key from `ck_sm2_generate` or `ck_sm2_read_private`.
void ck_sm2_free(void *key);

/// The key as PKCS#8 PEM (`*pem` freed by `ck_release`); 0, or -1.
int ck_sm2_private_pem(const void *key, char **pem, size_t *pem_length);

/// The key's public half as SubjectPublicKeyInfo DER (`*der` freed by `ck_release`); 0, or -1.
int ck_sm2_public_der(const void *key, unsigned char **der, size_t *der_length);

/// The SM2 signature (DER) of `message` with SM3 and the signer id `1234567812345678` (GB/T 35276's default) into
/// `signature`, which holds at least 80 bytes; `*signature_length` is set. 0, or -1 with a message.
int ck_sm2_sign(const void *key, const unsigned char *message, size_t message_length, unsigned char *signature,
                size_t *signature_length, char *error, size_t error_length);

/// Whether `signature` (DER) is the SM2 signature of `message` by the key in `spki` (SubjectPublicKeyInfo DER), with
/// SM3 and the default signer id: 1 if so, 0 if not or if the key is not an SM2 key.
int ck_sm2_verify(const unsigned char *spki, size_t spki_length, const unsigned char *message, size_t message_length,
                  const unsigned char *signature, size_t signature_length);

/// Whether `spki` (SubjectPublicKeyInfo DER) is an SM2 public key OpenSSL accepts: 1 or 0.
int ck_sm2_is_public_key(const unsigned char *spki, size_t spki_length);

/// A new SM3 digest (an `EVP_MD_CTX *`), or NULL. Freed by `ck_sm3_free`.
void *ck_sm3_begin(void);

/// Adds `length` bytes to the digest.
void ck_sm3_update(void *digest, const unsigned char *bytes, size_t length);

/// The digest of everything added so far into `out` (32 bytes); the digest then starts again, empty.
void ck_sm3_finish(void *digest, unsigned char out[32]);

/// Frees a digest from `ck_sm3_begin`.
void ck_sm3_free(void *digest);

/// A self-signed X.509 certificate of the SM2 `key` for the subject given as `count` attribute names (`CN`, `O`, …)
/// and values, valid from 5 minutes ago for `days`, signed SM2-with-SM3 (`*pem` freed by `ck_release`). 0, or -1
/// with a message.
int ck_sm2_certificate(const void *key, const char *const *names, const char *const *values, size_t count, long days,
                       char **pem, size_t *pem_length, char *error, size_t error_length);

/// The SubjectPublicKeyInfo DER of the certificate's key (`*der` freed by `ck_release`): for SM2 certificates, whose
/// keys swift-certificates does not read. 0, or -1.
int ck_certificate_public_key(const unsigned char *certificate, size_t certificate_length, unsigned char **der,
                              size_t *der_length);

#endif
