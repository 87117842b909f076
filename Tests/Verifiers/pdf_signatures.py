"""pyHanko's verdict on every signature of a PDF: `pdf_signatures.py SIGNED.pdf ROOT.pem [ROOT.pem …]`.

One line per signature, `pyhanko: {json}`: the field, intact (the digest over its byte range matches), valid (the
CMS signature verifies), trusted (the signer's chain reaches one of the given roots), the coverage (ENTIRE_FILE,
ENTIRE_REVISION, …), the modification level after it, the signing time, the signer's subject and, when embedded,
whether a timestamp token is valid. Exit 0 when every signature is intact, valid and trusted, else 1.
"""
import json
import sys

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

path, roots = sys.argv[1], sys.argv[2:]
context = ValidationContext(trust_roots=[load_cert_from_pemder(root) for root in roots], allow_fetching=False)
ok = True
with open(path, "rb") as handle:
    try:
        reader = PdfFileReader(handle, strict=True)
        signatures = reader.embedded_signatures
    except Exception as error:  # a file pyHanko cannot even read is broken, not a crash of the check
        print("pyhanko: " + json.dumps({"intact": False, "valid": False, "trusted": False, "error": f"{type(error).__name__}: {error}"}))
        sys.exit(1)
    if not signatures:
        print("pyhanko: no signature")
        sys.exit(1)
    for signature in signatures:
        try:
            status = validate_pdf_signature(signature, context)
            line = {
                "field": signature.field_name,
                "intact": status.intact,
                "valid": status.valid,
                "trusted": status.trusted,
                "coverage": status.coverage.name,
                "modifications": status.modification_level.name if status.modification_level is not None else None,
                "signer": status.signing_cert.subject.human_friendly,
                "time": str(status.signer_reported_dt),
                "timestamp": None if status.timestamp_validity is None else status.timestamp_validity.valid and status.timestamp_validity.intact,
                "algorithm": status.md_algorithm,
            }
        except Exception as error:  # a damaged file or structure: report it as a failure, not a crash
            line = {"field": signature.field_name, "intact": False, "valid": False, "trusted": False, "error": f"{type(error).__name__}: {error}"}
        ok = ok and line["intact"] and line["valid"] and line["trusted"]
        print("pyhanko: " + json.dumps(line, ensure_ascii=False))
sys.exit(0 if ok else 1)
