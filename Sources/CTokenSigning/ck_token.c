#include "ck_token.h"

#include "p11-kit/p11-kit.h"
#include "p11-kit/uri.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ck_token_key {
    CK_FUNCTION_LIST **modules;  // what p11-kit loaded: the module named by the URI, or every registered one
    int single_module;           // modules[0] was loaded by path (p11_kit_module_load)
    CK_FUNCTION_LIST *module;    // the one holding the token
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE private_key;
    CK_KEY_TYPE key_type;
    unsigned char ec_point[256], ec_params[64];
    size_t ec_point_length, ec_params_length;
    pthread_mutex_t lock;
};

static void say(char *error, size_t error_length, const char *what, CK_RV rv) {
    if (rv == CKR_OK) snprintf(error, error_length, "%s", what);
    else snprintf(error, error_length, "%s (%s)", what, p11_kit_strerror(rv));
}

/// The PIN the URI gives: `pin-value`, or the first line of the `pin-source` file. Freed by the caller; NULL if none.
static char *pin_of(P11KitUri *uri, char *error, size_t error_length) {
    const char *value = p11_kit_uri_get_pin_value(uri);
    if (value != NULL) return strdup(value);
    const char *source = p11_kit_uri_get_pin_source(uri);
    if (source == NULL) {
        say(error, error_length, "the pkcs11: URI gives no PIN: add pin-value=… or pin-source=/path/to/pin-file", CKR_OK);
        return NULL;
    }
    if (strncmp(source, "file:", 5) == 0) source += 5;
    FILE *file = fopen(source, "r");
    char line[256] = "";
    if (file == NULL || fgets(line, sizeof line, file) == NULL) {
        if (file != NULL) fclose(file);
        snprintf(error, error_length, "cannot read the PIN file %s named by pin-source", source);
        return NULL;
    }
    fclose(file);
    line[strcspn(line, "\r\n")] = 0;
    return strdup(line);
}

/// The one object of `class` matching the URI's attributes (label, id), or CK_INVALID_HANDLE with a message.
static CK_OBJECT_HANDLE find_one(ck_token_key *key, P11KitUri *uri, CK_OBJECT_CLASS class, char *error, size_t error_length) {
    CK_ULONG count = 0;
    CK_ATTRIBUTE *given = p11_kit_uri_get_attributes(uri, &count);
    CK_ATTRIBUTE wanted[8];
    CK_ULONG used = 0;
    for (CK_ULONG index = 0; index < count && used < 7; index++)
        if (given[index].type == CKA_LABEL || given[index].type == CKA_ID) wanted[used++] = given[index];
    wanted[used++] = (CK_ATTRIBUTE){CKA_CLASS, &class, sizeof class};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG matches = 0;
    CK_RV rv = key->module->C_FindObjectsInit(key->session, wanted, used);
    if (rv == CKR_OK) rv = key->module->C_FindObjects(key->session, found, 2, &matches);
    key->module->C_FindObjectsFinal(key->session);
    if (rv != CKR_OK) {
        say(error, error_length, "searching the token failed", rv);
        return CK_INVALID_HANDLE;
    }
    if (matches != 1) {
        snprintf(error, error_length, matches == 0 ? "the token holds no %s key the URI names (object=, id=)"
                                                   : "the URI names more than one %s key: add object= or id=",
                 class == CKO_PRIVATE_KEY ? "private" : "public");
        return CK_INVALID_HANDLE;
    }
    return found[0];
}

ck_token_key *ck_token_open(const char *text, int *failure, char *error, size_t error_length) {
    ck_token_key *key = calloc(1, sizeof *key);
    P11KitUri *uri = p11_kit_uri_new();
    char *pin = NULL;
    CK_SLOT_ID *slots = NULL;
    CK_RV rv;
    *failure = CK_TOKEN_OTHER;
    if (key == NULL || uri == NULL) { say(error, error_length, "out of memory", CKR_OK); goto failed; }
    pthread_mutex_init(&key->lock, NULL);
    key->session = CK_INVALID_HANDLE;
    if (p11_kit_uri_parse(text, P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE, uri) != P11_KIT_URI_OK) {
        say(error, error_length, "it is not a pkcs11: URI (RFC 7512), such as pkcs11:token=counter;object=seal?pin-source=/etc/counterkit/pin", CKR_OK);
        goto failed;
    }
    const char *path = p11_kit_uri_get_module_path(uri);
    if (path != NULL) {
        key->modules = calloc(2, sizeof *key->modules);
        if (key->modules == NULL) { say(error, error_length, "out of memory", CKR_OK); goto failed; }
        key->modules[0] = p11_kit_module_load(path, 0);
        key->single_module = 1;
        if (key->modules[0] == NULL) { snprintf(error, error_length, "cannot load the PKCS#11 module %s", path); goto failed; }
        rv = p11_kit_module_initialize(key->modules[0]);
        if (rv != CKR_OK) { say(error, error_length, "the PKCS#11 module does not start", rv); goto failed; }
    } else {
        key->modules = p11_kit_modules_load_and_initialize(0);
        if (key->modules == NULL) { say(error, error_length, "p11-kit loads no PKCS#11 module: add module-path= to the URI", CKR_OK); goto failed; }
    }
    // The first token whose description matches the URI's (token=, manufacturer=, serial=, …).
    CK_SLOT_ID slot = 0;
    for (CK_FUNCTION_LIST **module = key->modules; *module != NULL && key->module == NULL; module++) {
        CK_ULONG count = 0;
        if ((*module)->C_GetSlotList(CK_TRUE, NULL, &count) != CKR_OK || count == 0) continue;
        free(slots);
        slots = calloc(count, sizeof *slots);
        if (slots == NULL || (*module)->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK) continue;
        for (CK_ULONG index = 0; index < count; index++) {
            CK_TOKEN_INFO info;
            if ((*module)->C_GetTokenInfo(slots[index], &info) == CKR_OK && p11_kit_uri_match_token_info(uri, &info) == 1) {
                key->module = *module;
                slot = slots[index];
                break;
            }
        }
    }
    if (key->module == NULL) {
        *failure = CK_TOKEN_ABSENT;
        say(error, error_length, "the token is not there: plug it in (or check token= in the URI; `p11tool --list-tokens` lists what is present)", CKR_OK);
        goto failed;
    }
    rv = key->module->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &key->session);
    if (rv != CKR_OK) { say(error, error_length, "cannot open a session with the token", rv); goto failed; }
    if ((pin = pin_of(uri, error, error_length)) == NULL) goto failed;
    rv = key->module->C_Login(key->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        *failure = CK_TOKEN_PIN_REFUSED;
        say(error, error_length, "the token refused the PIN", rv);
        goto failed;
    }
    key->private_key = find_one(key, uri, CKO_PRIVATE_KEY, error, error_length);
    if (key->private_key == CK_INVALID_HANDLE) goto failed;
    CK_ATTRIBUTE type = {CKA_KEY_TYPE, &key->key_type, sizeof key->key_type};
    rv = key->module->C_GetAttributeValue(key->session, key->private_key, &type, 1);
    if (rv != CKR_OK || (key->key_type != CKK_EC && key->key_type != CKK_EC_EDWARDS)) {
        say(error, error_length, "the token's key is not an EC (P-256) or Ed25519 key", rv);
        goto failed;
    }
    CK_OBJECT_HANDLE public_key = find_one(key, uri, CKO_PUBLIC_KEY, error, error_length);
    if (public_key == CK_INVALID_HANDLE) goto failed;
    CK_ATTRIBUTE point[] = {
        {CKA_EC_POINT, key->ec_point, sizeof key->ec_point},
        {CKA_EC_PARAMS, key->ec_params, sizeof key->ec_params},
    };
    rv = key->module->C_GetAttributeValue(key->session, public_key, point, 2);
    if (rv != CKR_OK) { say(error, error_length, "cannot read the token's public key", rv); goto failed; }
    key->ec_point_length = point[0].ulValueLen;
    key->ec_params_length = point[1].ulValueLen;
    free(pin);
    free(slots);
    p11_kit_uri_free(uri);
    return key;
failed:
    if (pin != NULL) {
        memset(pin, 0, strlen(pin));
        free(pin);
    }
    free(slots);
    if (uri != NULL) p11_kit_uri_free(uri);
    ck_token_close(key);
    return NULL;
}

int ck_token_key_type(const ck_token_key *key) { return key->key_type == CKK_EC_EDWARDS ? 2 : 1; }

static int copy_out(const unsigned char *bytes, size_t count, unsigned char *out, size_t *length) {
    if (count > *length) return -1;
    memcpy(out, bytes, count);
    *length = count;
    return 0;
}

int ck_token_ec_point(const ck_token_key *key, unsigned char *out, size_t *length) {
    return copy_out(key->ec_point, key->ec_point_length, out, length);
}

int ck_token_ec_params(const ck_token_key *key, unsigned char *out, size_t *length) {
    return copy_out(key->ec_params, key->ec_params_length, out, length);
}

int ck_token_sign(ck_token_key *key, const unsigned char *input, size_t input_length, unsigned char *signature,
                  size_t *signature_length, char *error, size_t error_length) {
    CK_MECHANISM mechanism = {key->key_type == CKK_EC_EDWARDS ? CKM_EDDSA : CKM_ECDSA, NULL, 0};
    CK_ULONG length = *signature_length;
    pthread_mutex_lock(&key->lock);
    CK_RV rv = key->module->C_SignInit(key->session, &mechanism, key->private_key);
    if (rv == CKR_OK) rv = key->module->C_Sign(key->session, (CK_BYTE_PTR)input, input_length, signature, &length);
    pthread_mutex_unlock(&key->lock);
    if (rv != CKR_OK) {
        say(error, error_length, "the token did not sign", rv);
        return -1;
    }
    *signature_length = length;
    return 0;
}

void ck_token_close(ck_token_key *key) {
    if (key == NULL) return;
    if (key->module != NULL && key->session != CK_INVALID_HANDLE) {
        key->module->C_Logout(key->session);
        key->module->C_CloseSession(key->session);
    }
    if (key->modules != NULL) {
        if (key->single_module) {
            if (key->modules[0] != NULL) {
                p11_kit_module_finalize(key->modules[0]);
                p11_kit_module_release(key->modules[0]);
            }
            free(key->modules);
        } else {
            p11_kit_modules_finalize_and_release(key->modules);
        }
    }
    pthread_mutex_destroy(&key->lock);
    free(key);
}
