#include "ck_libcrypto.h"
#include "ck_fail.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

int ck_envelope_seal(const char *input, const char *output, const unsigned char *certificate, size_t certificate_length,
                     int authenticated, char *error, size_t error_length) {
    int status = -1;
    BIO *in = NULL, *out = NULL;
    X509 *recipient = NULL;
    STACK_OF(X509) *recipients = NULL;
    CMS_ContentInfo *cms = NULL;
    const unsigned char *cursor = certificate;
    unsigned int flags = CMS_BINARY | CMS_STREAM;

    ERR_clear_error();
    recipient = d2i_X509(NULL, &cursor, (long)certificate_length);
    if (recipient == NULL) { ck_fail("the recipient certificate cannot be read", error, error_length); goto done; }
    recipients = sk_X509_new_null();
    if (recipients == NULL || !sk_X509_push(recipients, recipient)) { ck_fail("out of memory", error, error_length); goto done; }
    in = BIO_new_file(input, "rb");
    if (in == NULL) { ck_fail("cannot read the attachment", error, error_length); goto done; }
    cms = CMS_encrypt(recipients, in, authenticated ? EVP_aes_256_gcm() : EVP_aes_256_cbc(), flags);
    if (cms == NULL) { ck_fail("OpenSSL cannot make an envelope for this recipient", error, error_length); goto done; }
    out = BIO_new_file(output, "wb");
    if (out == NULL) { ck_fail("cannot create the envelope file", error, error_length); goto done; }
    if (!i2d_CMS_bio_stream(out, cms, in, flags)) { ck_fail("encrypting the attachment failed", error, error_length); goto done; }
    if (BIO_flush(out) != 1) { ck_fail("writing the envelope failed", error, error_length); goto done; }
    status = 0;
done:
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    if (out != NULL && BIO_free(out) != 1 && status == 0) status = ck_fail("closing the envelope failed", error, error_length);
    sk_X509_free(recipients);
    X509_free(recipient);
    return status;
}
