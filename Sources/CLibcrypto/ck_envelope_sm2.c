#include "ck_fail.h"
#include "ck_libcrypto.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>

/// GM/T 0010's content types and GM/T 0006's algorithms.
#define OID_GM_ENVELOPED_DATA "1.2.156.10197.6.1.4.2.3"
#define OID_GM_DATA "1.2.156.10197.6.1.4.2.1"
#define OID_SM2_ENCRYPT "1.2.156.10197.1.301.3"
#define OID_SM4_CBC "1.2.156.10197.1.104.2"

/// A DER-encoded value, owned.
typedef struct {
    unsigned char *bytes;
    int length;
} encoded;

static void release(encoded *value) {
    OPENSSL_free(value->bytes);
    value->bytes = NULL;
    value->length = 0;
}

/// The DER of an object identifier given in dotted form.
static int encode_oid(const char *dotted, encoded *out) {
    ASN1_OBJECT *object = OBJ_txt2obj(dotted, 1);
    out->bytes = NULL;
    out->length = object != NULL ? i2d_ASN1_OBJECT(object, &out->bytes) : -1;
    ASN1_OBJECT_free(object);
    return out->length > 0 ? 0 : -1;
}

/// The DER of an INTEGER.
static int encode_integer(long value, encoded *out) {
    ASN1_INTEGER *integer = ASN1_INTEGER_new();
    out->bytes = NULL;
    out->length = integer != NULL && ASN1_INTEGER_set(integer, value) == 1 ? i2d_ASN1_INTEGER(integer, &out->bytes) : -1;
    ASN1_INTEGER_free(integer);
    return out->length > 0 ? 0 : -1;
}

/// The DER of an OCTET STRING.
static int encode_octets(const unsigned char *bytes, size_t length, encoded *out) {
    ASN1_OCTET_STRING *octets = ASN1_OCTET_STRING_new();
    out->bytes = NULL;
    out->length = octets != NULL && ASN1_OCTET_STRING_set(octets, bytes, (int)length) == 1 ? i2d_ASN1_OCTET_STRING(octets, &out->bytes) : -1;
    ASN1_OCTET_STRING_free(octets);
    return out->length > 0 ? 0 : -1;
}

/// A constructed value (SEQUENCE, SET or an explicit tag) around the concatenated `parts`, encoded by OpenSSL's
/// ASN.1 functions (`ASN1_put_object` writes the identifier and the length).
static int wrap(int tag, int tag_class, const encoded *parts, size_t count, encoded *out) {
    int content = 0;
    for (size_t index = 0; index < count; index++) content += parts[index].length;
    int total = ASN1_object_size(1, content, tag);
    out->bytes = total > 0 ? OPENSSL_malloc((size_t)total) : NULL;
    out->length = total;
    if (out->bytes == NULL) return -1;
    unsigned char *cursor = out->bytes;
    ASN1_put_object(&cursor, 1, content, tag, tag_class);
    for (size_t index = 0; index < count; index++) {
        memcpy(cursor, parts[index].bytes, (size_t)parts[index].length);
        cursor += parts[index].length;
    }
    return 0;
}

/// Writes an identifier and length (OpenSSL's `ASN1_put_object`) to `out`; 0, or -1.
static int put_header(BIO *out, int constructed, int length, int tag, int tag_class) {
    unsigned char header[16], *cursor = header;
    ASN1_put_object(&cursor, constructed, length, tag, tag_class);
    int count = (int)(cursor - header);
    return BIO_write(out, header, count) == count ? 0 : -1;
}

/// Writes an encoded value to `out`; 0, or -1.
static int put(BIO *out, const encoded *value) { return BIO_write(out, value->bytes, value->length) == value->length ? 0 : -1; }

/// The SM4 key encrypted to the recipient's SM2 key: OpenSSL writes GM/T 0009's SM2Cipher DER.
static int encrypt_key(X509 *recipient, const unsigned char *key, size_t key_length, encoded *out) {
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new(X509_get0_pubkey(recipient), NULL);
    size_t length = 0;
    out->bytes = NULL;
    out->length = -1;
    if (context != NULL && EVP_PKEY_encrypt_init(context) == 1 && EVP_PKEY_encrypt(context, NULL, &length, key, key_length) == 1
        && (out->bytes = OPENSSL_malloc(length)) != NULL && EVP_PKEY_encrypt(context, out->bytes, &length, key, key_length) == 1)
        out->length = (int)length;
    EVP_PKEY_CTX_free(context);
    return out->length > 0 ? 0 : -1;
}

int ck_envelope_seal_sm2(const char *input, const char *output, const unsigned char *certificate,
                         size_t certificate_length, long long *written, unsigned char sha256[32], char *error,
                         size_t error_length) {
    int status = -1;
    const unsigned char *cursor = certificate;
    X509 *recipient = NULL;
    BIO *in = NULL, *out = NULL;
    EVP_CIPHER_CTX *cipher = NULL;
    unsigned char key[16], iv[16];
    // The envelope's parts, innermost first; `head` is everything before the encrypted content.
    encoded version = {0}, issuer_and_serial = {0}, issuer = {0}, serial = {0}, key_algorithm = {0}, key_oid = {0},
            encrypted_key = {0}, encrypted_key_octets = {0}, recipient_info = {0}, recipient_infos = {0},
            data_oid = {0}, content_algorithm = {0}, sm4_oid = {0}, iv_octets = {0}, enveloped_oid = {0};
    struct stat status_of_input;

    ERR_clear_error();
    recipient = d2i_X509(NULL, &cursor, (long)certificate_length);
    if (recipient == NULL || !EVP_PKEY_is_a(X509_get0_pubkey(recipient), "SM2")) {
        ck_fail("the recipient certificate is not an SM2 certificate", error, error_length);
        goto done;
    }
    in = BIO_new_file(input, "rb");
    if (in == NULL || stat(input, &status_of_input) != 0) { ck_fail("cannot read the attachment", error, error_length); goto done; }
    if (RAND_bytes(key, sizeof key) != 1 || RAND_bytes(iv, sizeof iv) != 1) { ck_fail("no random key", error, error_length); goto done; }

    // RecipientInfo ::= SEQUENCE { version 1, IssuerAndSerialNumber, keyEncryptionAlgorithm, encryptedKey }
    issuer.length = i2d_X509_NAME(X509_get_issuer_name(recipient), &issuer.bytes);
    serial.length = i2d_ASN1_INTEGER(X509_get_serialNumber(recipient), &serial.bytes);
    if (issuer.length <= 0 || serial.length <= 0 || encode_integer(1, &version) != 0 || encode_oid(OID_SM2_ENCRYPT, &key_oid) != 0
        || encrypt_key(recipient, key, sizeof key, &encrypted_key) != 0
        || encode_octets(encrypted_key.bytes, (size_t)encrypted_key.length, &encrypted_key_octets) != 0) {
        ck_fail("the SM4 key cannot be encrypted for the recipient", error, error_length);
        goto done;
    }
    {
        encoded names[] = {issuer, serial};
        encoded algorithm[] = {key_oid};
        if (wrap(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, names, 2, &issuer_and_serial) != 0
            || wrap(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, algorithm, 1, &key_algorithm) != 0) {
            ck_fail("out of memory", error, error_length);
            goto done;
        }
        encoded fields[] = {version, issuer_and_serial, key_algorithm, encrypted_key_octets};
        encoded one[] = {{0}};
        if (wrap(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, fields, 4, &recipient_info) != 0) { ck_fail("out of memory", error, error_length); goto done; }
        one[0] = recipient_info;
        if (wrap(V_ASN1_SET, V_ASN1_UNIVERSAL, one, 1, &recipient_infos) != 0) { ck_fail("out of memory", error, error_length); goto done; }
    }
    // ContentEncryptionAlgorithmIdentifier ::= SEQUENCE { sm4-cbc, iv OCTET STRING }
    if (encode_oid(OID_GM_DATA, &data_oid) != 0 || encode_oid(OID_SM4_CBC, &sm4_oid) != 0 || encode_octets(iv, sizeof iv, &iv_octets) != 0
        || encode_oid(OID_GM_ENVELOPED_DATA, &enveloped_oid) != 0) {
        ck_fail("out of memory", error, error_length);
        goto done;
    }
    {
        encoded algorithm[] = {sm4_oid, iv_octets};
        if (wrap(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, algorithm, 2, &content_algorithm) != 0) { ck_fail("out of memory", error, error_length); goto done; }
    }

    // The lengths: CBC with PKCS#7 padding always adds 1 to 16 bytes, so the encrypted size is known before reading.
    long long plain = (long long)status_of_input.st_size;
    long long encrypted = (plain / 16 + 1) * 16;
    if (encrypted > 0x7fffff00LL) { ck_fail("the attachment is too large for one envelope (2 GiB)", error, error_length); goto done; }
    int content_tagged = ASN1_object_size(0, (int)encrypted, 0);
    int encrypted_content_info = ASN1_object_size(1, data_oid.length + content_algorithm.length + content_tagged, V_ASN1_SEQUENCE);
    int enveloped_data = ASN1_object_size(1, version.length + recipient_infos.length + encrypted_content_info, V_ASN1_SEQUENCE);
    int explicit_content = ASN1_object_size(1, enveloped_data, 0);
    if (content_tagged <= 0 || encrypted_content_info <= 0 || enveloped_data <= 0 || explicit_content <= 0) {
        ck_fail("the envelope's size cannot be encoded", error, error_length);
        goto done;
    }

    out = ck_open_hashed_output(output);
    if (out == NULL) { ck_fail("cannot create the envelope file", error, error_length); goto done; }
    {
        // ContentInfo { envelopedData, [0] EXPLICIT EnvelopedData { version, recipientInfos, EncryptedContentInfo {
        // data, algorithm, [0] IMPLICIT OCTET STRING (primitive) … } } }: every header before the content.
        if (put_header(out, 1, enveloped_oid.length + explicit_content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) != 0
            || put(out, &enveloped_oid) != 0 || put_header(out, 1, enveloped_data, 0, V_ASN1_CONTEXT_SPECIFIC) != 0
            || put_header(out, 1, version.length + recipient_infos.length + encrypted_content_info, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) != 0
            || put(out, &version) != 0 || put(out, &recipient_infos) != 0
            || put_header(out, 1, data_oid.length + content_algorithm.length + content_tagged, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) != 0
            || put(out, &data_oid) != 0 || put(out, &content_algorithm) != 0
            || put_header(out, 0, (int)encrypted, 0, V_ASN1_CONTEXT_SPECIFIC) != 0)
            goto write_failed;
    }

    // The content, streamed through SM4-CBC.
    cipher = EVP_CIPHER_CTX_new();
    if (cipher == NULL || EVP_EncryptInit_ex(cipher, EVP_sm4_cbc(), NULL, key, iv) != 1) {
        ck_fail("OpenSSL has no SM4", error, error_length);
        goto done;
    }
    {
        unsigned char block[65536], sealed[65536 + 16];
        long long read_total = 0, written_total = 0;
        int count, length;
        while ((count = BIO_read(in, block, sizeof block)) > 0) {
            read_total += count;
            if (EVP_EncryptUpdate(cipher, sealed, &length, block, count) != 1) { ck_fail("SM4 failed", error, error_length); goto done; }
            if (length > 0 && BIO_write(out, sealed, length) != length) goto write_failed;
            written_total += length;
        }
        if (count < 0 || read_total != plain) { ck_fail("the attachment changed while it was sealed", error, error_length); goto done; }
        if (EVP_EncryptFinal_ex(cipher, sealed, &length) != 1) { ck_fail("SM4 failed", error, error_length); goto done; }
        if (BIO_write(out, sealed, length) != length) goto write_failed;
        written_total += length;
        if (written_total != encrypted) { ck_fail("the envelope's length is not the one announced", error, error_length); goto done; }
    }
    status = 0;
    goto done;
write_failed:
    ck_fail("writing the envelope failed", error, error_length);
done:
    OPENSSL_cleanse(key, sizeof key);
    EVP_CIPHER_CTX_free(cipher);
    BIO_free(in);
    if (out != NULL && ck_finish_hashed_output(out, written, sha256) != 0 && status == 0)
        status = ck_fail("writing the envelope failed", error, error_length);
    encoded *all[] = {&version, &issuer_and_serial, &issuer, &serial, &key_algorithm, &key_oid, &encrypted_key, &encrypted_key_octets,
                      &recipient_info, &recipient_infos, &data_oid, &content_algorithm, &sm4_oid, &iv_octets, &enveloped_oid};
    for (size_t index = 0; index < sizeof all / sizeof all[0]; index++) release(all[index]);
    X509_free(recipient);
    return status;
}

