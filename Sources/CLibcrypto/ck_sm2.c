#include "ck_fail.h"
#include "ck_libcrypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/// GB/T 35276's default signer id, which every SM2 signature here uses.
static const char sm2_signer_id[] = "1234567812345678";

void ck_release(void *buffer) { OPENSSL_free(buffer); }

/// Copies a memory BIO's contents into a new buffer; 0, or -1.
static int take(BIO *bio, unsigned char **bytes, size_t *length) {
    char *data = NULL;
    long count = BIO_get_mem_data(bio, &data);
    if (count <= 0) return -1;
    *bytes = OPENSSL_malloc((size_t)count + 1);
    if (*bytes == NULL) return -1;
    memcpy(*bytes, data, (size_t)count);
    (*bytes)[count] = 0;
    *length = (size_t)count;
    return 0;
}

void *ck_sm2_generate(char *error, size_t error_length) {
    ERR_clear_error();
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    if (key == NULL) ck_fail("OpenSSL cannot make an SM2 key", error, error_length);
    return key;
}

void *ck_sm2_read_private(const char *pem, size_t pem_length, char *error, size_t error_length) {
    ERR_clear_error();
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_length);
    if (bio == NULL) { ck_fail("out of memory", error, error_length); return NULL; }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key == NULL) { ck_fail("OpenSSL cannot read the key", error, error_length); return NULL; }
    if (!EVP_PKEY_is_a(key, "SM2")) {
        EVP_PKEY_free(key);
        ck_fail("the key is not an SM2 key", error, error_length);
        return NULL;
    }
    return key;
}

void ck_sm2_free(void *key) { EVP_PKEY_free(key); }

int ck_sm2_private_pem(const void *key, char **pem, size_t *pem_length) {
    BIO *bio = BIO_new(BIO_s_mem());
    int status = -1;
    if (bio != NULL && PEM_write_bio_PKCS8PrivateKey(bio, (EVP_PKEY *)key, NULL, NULL, 0, NULL, NULL) == 1)
        status = take(bio, (unsigned char **)pem, pem_length);
    BIO_free(bio);
    ERR_clear_error();
    return status;
}

int ck_sm2_public_der(const void *key, unsigned char **der, size_t *der_length) {
    unsigned char *out = NULL;
    int length = i2d_PUBKEY((EVP_PKEY *)key, &out);
    ERR_clear_error();
    if (length <= 0) return -1;
    *der = out;
    *der_length = (size_t)length;
    return 0;
}

/// A digest context for SM2 with SM3 and the default signer id, for signing (`sign`) or verifying; NULL on failure.
/// `*key_context` must be freed after the returned context.
static EVP_MD_CTX *sm2_context(EVP_PKEY *key, int sign, EVP_PKEY_CTX **key_context) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    *key_context = EVP_PKEY_CTX_new(key, NULL);
    if (context == NULL || *key_context == NULL
        || EVP_PKEY_CTX_set1_id(*key_context, sm2_signer_id, sizeof sm2_signer_id - 1) <= 0) {
        EVP_MD_CTX_free(context);
        return NULL;
    }
    EVP_MD_CTX_set_pkey_ctx(context, *key_context);
    int ready = sign ? EVP_DigestSignInit(context, NULL, EVP_sm3(), NULL, key)
                     : EVP_DigestVerifyInit(context, NULL, EVP_sm3(), NULL, key);
    if (ready != 1) {
        EVP_MD_CTX_free(context);
        return NULL;
    }
    return context;
}

int ck_sm2_sign(const void *key, const unsigned char *message, size_t message_length, unsigned char *signature,
                size_t *signature_length, char *error, size_t error_length) {
    ERR_clear_error();
    EVP_PKEY_CTX *key_context = NULL;
    EVP_MD_CTX *context = sm2_context((EVP_PKEY *)key, 1, &key_context);
    size_t length = 80;  // an SM2 signature's DER is at most 72 bytes
    int status = -1;
    if (context == NULL) ck_fail("OpenSSL cannot sign with the SM2 key", error, error_length);
    else if (EVP_DigestSign(context, signature, &length, message, message_length) != 1) ck_fail("SM2 signing failed", error, error_length);
    else { *signature_length = length; status = 0; }
    EVP_MD_CTX_free(context);
    EVP_PKEY_CTX_free(key_context);
    return status;
}

int ck_sm2_verify(const unsigned char *spki, size_t spki_length, const unsigned char *message, size_t message_length,
                  const unsigned char *signature, size_t signature_length) {
    const unsigned char *cursor = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &cursor, (long)spki_length);
    int valid = 0;
    if (key != NULL && EVP_PKEY_is_a(key, "SM2")) {
        EVP_PKEY_CTX *key_context = NULL;
        EVP_MD_CTX *context = sm2_context(key, 0, &key_context);
        valid = context != NULL && EVP_DigestVerify(context, signature, signature_length, message, message_length) == 1;
        EVP_MD_CTX_free(context);
        EVP_PKEY_CTX_free(key_context);
    }
    EVP_PKEY_free(key);
    ERR_clear_error();
    return valid;
}

int ck_sm2_is_public_key(const unsigned char *spki, size_t spki_length) {
    const unsigned char *cursor = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &cursor, (long)spki_length);
    int is = key != NULL && EVP_PKEY_is_a(key, "SM2") && cursor == spki + spki_length;
    EVP_PKEY_free(key);
    ERR_clear_error();
    return is;
}

void *ck_sm3_begin(void) {
    EVP_MD_CTX *digest = EVP_MD_CTX_new();
    if (digest != NULL && EVP_DigestInit_ex(digest, EVP_sm3(), NULL) != 1) {
        EVP_MD_CTX_free(digest);
        digest = NULL;
    }
    ERR_clear_error();
    return digest;
}

void ck_sm3_update(void *digest, const unsigned char *bytes, size_t length) { EVP_DigestUpdate(digest, bytes, length); }

void ck_sm3_finish(void *digest, unsigned char out[32]) {
    EVP_DigestFinal_ex(digest, out, NULL);
    EVP_DigestInit_ex(digest, EVP_sm3(), NULL);
}

void ck_sm3_free(void *digest) { EVP_MD_CTX_free(digest); }

int ck_sm2_certificate(const void *key, const char *const *names, const char *const *values, size_t count, long days,
                       char **pem, size_t *pem_length, char *error, size_t error_length) {
    ERR_clear_error();
    X509 *certificate = X509_new();
    X509_NAME *subject = X509_NAME_new();
    BIGNUM *serial = BN_new();
    BIO *bio = BIO_new(BIO_s_mem());
    X509_EXTENSION *extension = NULL;
    EVP_PKEY_CTX *key_context = NULL;
    EVP_MD_CTX *context = NULL;
    unsigned char random[16];
    int status = -1;
    if (certificate == NULL || subject == NULL || serial == NULL || bio == NULL) { ck_fail("out of memory", error, error_length); goto done; }
    for (size_t index = 0; index < count; index++) {
        if (X509_NAME_add_entry_by_txt(subject, names[index], MBSTRING_UTF8, (const unsigned char *)values[index], -1, -1, 0) != 1) {
            ck_fail("the certificate's subject cannot hold that attribute", error, error_length);
            goto done;
        }
    }
    if (RAND_bytes(random, sizeof random) != 1) { ck_fail("no random serial number", error, error_length); goto done; }
    random[0] &= 0x7f;
    if (BN_bin2bn(random, sizeof random, serial) == NULL || BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate)) == NULL
        || X509_set_version(certificate, X509_VERSION_3) != 1 || X509_set_subject_name(certificate, subject) != 1
        || X509_set_issuer_name(certificate, subject) != 1 || X509_gmtime_adj(X509_getm_notBefore(certificate), -300) == NULL
        || X509_time_adj_ex(X509_getm_notAfter(certificate), (int)days, 0, NULL) == NULL
        || X509_set_pubkey(certificate, (EVP_PKEY *)key) != 1) {
        ck_fail("the certificate cannot be made", error, error_length);
        goto done;
    }
    X509V3_CTX extensions;
    X509V3_set_ctx(&extensions, certificate, certificate, NULL, NULL, 0);
    const char *wanted[][2] = {
        {"basicConstraints", "critical,CA:FALSE"},
        {"keyUsage", "critical,digitalSignature,nonRepudiation"},
        {"subjectKeyIdentifier", "hash"},
    };
    for (size_t index = 0; index < sizeof wanted / sizeof wanted[0]; index++) {
        extension = X509V3_EXT_conf(NULL, &extensions, wanted[index][0], wanted[index][1]);
        if (extension == NULL || X509_add_ext(certificate, extension, -1) != 1) {
            ck_fail("the certificate's extensions cannot be made", error, error_length);
            goto done;
        }
        X509_EXTENSION_free(extension);
        extension = NULL;
    }
    context = sm2_context((EVP_PKEY *)key, 1, &key_context);
    if (context == NULL || X509_sign_ctx(certificate, context) <= 0) { ck_fail("signing the certificate failed", error, error_length); goto done; }
    if (PEM_write_bio_X509(bio, certificate) != 1 || take(bio, (unsigned char **)pem, pem_length) != 0) {
        ck_fail("the certificate cannot be encoded", error, error_length);
        goto done;
    }
    status = 0;
done:
    X509_EXTENSION_free(extension);
    EVP_MD_CTX_free(context);
    EVP_PKEY_CTX_free(key_context);
    BIO_free(bio);
    BN_free(serial);
    X509_NAME_free(subject);
    X509_free(certificate);
    return status;
}

int ck_certificate_public_key(const unsigned char *certificate, size_t certificate_length, unsigned char **der,
                              size_t *der_length) {
    const unsigned char *cursor = certificate;
    X509 *parsed = d2i_X509(NULL, &cursor, (long)certificate_length);
    int status = -1;
    if (parsed != NULL) {
        unsigned char *out = NULL;
        int length = i2d_PUBKEY(X509_get0_pubkey(parsed), &out);
        if (length > 0) { *der = out; *der_length = (size_t)length; status = 0; }
    }
    X509_free(parsed);
    ERR_clear_error();
    return status;
}
