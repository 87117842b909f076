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

/// A destination that grows one buffer, kept from JPEG to JPEG by its encoder.
typedef struct ck_jpeg_memory_destination {
    struct jpeg_destination_mgr manager;
    unsigned char *data;
    size_t capacity;
    /// Bytes of the last finished JPEG.
    size_t length;
} ck_jpeg_memory_destination;

/// A libjpeg compressor with its error manager, owned by the Swift encoder.
typedef struct ck_jpeg_encoder {
    struct jpeg_compress_struct cinfo;
    ck_jpeg_error error;
    /// Used by ck_jpeg_encoder_start_memory.
    ck_jpeg_memory_destination memory;
    /// When set, 3-component rows are already Y'CbCr as JPEG stores it (full-range BT.601): libjpeg converts nothing.
    int input_ycc;
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

/// Sets the parameters of a JPEG: `components` 1 (gray) or 3 (RGB); sampling factors of the luma component
/// (2,2 = 4:2:0; 2,1 = 4:2:2; 1,1 = 4:4:4); density in dots per inch; a restart marker every
/// `restart_interval` MCUs (0: none). Called inside the caller's setjmp.
static inline void ck_jpeg_encoder_configure(ck_jpeg_encoder *encoder, JDIMENSION width, JDIMENSION height,
                                             int components, int quality, int h_sampling, int v_sampling,
                                             UINT16 x_dpi, UINT16 y_dpi, unsigned int restart_interval) {
    struct jpeg_compress_struct *cinfo = &encoder->cinfo;
    cinfo->image_width = width;
    cinfo->image_height = height;
    cinfo->input_components = components;
    cinfo->in_color_space = components == 1 ? JCS_GRAYSCALE : (encoder->input_ycc ? JCS_YCbCr : JCS_RGB);
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
    cinfo->restart_interval = restart_interval;
}

/// Starts a JPEG written to `file` (see ck_jpeg_encoder_configure for the parameters).
static inline int ck_jpeg_encoder_start(ck_jpeg_encoder *encoder, FILE *file, JDIMENSION width, JDIMENSION height,
                                        int components, int quality, int h_sampling, int v_sampling,
                                        UINT16 x_dpi, UINT16 y_dpi, unsigned int restart_interval) {
    if (setjmp(encoder->error.jump)) { return -1; }
    jpeg_stdio_dest(&encoder->cinfo, file);
    ck_jpeg_encoder_configure(encoder, width, height, components, quality, h_sampling, v_sampling, x_dpi, y_dpi,
                              restart_interval);
    jpeg_start_compress(&encoder->cinfo, TRUE);
    return 0;
}

static inline void ck_jpeg_memory_init(j_compress_ptr cinfo) {
    ck_jpeg_memory_destination *destination = (ck_jpeg_memory_destination *)cinfo->dest;
    destination->manager.next_output_byte = destination->data;
    destination->manager.free_in_buffer = destination->capacity;
    destination->length = 0;
}
static inline boolean ck_jpeg_memory_grow(j_compress_ptr cinfo) {
    ck_jpeg_memory_destination *destination = (ck_jpeg_memory_destination *)cinfo->dest;
    size_t capacity = destination->capacity * 2;
    unsigned char *data = (unsigned char *)realloc(destination->data, capacity);
    if (!data) { ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10); }
    destination->manager.next_output_byte = data + destination->capacity;
    destination->manager.free_in_buffer = capacity - destination->capacity;
    destination->data = data;
    destination->capacity = capacity;
    return TRUE;
}
static inline void ck_jpeg_memory_term(j_compress_ptr cinfo) {
    ck_jpeg_memory_destination *destination = (ck_jpeg_memory_destination *)cinfo->dest;
    destination->length = destination->capacity - destination->manager.free_in_buffer;
}

/// Starts a JPEG written to memory: after ck_jpeg_encoder_finish it is `memory.data[0 ..< memory.length]`,
/// valid until the encoder starts again or is destroyed.
static inline int ck_jpeg_encoder_start_memory(ck_jpeg_encoder *encoder, JDIMENSION width, JDIMENSION height,
                                               int components, int quality, int h_sampling, int v_sampling,
                                               UINT16 x_dpi, UINT16 y_dpi) {
    if (setjmp(encoder->error.jump)) { return -1; }
    ck_jpeg_memory_destination *destination = &encoder->memory;
    if (!destination->data) {
        destination->capacity = 1 << 16;
        destination->data = (unsigned char *)malloc(destination->capacity);
        if (!destination->data) { destination->capacity = 0; ERREXIT1(&encoder->cinfo, JERR_OUT_OF_MEMORY, 11); }
    }
    destination->manager.init_destination = ck_jpeg_memory_init;
    destination->manager.empty_output_buffer = ck_jpeg_memory_grow;
    destination->manager.term_destination = ck_jpeg_memory_term;
    encoder->cinfo.dest = &destination->manager;
    ck_jpeg_encoder_configure(encoder, width, height, components, quality, h_sampling, v_sampling, x_dpi, y_dpi, 0);
    jpeg_start_compress(&encoder->cinfo, TRUE);
    return 0;
}

/// Abandons a JPEG in progress (after an error), keeping the encoder usable.
static inline void ck_jpeg_encoder_abort(ck_jpeg_encoder *encoder) { jpeg_abort_compress(&encoder->cinfo); }

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
    free(encoder->memory.data);
    free(encoder);
}
static inline const char *ck_jpeg_encoder_message(const ck_jpeg_encoder *encoder) { return encoder->error.message; }
static inline int ck_libjpeg_version(void) { return JPEG_LIB_VERSION; }
#endif
