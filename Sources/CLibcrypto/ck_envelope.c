#include "ck_libcrypto.h"
#include "ck_fail.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

/// A streaming envelope: the CMS structure, the filter chain content is written into, and the hashed file output; or,
/// for an SM2 recipient, the GM/T 0010 stream that does it all.
typedef struct {
    void *sm2;
    CMS_ContentInfo *cms;
    BIO *content;  // BIO_new_CMS's chain, ending in `out`
    BIO *out;      // ck_open_hashed_output's digest BIO and the file
} envelope_stream;

void *ck_envelope_stream_open(const char *output, const unsigned char *certificate, size_t certificate_length, char *error,
                              size_t error_length) {
    const unsigned char *cursor = certificate;
    X509 *recipient = NULL;
    STACK_OF(X509) *recipients = NULL;
    envelope_stream *stream = OPENSSL_zalloc(sizeof *stream);
    ERR_clear_error();
    recipient = d2i_X509(NULL, &cursor, (long)certificate_length);
    if (stream != NULL && recipient != NULL && EVP_PKEY_is_a(X509_get0_pubkey(recipient), "SM2")) {
        X509_free(recipient);
        stream->sm2 = ck_sm2_stream_open(output, certificate, certificate_length, error, error_length);
        if (stream->sm2 != NULL) return stream;
        OPENSSL_free(stream);
        return NULL;
    }
    recipients = sk_X509_new_null();
    if (stream == NULL || recipient == NULL || recipients == NULL || !sk_X509_push(recipients, recipient)) {
        ck_fail("the recipient certificate cannot be read", error, error_length);
        goto failed;
    }
    stream->cms = CMS_encrypt(recipients, NULL, EVP_aes_256_gcm(), CMS_BINARY | CMS_STREAM);
    if (stream->cms == NULL) { ck_fail("OpenSSL cannot make an envelope for this recipient", error, error_length); goto failed; }
    stream->out = ck_open_hashed_output(output);
    if (stream->out == NULL) { ck_fail("cannot create the envelope file", error, error_length); goto failed; }
    stream->content = BIO_new_CMS(stream->out, stream->cms);
    if (stream->content == NULL) { ck_fail("OpenSSL cannot stream the envelope", error, error_length); goto failed; }
    sk_X509_free(recipients);
    X509_free(recipient);
    return stream;
failed:
    sk_X509_free(recipients);
    X509_free(recipient);
    ck_envelope_stream_abandon(stream);
    return NULL;
}

int ck_envelope_stream_write(void *opaque, const void *bytes, size_t count) {
    envelope_stream *stream = opaque;
    if (stream->sm2 != NULL) return ck_sm2_stream_write(stream->sm2, bytes, count);
    const unsigned char *cursor = bytes;
    while (count > 0) {
        int chunk = count > (1 << 30) ? (1 << 30) : (int)count;
        int written = BIO_write(stream->content, cursor, chunk);
        if (written <= 0) return -1;
        cursor += written;
        count -= (size_t)written;
    }
    return 0;
}

int ck_envelope_stream_finish(void *opaque, long long *written, unsigned char sha256[32], char *error, size_t error_length) {
    envelope_stream *stream = opaque;
    if (stream->sm2 != NULL) {
        int status = ck_sm2_stream_finish(stream->sm2, written, sha256, error, error_length);
        OPENSSL_free(stream);
        return status;
    }
    ERR_clear_error();
    int status = BIO_flush(stream->content) == 1 ? 0 : ck_fail("completing the envelope failed", error, error_length);
    // Free the CMS filters, keep `out` to read its size and digest.
    BIO *next;
    for (BIO *bio = stream->content; bio != NULL && bio != stream->out; bio = next) {
        next = BIO_pop(bio);
        BIO_free(bio);
    }
    stream->content = NULL;
    if (ck_finish_hashed_output(stream->out, written, sha256) != 0 && status == 0) status = ck_fail("writing the envelope failed", error, error_length);
    stream->out = NULL;
    CMS_ContentInfo_free(stream->cms);
    OPENSSL_free(stream);
    return status;
}

void ck_envelope_stream_abandon(void *opaque) {
    envelope_stream *stream = opaque;
    if (stream == NULL) return;
    ck_sm2_stream_abandon(stream->sm2);
    BIO *next;
    for (BIO *bio = stream->content; bio != NULL && bio != stream->out; bio = next) {
        next = BIO_pop(bio);
        BIO_free(bio);
    }
    BIO_free_all(stream->out);
    CMS_ContentInfo_free(stream->cms);
    OPENSSL_free(stream);
}

void *ck_open_hashed_output(const char *output) {
    BIO *file = BIO_new_file(output, "wb"), *digest = BIO_new(BIO_f_md());
    FILE *stream = NULL;
    if (file == NULL || digest == NULL || BIO_set_md(digest, EVP_sha256()) != 1 || BIO_get_fp(file, &stream) != 1 || stream == NULL) {
        BIO_free(file);
        BIO_free(digest);
        return NULL;
    }
    // stdio's 4 KiB default made a write(2) for every 4 KiB of envelope: most of sealing's cost on a 3 MB scan.
    setvbuf(stream, NULL, _IOFBF, 1 << 18);
    return BIO_push(digest, file);
}

int ck_finish_hashed_output(void *bio, long long *written, unsigned char sha256[32]) {
    BIO *digest = bio, *file = BIO_next(digest);
    int status = BIO_flush(digest) == 1 && BIO_gets(digest, (char *)sha256, 32) == 32 ? 0 : -1;
    *written = (long long)BIO_number_written(file);
    BIO_free_all(digest);
    return status;
}

int ck_envelope_seal(const char *input, const char *output, const unsigned char *certificate, size_t certificate_length,
                     int authenticated, long long *written, unsigned char sha256[32], char *error, size_t error_length) {
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
    out = ck_open_hashed_output(output);
    if (out == NULL) { ck_fail("cannot create the envelope file", error, error_length); goto done; }
    if (!i2d_CMS_bio_stream(out, cms, in, flags)) { ck_fail("encrypting the attachment failed", error, error_length); goto done; }
    status = 0;
done:
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    if (out != NULL && ck_finish_hashed_output(out, written, sha256) != 0 && status == 0)
        status = ck_fail("writing the envelope failed", error, error_length);
    sk_X509_free(recipients);
    X509_free(recipient);
    return status;
}
