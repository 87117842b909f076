#!/usr/bin/env python3
"""Checks what CounterKit signs with implementations that are not CounterKit's: Python's `cryptography` (PyPI) for
Ed25519 and ECDSA P-256 keys, `gmssl` (PyPI, pure Python) for SM2 with SM3 and GB/T 35276's default signer id.

  counter_signatures.py signature PUBLIC_KEY.pem DATA SIGNATURE   prints "python: valid" or "python: invalid"
  counter_signatures.py audit PUBLIC_KEY.pem LOG                  prints "python: N entries valid, head SHA" or why not
  counter_signatures.py sm3 FILE                                  prints gmssl's SM3 of the file (hex)

Audit lines: the signature covers the line up to ',"signature":' closed by '}'; `seq` counts from 1; `prev` is the
SHA-256 of the line before (64 zeros for the first).
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from gmssl import func, sm2, sm3

# The SM2 curve's OID (1.2.156.10197.1.301) as DER, which an SM2 SubjectPublicKeyInfo carries.
SM2_CURVE = bytes.fromhex("06082a811ccf5501822d")


def load_key(path):
    text = open(path, "rb").read()
    try:
        return serialization.load_pem_public_key(text)
    except (ValueError, UnsupportedAlgorithm):
        # cryptography has no SM2 curve: the SubjectPublicKeyInfo ends with the uncompressed point 04 || x || y.
        der = base64.b64decode(b"".join(line for line in text.splitlines() if not line.startswith(b"-----")))
        if SM2_CURVE not in der or der[-65] != 4:
            raise
        return ("sm2", der[-64:].hex())


def verifies(key, signature, data):
    if isinstance(key, tuple):
        checker = sm2.CryptSM2(private_key=None, public_key="", asn1=True)
        # Set after construction: gmssl's constructor strips "04" with lstrip, which would also eat a leading 0 or 4 of x.
        checker.public_key = key[1]
        try:
            return bool(checker.verify_with_sm3(signature.hex(), data))
        except Exception:  # a signature that is not DER
            return False
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def main():
    command = sys.argv[1]
    if command == "sm3":
        print(sm3.sm3_hash(func.bytes_to_list(open(sys.argv[2], "rb").read())))
        return
    key = load_key(sys.argv[2])
    if command == "signature":
        data, signature = open(sys.argv[3], "rb").read(), open(sys.argv[4], "rb").read()
        print("python: valid" if verifies(key, signature, data) else "python: invalid")
        return
    prev = "0" * 64
    lines = open(sys.argv[3], "rb").read().split(b"\n")
    if lines[-1] != b"":
        print("python: the log does not end with a newline")
        sys.exit(1)
    for number, line in enumerate(lines[:-1], start=1):
        head, _, tail = line.rpartition(b',"signature":"')
        if not tail.endswith(b'"}'):
            print(f"python: line {number}: the signature is not the last member")
            sys.exit(1)
        signed, signature = head + b"}", base64.b64decode(tail[:-2])
        entry = json.loads(signed)
        if not verifies(key, signature, signed):
            print(f"python: line {number} does not verify")
            sys.exit(1)
        if entry["seq"] != number or entry["prev"] != prev:
            print(f"python: line {number}: chain broken")
            sys.exit(1)
        prev = hashlib.sha256(line).hexdigest()
    print(f"python: {len(lines) - 1} entries valid, head {prev}")


main()
