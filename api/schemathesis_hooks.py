"""Hooks for scripts/api-fuzz: the bodies schemathesis cannot make from a JSON Schema.

`POST /v1/attachments` takes a PDF (application/pdf). The fuzzer sends a small sound one-page PDF, the same cut short,
the same with a stray byte changed, and arbitrary bytes: the service must store the first and refuse the others with
400 invalid_document, never a 5xx.
"""
from hypothesis import strategies as st

import schemathesis


def _tiny_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << >> >>",
        b"<< /Length 18 >>\nstream\n0 0 m 100 50 l S\n\nendstream",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    table = b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    table += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return body + table + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, len(body))


PDF = _tiny_pdf()

schemathesis.openapi.media_type(
    "application/pdf",
    st.one_of(
        st.just(PDF),
        st.integers(min_value=1, max_value=len(PDF) - 1).map(lambda cut: PDF[:cut]),
        st.integers(min_value=0, max_value=len(PDF) - 1).map(lambda at: PDF[:at] + bytes([PDF[at] ^ 0x55]) + PDF[at + 1:]),
        st.binary(max_size=512),
    ),
)
