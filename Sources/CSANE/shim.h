// SANE seam: libsane's C API. Version macros are re-exported as functions.
#ifndef COUNTERKIT_CSANE_SHIM_H
#define COUNTERKIT_CSANE_SHIM_H
#include <sane/sane.h>
#include <sane/saneopts.h>
static inline SANE_Int ck_sane_version_major(SANE_Int code) { return SANE_VERSION_MAJOR(code); }
static inline SANE_Int ck_sane_version_minor(SANE_Int code) { return SANE_VERSION_MINOR(code); }
static inline SANE_Int ck_sane_version_build(SANE_Int code) { return SANE_VERSION_BUILD(code); }
static inline SANE_Word ck_sane_fix(double value) { return SANE_FIX(value); }
static inline double ck_sane_unfix(SANE_Word value) { return SANE_UNFIX(value); }
static inline int ck_sane_option_is_active(SANE_Int cap) { return SANE_OPTION_IS_ACTIVE(cap); }
static inline int ck_sane_option_is_settable(SANE_Int cap) { return SANE_OPTION_IS_SETTABLE(cap); }
#endif
