// zlib seam: deflate for PDF FlateDecode streams. deflateInit is a macro.
#ifndef COUNTERKIT_CZLIB_SHIM_H
#define COUNTERKIT_CZLIB_SHIM_H
#include <zlib.h>
static inline int ck_deflate_init(z_streamp stream, int level) { return deflateInit(stream, level); }
static inline int ck_inflate_init(z_streamp stream) { return inflateInit(stream); }
#endif
