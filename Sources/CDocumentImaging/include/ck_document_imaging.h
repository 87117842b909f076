// CounterKit's document imaging on OpenCV (core, imgproc), behind a plain C interface for Swift.
// Images are 8-bit, interleaved RGB (3 channels) or gray (1 channel), rows `stride` bytes apart.
// Every function catches OpenCV's exceptions and reports them as a negative status; none throws.
#ifndef CK_DOCUMENT_IMAGING_H
#define CK_DOCUMENT_IMAGING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An image the caller owns.
typedef struct {
    const uint8_t *pixels;
    int width;
    int height;
    int channels;
    size_t stride;
} ck_doc_image;

/// A writable image the caller owns.
typedef struct {
    uint8_t *pixels;
    int width;
    int height;
    int channels;
    size_t stride;
} ck_doc_output;

/// Statuses: 0 done; 1 nothing found (no page, no skew); negative: bad input or an OpenCV failure.
enum { CK_DOC_OK = 0, CK_DOC_NOT_FOUND = 1, CK_DOC_BAD_INPUT = -1, CK_DOC_FAILED = -2 };

/// Finds the page: its four corners (x, y pairs: top-left, top-right, bottom-right, bottom-left as the page lies
/// upright, in the image's pixels) and a confidence in 0…1. CK_DOC_NOT_FOUND when no page-like quadrilateral is seen.
int ck_doc_detect_page(ck_doc_image image, double corners[8], double *confidence);

/// Warps the quadrilateral `corners` of `image` onto `output` (same channels), bilinear, its outline `inset` pixels
/// outside the output on every side (so that the output is the inside of the quadrilateral).
int ck_doc_warp(ck_doc_image image, const double corners[8], double inset, ck_doc_output output);

/// Draws `page` (same channels as `scene`) into the quadrilateral `corners` of `scene` (perspective, bilinear), leaving
/// the rest of `scene` as it was: for composing pages onto backgrounds and cards onto a sheet.
int ck_doc_place(ck_doc_image page, const double corners[8], ck_doc_output scene);

/// The skew of a scanned page's content, in degrees (positive: the content is turned counter-clockwise), found from
/// its text lines and rules within ±`max_degrees`; CK_DOC_NOT_FOUND when the page has too little structure to tell.
int ck_doc_skew(ck_doc_image image, double max_degrees, double *degrees);

/// Rotates `image` by `degrees` about its centre onto `output` (same size and channels), filling with `fill` (gray).
int ck_doc_rotate(ck_doc_image image, double degrees, uint8_t fill, ck_doc_output output);

/// Flattens uneven illumination and whitens the paper of a camera shot or scan onto `output` (same size and channels):
/// each channel is divided by its own estimate of the paper under it (a wide closing and blur of a shrunk copy, which
/// text and thin marks do not survive), so shading and colour casts go while ink keeps its colour (a red seal stays red);
/// then near-white is pushed to white.
int ck_doc_clean(ck_doc_image image, ck_doc_output output);

/// Black and white for text pages onto `output` (1 channel, 0 or 255, same size): ink is what is well darker than the
/// paper around it (a local threshold, so uneven light does not blacken a corner).
int ck_doc_binarize(ck_doc_image image, ck_doc_output output);

/// Where a scan's page lies on the scanner bed once the scan is turned by `degrees` (counter-clockwise, about its centre,
/// as ck_doc_rotate turns it): the bed's tone is taken from the image's border, and the page is the largest region that
/// differs from it, as a rectangle (x, y, width, height) of the turned image. Found on a small copy, so the full image
/// need not be turned first. CK_DOC_NOT_FOUND when the page cannot be told from the bed (a white page on a white lid)
/// or fills the bed.
int ck_doc_scan_bounds(ck_doc_image image, double degrees, int rectangle[4]);

/// The region (x, y, output's width and height) of `image` turned by `degrees` (as ck_doc_rotate turns it) onto
/// `output`: straightening and cropping in one pass; pixels from beyond the image repeat its edge.
int ck_doc_rotate_region(ck_doc_image image, double degrees, int x, int y, ck_doc_output output);

/// Gray (BT.601 luma) onto `output` (1 channel, same size).
int ck_doc_gray(ck_doc_image image, ck_doc_output output);

/// `image` resized to fill `output` (same channels): area averaging when shrinking, bilinear when enlarging.
int ck_doc_resize(ck_doc_image image, ck_doc_output output);

/// What is on a page once paper grain, noise and faint show-through are set aside.
typedef struct {
    double ink_fraction;       ///< share of the page's inner area covered by ink marks
    int marks;                 ///< ink marks (connected components) bigger than specks
    int largest_mark;          ///< pixels in the largest mark
    double chromatic_fraction; ///< share of the inner area in strong colour (a red seal), after specks
    double gray_fraction;      ///< share of mid-gray tones (photos) on the page
} ck_doc_content;

/// Measures `image`'s content (inner 94 %, margins left out).
int ck_doc_content_of(ck_doc_image image, ck_doc_content *content);

/// The area of the intersection of two convex quadrilaterals over the area of their union (the Jaccard index).
double ck_doc_jaccard(const double a[8], const double b[8]);

#ifdef __cplusplus
}
#endif

#endif
