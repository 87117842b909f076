// libjpeg-turbo seam. Encoding streams rows through the libjpeg API of
// libjpeg-turbo (jpeg_write_scanlines); TurboJPEG 2.x can only compress whole
// frames. Decoding (tests, checks) uses the TurboJPEG API. libjpeg reports
// fatal errors by calling error_exit, which must not return: it longjmps back
// into the wrapper here, which returns -1 and keeps the message.
#ifndef COUNTERKIT_CTURBOJPEG_SHIM_H
#define COUNTERKIT_CTURBOJPEG_SHIM_H
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>
#include <turbojpeg.h>

typedef struct ck_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} ck_jpeg_error;

/// A libjpeg compressor with its error manager, owned by the Swift encoder.
typedef struct ck_jpeg_encoder {
    struct jpeg_compress_struct cinfo;
    ck_jpeg_error error;
} ck_jpeg_encoder;

static inline void ck_jpeg_on_error(j_common_ptr cinfo) {
    ck_jpeg_error *error = (ck_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, error->message);
    longjmp(error->jump, 1);
}
static inline void ck_jpeg_on_message(j_common_ptr cinfo) { (void)cinfo; }

static inline ck_jpeg_encoder *ck_jpeg_encoder_create(void) {
    ck_jpeg_encoder *encoder = (ck_jpeg_encoder *)calloc(1, sizeof *encoder);
    if (!encoder) { return NULL; }
    encoder->cinfo.err = jpeg_std_error(&encoder->error.manager);
    encoder->error.manager.error_exit = ck_jpeg_on_error;
    encoder->error.manager.output_message = ck_jpeg_on_message;
    if (setjmp(encoder->error.jump)) { free(encoder); return NULL; }
    jpeg_create_compress(&encoder->cinfo);
    return encoder;
}

/// Starts a JPEG: `components` 1 (gray) or 3 (RGB); sampling factors of the
/// luma component (2,2 = 4:2:0; 2,1 = 4:2:2; 1,1 = 4:4:4); density in dots per inch.
static inline int ck_jpeg_encoder_start(ck_jpeg_encoder *encoder, FILE *file, JDIMENSION width, JDIMENSION height,
                                        int components, int quality, int h_sampling, int v_sampling,
                                        UINT16 x_dpi, UINT16 y_dpi) {
    struct jpeg_compress_struct *cinfo = &encoder->cinfo;
    if (setjmp(encoder->error.jump)) { return -1; }
    jpeg_stdio_dest(cinfo, file);
    cinfo->image_width = width;
    cinfo->image_height = height;
    cinfo->input_components = components;
    cinfo->in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE);
    if (components == 3) {
        cinfo->comp_info[0].h_samp_factor = h_sampling;
        cinfo->comp_info[0].v_samp_factor = v_sampling;
    }
    cinfo->write_JFIF_header = TRUE;
    cinfo->density_unit = (x_dpi > 0 && y_dpi > 0) ? 1 : 0;
    cinfo->X_density = x_dpi > 0 ? x_dpi : 1;
    cinfo->Y_density = y_dpi > 0 ? y_dpi : 1;
    jpeg_start_compress(cinfo, TRUE);
    return 0;
}
static inline int ck_jpeg_encoder_write_rows(ck_jpeg_encoder *encoder, JSAMPARRAY rows, JDIMENSION count) {
    if (setjmp(encoder->error.jump)) { return -1; }
    JDIMENSION written = 0;
    while (written < count) { written += jpeg_write_scanlines(&encoder->cinfo, rows + written, count - written); }
    return 0;
}
static inline int ck_jpeg_encoder_finish(ck_jpeg_encoder *encoder) {
    if (setjmp(encoder->error.jump)) { return -1; }
    jpeg_finish_compress(&encoder->cinfo);
    return 0;
}
static inline void ck_jpeg_encoder_destroy(ck_jpeg_encoder *encoder) {
    if (!encoder) { return; }
    jpeg_destroy_compress(&encoder->cinfo);
    free(encoder);
}
static inline const char *ck_jpeg_encoder_message(const ck_jpeg_encoder *encoder) { return encoder->error.message; }
static inline int ck_libjpeg_version(void) { return JPEG_LIB_VERSION; }
#endif
