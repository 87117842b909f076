// libpng seam. libpng reports fatal errors with longjmp, which Swift cannot
// catch, so every call that may fail is wrapped here in a function that sets
// the jump point and returns 0 on success or -1 with the message in `error`.
#ifndef COUNTERKIT_CPNG_SHIM_H
#define COUNTERKIT_CPNG_SHIM_H
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/// Where libpng's last error message is kept for the Swift side.
typedef struct ck_png_error { char message[256]; } ck_png_error;

static inline void ck_png_on_error(png_structp png, png_const_charp message) {
    ck_png_error *error = (ck_png_error *)png_get_error_ptr(png);
    if (error) { snprintf(error->message, sizeof error->message, "%s", message); }
    png_longjmp(png, 1);
}
static inline void ck_png_on_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

static inline png_structp ck_png_create_write(ck_png_error *error) {
    return png_create_write_struct(PNG_LIBPNG_VER_STRING, error, ck_png_on_error, ck_png_on_warning);
}
static inline png_structp ck_png_create_read(ck_png_error *error) {
    return png_create_read_struct(PNG_LIBPNG_VER_STRING, error, ck_png_on_error, ck_png_on_warning);
}

/// Writes the header: IHDR, pHYs (pixels per metre), compression settings.
/// `swap16` asks libpng to swap 16-bit samples from little-endian host order;
/// `invert_mono` turns 1 = black input into PNG's 0 = black.
static inline int ck_png_write_header(png_structp png, png_infop info, FILE *file,
                                      png_uint_32 width, png_uint_32 height, int bit_depth, int color_type,
                                      png_uint_32 pixels_per_metre, int zlib_level, int zlib_strategy, int filters,
                                      int swap16, int invert_mono) {
    if (setjmp(png_jmpbuf(png))) { return -1; }
    png_init_io(png, file);
    png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pixels_per_metre > 0) { png_set_pHYs(png, info, pixels_per_metre, pixels_per_metre, PNG_RESOLUTION_METER); }
    png_set_compression_level(png, zlib_level);
    png_set_compression_strategy(png, zlib_strategy);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, filters);
    png_write_info(png, info);
    if (swap16) { png_set_swap(png); }
    if (invert_mono) { png_set_invert_mono(png); }
    return 0;
}
static inline int ck_png_write_row(png_structp png, png_const_bytep row) {
    if (setjmp(png_jmpbuf(png))) { return -1; }
    png_write_row(png, row);
    return 0;
}
static inline int ck_png_write_end(png_structp png, png_infop info) {
    if (setjmp(png_jmpbuf(png))) { return -1; }
    png_write_end(png, info);
    return 0;
}

/// Reads a PNG header: size, depth, colour type and pHYs (0 when absent).
static inline int ck_png_read_header(png_structp png, png_infop info, FILE *file,
                                     png_uint_32 *width, png_uint_32 *height, int *bit_depth, int *color_type,
                                     png_uint_32 *x_pixels_per_unit, int *unit) {
    if (setjmp(png_jmpbuf(png))) { return -1; }
    png_init_io(png, file);
    png_read_info(png, info);
    *width = png_get_image_width(png, info);
    *height = png_get_image_height(png, info);
    *bit_depth = png_get_bit_depth(png, info);
    *color_type = png_get_color_type(png, info);
    png_uint_32 y_pixels_per_unit = 0;
    *x_pixels_per_unit = 0; *unit = 0;
    png_get_pHYs(png, info, x_pixels_per_unit, &y_pixels_per_unit, unit);
    return 0;
}
static inline int ck_png_read_row(png_structp png, png_bytep row) {
    if (setjmp(png_jmpbuf(png))) { return -1; }
    png_read_row(png, row, NULL);
    return 0;
}
static inline size_t ck_png_rowbytes(png_structp png, png_infop info) { return png_get_rowbytes(png, info); }
/// After ck_png_read_header: rows will be read as 8-bit RGB whatever the file holds (palette, gray, 16-bit, alpha
/// dropped). Returns the number of passes to read the rows in (1, or 7 for an interlaced file), -1 on error.
static inline int ck_png_read_as_rgb8(png_structp png, png_infop info) {
    if (setjmp(png_jmpbuf(png))) { return -1; }
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    return passes;
}
static inline void ck_png_destroy_write(png_structp png, png_infop info) { png_destroy_write_struct(&png, info ? &info : NULL); }
static inline void ck_png_destroy_read(png_structp png, png_infop info) { png_destroy_read_struct(&png, info ? &info : NULL, NULL); }
static inline const char *ck_png_version(void) { return png_get_libpng_ver(NULL); }
#endif
