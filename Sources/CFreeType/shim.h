// FreeType (glyph rasterizing) and fontconfig (finding a font file) seam, for text on pad screens.
#ifndef COUNTERKIT_CFREETYPE_SHIM_H
#define COUNTERKIT_CFREETYPE_SHIM_H
#include <ft2build.h>
#include FT_FREETYPE_H
#include <fontconfig/fontconfig.h>

/// The file of the font fontconfig picks for `name` (e.g. "sans"), copied into `path`; 0 on success.
static inline int ck_font_file(const char *name, char *path, int capacity) {
    FcConfig *config = FcInitLoadConfigAndFonts();
    if (!config) { return -1; }
    FcPattern *pattern = FcNameParse((const FcChar8 *)name);
    int status = -1;
    if (pattern) {
        FcConfigSubstitute(config, pattern, FcMatchPattern);
        FcDefaultSubstitute(pattern);
        FcResult result;
        FcPattern *match = FcFontMatch(config, pattern, &result);
        FcChar8 *file = NULL;
        if (match && FcPatternGetString(match, FC_FILE, 0, &file) == FcResultMatch && file) {
            int i = 0;
            for (; file[i] && i < capacity - 1; i++) { path[i] = (char)file[i]; }
            path[i] = 0;
            status = 0;
        }
        if (match) { FcPatternDestroy(match); }
        FcPatternDestroy(pattern);
    }
    FcConfigDestroy(config);
    return status;
}
#endif
