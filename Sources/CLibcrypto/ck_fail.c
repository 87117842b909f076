#include "ck_fail.h"

#include <openssl/err.h>
#include <stdio.h>

int ck_fail(const char *what, char *error, size_t error_length) {
    unsigned long code = ERR_get_error();
    char reason[256] = "";
    if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
    snprintf(error, error_length, "%s%s%s", what, code != 0 ? ": " : "", reason);
    ERR_clear_error();
    return -1;
}
