// qpdf's C API (Debian's libqpdf-dev): reading PDFs, their objects, and unparsing changed objects for an incremental
// update that SignedDocuments writes itself.
#ifndef COUNTERKIT_CQPDF_SHIM_H
#define COUNTERKIT_CQPDF_SHIM_H
#include <qpdf/qpdf-c.h>
#endif
