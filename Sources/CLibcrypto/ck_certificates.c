#include "ck_fail.h"
#include "ck_libcrypto.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/// A name as RFC 2253 text into `out`.
static void print_name(const X509_NAME *name, char *out, size_t length) {
    BIO *bio = BIO_new(BIO_s_mem());
    out[0] = 0;
    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        int count = BIO_read(bio, out, (int)length - 1);
        out[count > 0 ? count : 0] = 0;
    }
    BIO_free(bio);
}

/// Seconds since 1970 of an ASN.1 time.
static long long seconds(const ASN1_TIME *time) {
    struct tm parts;
    memset(&parts, 0, sizeof parts);
    if (ASN1_TIME_to_tm(time, &parts) != 1) return 0;
    return (long long)timegm(&parts);
}

int ck_certificate_facts(const unsigned char *certificate, size_t certificate_length, long long *not_before,
                         long long *not_after, long *key_usage, int *is_sm2, char *subject, size_t subject_length) {
    const unsigned char *cursor = certificate;
    X509 *parsed = d2i_X509(NULL, &cursor, (long)certificate_length);
    if (parsed == NULL) {
        ERR_clear_error();
        return -1;
    }
    *not_before = seconds(X509_get0_notBefore(parsed));
    *not_after = seconds(X509_get0_notAfter(parsed));
    uint32_t usage = X509_get_key_usage(parsed);
    *key_usage = usage == UINT32_MAX ? -1 : (long)usage;
    *is_sm2 = EVP_PKEY_is_a(X509_get0_pubkey(parsed), "SM2");
    print_name(X509_get_subject_name(parsed), subject, subject_length);
    X509_free(parsed);
    ERR_clear_error();
    return 0;
}

int ck_certificate_issuer(const unsigned char *certificate, size_t certificate_length, char *issuer, size_t issuer_length) {
    const unsigned char *cursor = certificate;
    X509 *parsed = d2i_X509(NULL, &cursor, (long)certificate_length);
    if (parsed == NULL) {
        ERR_clear_error();
        return -1;
    }
    print_name(X509_get_issuer_name(parsed), issuer, issuer_length);
    X509_free(parsed);
    return 0;
}

/// Whether `subject`'s signature verifies with `issuer`'s key (an SM2 one with GB/T 35276's default signer id).
static int signed_by(X509 *subject, X509 *issuer) {
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    if (key == NULL) return 0;
    if (EVP_PKEY_is_a(key, "SM2")) {
        ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
        if (id == NULL || ASN1_OCTET_STRING_set(id, (const unsigned char *)"1234567812345678", 16) != 1) {
            ASN1_OCTET_STRING_free(id);
            return 0;
        }
        X509_set0_distinguishing_id(subject, id);  // the certificate owns it from here
    }
    return X509_verify(subject, key) == 1;
}

int ck_chain_check(const unsigned char *const *certificates, const size_t *lengths, size_t count, size_t *failed_at,
                   char *error, size_t error_length) {
    X509 *parsed[16] = {NULL};
    int status = -1;
    ERR_clear_error();
    if (count == 0 || count > 16) {
        *failed_at = 0;
        snprintf(error, error_length, "a chain holds 1 to 16 certificates, not %zu", count);
        return -1;
    }
    for (size_t index = 0; index < count; index++) {
        const unsigned char *cursor = certificates[index];
        parsed[index] = d2i_X509(NULL, &cursor, (long)lengths[index]);
        if (parsed[index] == NULL) {
            *failed_at = index;
            ck_fail("it is not a certificate", error, error_length);
            goto done;
        }
    }
    for (size_t index = 0; index + 1 < count; index++) {
        char subject_issuer[512], next_subject[512];
        *failed_at = index;
        if (X509_check_issued(parsed[index + 1], parsed[index]) != X509_V_OK) {
            print_name(X509_get_issuer_name(parsed[index]), subject_issuer, sizeof subject_issuer);
            print_name(X509_get_subject_name(parsed[index + 1]), next_subject, sizeof next_subject);
            snprintf(error, error_length, "it was issued by \"%s\", not by the next certificate (\"%s\") as a chain's order says",
                     subject_issuer, next_subject);
            goto done;
        }
        if (!signed_by(parsed[index], parsed[index + 1])) {
            ck_fail("its signature does not verify with the next certificate's key", error, error_length);
            goto done;
        }
    }
    *failed_at = count - 1;
    if (X509_check_issued(parsed[count - 1], parsed[count - 1]) == X509_V_OK && !signed_by(parsed[count - 1], parsed[count - 1])) {
        ck_fail("it names itself as issuer but its signature does not verify with its own key", error, error_length);
        goto done;
    }
    status = 0;
done:
    for (size_t index = 0; index < count; index++) X509_free(parsed[index]);
    ERR_clear_error();
    return status;
}
