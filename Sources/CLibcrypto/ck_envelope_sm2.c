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
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/// A GM/T 0010 envelope being written as its content arrives. DER needs the content's length before the content, so the
/// SM4 ciphertext (never the plaintext) goes to an unlinked scratch file beside the envelope; at the end the headers
/// are written with the length now known, then the ciphertext is copied after them.
typedef struct {
    encoded version, recipient_infos, data_oid, content_algorithm, enveloped_oid;
    EVP_CIPHER_CTX *cipher;
    FILE *body;
    long long encrypted;
    char *output;
} sm2_stream;

void ck_sm2_stream_abandon(void *opaque) {
    sm2_stream *stream = opaque;
    if (stream == NULL) return;
    encoded *all[] = {&stream->version, &stream->recipient_infos, &stream->data_oid, &stream->content_algorithm, &stream->enveloped_oid};
    for (size_t index = 0; index < sizeof all / sizeof all[0]; index++) release(all[index]);
    EVP_CIPHER_CTX_free(stream->cipher);
    if (stream->body != NULL) fclose(stream->body);
    OPENSSL_free(stream->output);
    OPENSSL_free(stream);
}

void *ck_sm2_stream_open(const char *output, const unsigned char *certificate, size_t certificate_length, char *error,
                         size_t error_length) {
    const unsigned char *cursor = certificate;
    X509 *recipient = NULL;
    unsigned char key[16], iv[16];
    sm2_stream *stream = OPENSSL_zalloc(sizeof *stream);
    // The recipient's parts, innermost first.
    encoded issuer_and_serial = {0}, issuer = {0}, serial = {0}, key_algorithm = {0}, key_oid = {0}, encrypted_key = {0},
            encrypted_key_octets = {0}, recipient_info = {0}, sm4_oid = {0}, iv_octets = {0};
    int ok = 0;

    ERR_clear_error();
    if (stream == NULL || (stream->output = OPENSSL_strdup(output)) == NULL) { ck_fail("out of memory", error, error_length); goto done; }
    recipient = d2i_X509(NULL, &cursor, (long)certificate_length);
    if (recipient == NULL || !EVP_PKEY_is_a(X509_get0_pubkey(recipient), "SM2")) {
        ck_fail("the recipient certificate is not an SM2 certificate", error, error_length);
        goto done;
    }
    if (RAND_bytes(key, sizeof key) != 1 || RAND_bytes(iv, sizeof iv) != 1) { ck_fail("no random key", error, error_length); goto done; }

    // RecipientInfo ::= SEQUENCE { version 1, IssuerAndSerialNumber, keyEncryptionAlgorithm, encryptedKey }
    issuer.length = i2d_X509_NAME(X509_get_issuer_name(recipient), &issuer.bytes);
    serial.length = i2d_ASN1_INTEGER(X509_get_serialNumber(recipient), &serial.bytes);
    if (issuer.length <= 0 || serial.length <= 0 || encode_integer(1, &stream->version) != 0 || encode_oid(OID_SM2_ENCRYPT, &key_oid) != 0
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
        encoded fields[] = {stream->version, issuer_and_serial, key_algorithm, encrypted_key_octets};
        encoded one[] = {{0}};
        if (wrap(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, fields, 4, &recipient_info) != 0) { ck_fail("out of memory", error, error_length); goto done; }
        one[0] = recipient_info;
        if (wrap(V_ASN1_SET, V_ASN1_UNIVERSAL, one, 1, &stream->recipient_infos) != 0) { ck_fail("out of memory", error, error_length); goto done; }
    }
    // ContentEncryptionAlgorithmIdentifier ::= SEQUENCE { sm4-cbc, iv OCTET STRING }
    if (encode_oid(OID_GM_DATA, &stream->data_oid) != 0 || encode_oid(OID_SM4_CBC, &sm4_oid) != 0 || encode_octets(iv, sizeof iv, &iv_octets) != 0
        || encode_oid(OID_GM_ENVELOPED_DATA, &stream->enveloped_oid) != 0) {
        ck_fail("out of memory", error, error_length);
        goto done;
    }
    {
        encoded algorithm[] = {sm4_oid, iv_octets};
        if (wrap(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, algorithm, 2, &stream->content_algorithm) != 0) {
            ck_fail("out of memory", error, error_length);
            goto done;
        }
    }
    stream->cipher = EVP_CIPHER_CTX_new();
    if (stream->cipher == NULL || EVP_EncryptInit_ex(stream->cipher, EVP_sm4_cbc(), NULL, key, iv) != 1) {
        ck_fail("OpenSSL has no SM4", error, error_length);
        goto done;
    }
    {
        // The ciphertext's scratch file, removed from the directory at once: nothing is left of it after a crash.
        size_t length = strlen(output) + sizeof ".body";
        char *body_path = OPENSSL_malloc(length);
        if (body_path == NULL) { ck_fail("out of memory", error, error_length); goto done; }
        snprintf(body_path, length, "%s.body", output);
        int fd = open(body_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) unlink(body_path);
        OPENSSL_free(body_path);
        if (fd < 0 || (stream->body = fdopen(fd, "w+b")) == NULL) {
            if (fd >= 0) close(fd);
            ck_fail("cannot create the envelope's scratch file", error, error_length);
            goto done;
        }
        setvbuf(stream->body, NULL, _IOFBF, 1 << 18);
    }
    ok = 1;
done:
    OPENSSL_cleanse(key, sizeof key);
    encoded *parts[] = {&issuer_and_serial, &issuer, &serial, &key_algorithm, &key_oid, &encrypted_key, &encrypted_key_octets,
                        &recipient_info, &sm4_oid, &iv_octets};
    for (size_t index = 0; index < sizeof parts / sizeof parts[0]; index++) release(parts[index]);
    X509_free(recipient);
    if (ok) return stream;
    ck_sm2_stream_abandon(stream);
    return NULL;
}

int ck_sm2_stream_write(void *opaque, const void *bytes, size_t count) {
    sm2_stream *stream = opaque;
    unsigned char sealed[65536 + 16];
    const unsigned char *cursor = bytes;
    while (count > 0) {
        int chunk = count > 65536 ? 65536 : (int)count, length = 0;
        if (EVP_EncryptUpdate(stream->cipher, sealed, &length, cursor, chunk) != 1) return -1;
        if (length > 0 && fwrite(sealed, 1, (size_t)length, stream->body) != (size_t)length) return -1;
        stream->encrypted += length;
        if (stream->encrypted > 0x7fffff00LL) return -1;  // the 2 GiB that one DER length field of ours holds
        cursor += chunk;
        count -= (size_t)chunk;
    }
    return 0;
}

int ck_sm2_stream_finish(void *opaque, long long *written, unsigned char sha256[32], char *error, size_t error_length) {
    sm2_stream *stream = opaque;
    unsigned char block[65536];
    int length = 0, status = -1;
    BIO *out = NULL;
    ERR_clear_error();
    if (EVP_EncryptFinal_ex(stream->cipher, block, &length) != 1) { ck_fail("SM4 failed", error, error_length); goto done; }
    if (length > 0 && fwrite(block, 1, (size_t)length, stream->body) != (size_t)length) goto write_failed;
    stream->encrypted += length;
    if (stream->encrypted > 0x7fffff00LL) { ck_fail("the attachment is too large for one envelope (2 GiB)", error, error_length); goto done; }
    if (fflush(stream->body) != 0 || fseek(stream->body, 0, SEEK_SET) != 0) goto write_failed;

    int content_tagged = ASN1_object_size(0, (int)stream->encrypted, 0);
    int encrypted_content_info = ASN1_object_size(1, stream->data_oid.length + stream->content_algorithm.length + content_tagged, V_ASN1_SEQUENCE);
    int enveloped_data = ASN1_object_size(1, stream->version.length + stream->recipient_infos.length + encrypted_content_info, V_ASN1_SEQUENCE);
    int explicit_content = ASN1_object_size(1, enveloped_data, 0);
    if (content_tagged <= 0 || encrypted_content_info <= 0 || enveloped_data <= 0 || explicit_content <= 0) {
        ck_fail("the envelope's size cannot be encoded", error, error_length);
        goto done;
    }
    out = ck_open_hashed_output(stream->output);
    if (out == NULL) { ck_fail("cannot create the envelope file", error, error_length); goto done; }
    // ContentInfo { envelopedData, [0] EXPLICIT EnvelopedData { version, recipientInfos, EncryptedContentInfo {
    // data, algorithm, [0] IMPLICIT OCTET STRING (primitive) … } } }: every header, then the ciphertext.
    if (put_header(out, 1, stream->enveloped_oid.length + explicit_content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) != 0
        || put(out, &stream->enveloped_oid) != 0 || put_header(out, 1, enveloped_data, 0, V_ASN1_CONTEXT_SPECIFIC) != 0
        || put_header(out, 1, stream->version.length + stream->recipient_infos.length + encrypted_content_info, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) != 0
        || put(out, &stream->version) != 0 || put(out, &stream->recipient_infos) != 0
        || put_header(out, 1, stream->data_oid.length + stream->content_algorithm.length + content_tagged, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) != 0
        || put(out, &stream->data_oid) != 0 || put(out, &stream->content_algorithm) != 0
        || put_header(out, 0, (int)stream->encrypted, 0, V_ASN1_CONTEXT_SPECIFIC) != 0)
        goto write_failed;
    {
        long long copied = 0;
        size_t count;
        while ((count = fread(block, 1, sizeof block, stream->body)) > 0) {
            if (BIO_write(out, block, (int)count) != (int)count) goto write_failed;
            copied += (long long)count;
        }
        if (ferror(stream->body) || copied != stream->encrypted) goto write_failed;
    }
    status = 0;
    goto done;
write_failed:
    ck_fail("writing the envelope failed", error, error_length);
done:
    if (out != NULL && ck_finish_hashed_output(out, written, sha256) != 0 && status == 0)
        status = ck_fail("writing the envelope failed", error, error_length);
    ck_sm2_stream_abandon(stream);
    return status;
}

int ck_envelope_seal_sm2(const char *input, const char *output, const unsigned char *certificate,
                         size_t certificate_length, long long *written, unsigned char sha256[32], char *error,
                         size_t error_length) {
    FILE *in = fopen(input, "rbe");
    if (in == NULL) return ck_fail("cannot read the attachment", error, error_length);
    void *stream = ck_sm2_stream_open(output, certificate, certificate_length, error, error_length);
    if (stream == NULL) { fclose(in); return -1; }
    unsigned char block[65536];
    size_t count;
    while ((count = fread(block, 1, sizeof block, in)) > 0) {
        if (ck_sm2_stream_write(stream, block, count) != 0) {
            fclose(in);
            ck_sm2_stream_abandon(stream);
            return ck_fail("encrypting the attachment failed", error, error_length);
        }
    }
    int failed = ferror(in);
    fclose(in);
    if (failed) { ck_sm2_stream_abandon(stream); return ck_fail("cannot read the attachment", error, error_length); }
    return ck_sm2_stream_finish(stream, written, sha256, error, error_length);
}
