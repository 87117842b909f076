#!/usr/bin/env python3
"""Opens a GM/T 0010 (GB/T 35275) SM2 envelope with implementations that are not CounterKit's, twice: OpenSSL's command
line (asn1parse reads the structure, pkeyutl decrypts the SM2-encrypted SM4 key, enc decrypts the SM4-CBC content)
and gmssl (PyPI, pure Python: SM2 decryption and SM4-CBC).

  gm_envelope.py ENVELOPE.der RECIPIENT_KEY.pem OUT

Writes the content to OUT when both agree; prints "gm: …" lines: the structure's OIDs, then "gm: opened N bytes".
Exit 1, saying why, when the structure is not GM/T 0010's or the two do not agree.
"""
import re
import subprocess
import sys

from gmssl import sm2, sm4

ENVELOPED_DATA, DATA = "1.2.156.10197.6.1.4.2.3", "1.2.156.10197.6.1.4.2.1"
SM2_ENCRYPT, SM4_CBC = "1.2.156.10197.1.301.3", "1.2.156.10197.1.104.2"


def fail(why):
    print(f"gm: FAIL {why}")
    sys.exit(1)


def openssl(*arguments, data=None):
    run = subprocess.run(["openssl", *arguments], input=data, capture_output=True)
    if run.returncode != 0:
        fail(f"openssl {' '.join(arguments)}: {run.stderr.decode(errors='replace')[:300]}")
    return run.stdout


def nodes(der):
    """OpenSSL's reading of DER: (offset, depth, header length, length, kind, value) per node."""
    found = []
    for line in openssl("asn1parse", "-inform", "DER", data=der).decode().splitlines():
        match = re.match(r"\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)\s+(?:prim|cons):\s*([^:]*?)\s*(?::(.*))?$", line)
        if match:
            offset, depth, header, length, kind, value = match.groups()
            found.append((int(offset), int(depth), int(header), int(length), kind.replace("[HEX DUMP]", "").strip(), (value or "").strip()))
    return found


ENVELOPE_PATH, KEY_PATH, OUT_PATH = sys.argv[1:4]
envelope = open(ENVELOPE_PATH, "rb").read()
parsed = nodes(envelope)
# OpenSSL names the OIDs it knows; the others it prints as numbers.
names = {"sm4-cbc": SM4_CBC}
oids = [names.get(value, value) for (_, _, _, _, kind, value) in parsed if kind == "OBJECT"]
print(f"gm: object identifiers {oids}")
if oids[:1] != [ENVELOPED_DATA] or SM2_ENCRYPT not in oids or DATA not in oids or SM4_CBC not in oids:
    fail(f"not a GM/T 0010 SM2/SM4 envelope: {oids}")


def body(node):
    offset, _, header, length, _, _ = node
    return envelope[offset + header: offset + header + length]


# The encrypted key: the OCTET STRING after sm2encrypt; the IV: the OCTET STRING after sm4-cbc; the content: [0].
index = next(i for i, node in enumerate(parsed) if node[4] == "OBJECT" and names.get(node[5], node[5]) == SM2_ENCRYPT)
encrypted_key = body(next(node for node in parsed[index:] if node[4] == "OCTET STRING"))
index = next(i for i, node in enumerate(parsed) if node[4] == "OBJECT" and names.get(node[5], node[5]) == SM4_CBC)
iv = body(next(node for node in parsed[index:] if node[4] == "OCTET STRING"))
content = body(next(node for node in parsed[index:] if node[4] == "cont [ 0 ]"))
versions = [int(value, 16) for (_, _, _, _, kind, value) in parsed if kind == "INTEGER"][:2]
print(f"gm: versions {versions}, encrypted key {len(encrypted_key)} bytes, iv {len(iv)} bytes, content {len(content)} bytes")

# OpenSSL: SM2 decryption of the key (its input is GM/T 0009's SM2Cipher DER), then SM4-CBC.
key = openssl("pkeyutl", "-decrypt", "-inkey", KEY_PATH, data=encrypted_key)
if len(key) != 16:
    fail(f"the SM4 key is {len(key)} bytes")
by_openssl = openssl("enc", "-d", "-sm4-cbc", "-K", key.hex(), "-iv", iv.hex(), data=content)

# gmssl: the same two steps. Its SM2 takes C1 (x || y) || C3 (hash) || C2 (ciphertext) as raw bytes.
cipher = nodes(encrypted_key)
x, y, digest, ciphertext = (encrypted_key[o + h: o + h + l] for (o, _, h, l, _, _) in cipher[1:5])
x, y = x[-32:].rjust(32, b"\0"), y[-32:].rjust(32, b"\0")
private = re.sub(r"[^0-9a-f]", "", re.search(r"priv:(.*?)pub:", openssl("pkey", "-in", KEY_PATH, "-noout", "-text").decode(), re.S).group(1))
private = private[-64:].rjust(64, "0")
decrypter = sm2.CryptSM2(private_key=private, public_key="", mode=1)
key_by_gmssl = decrypter.decrypt(x + y + digest + ciphertext)
if key_by_gmssl != key:
    fail("gmssl's SM2 decryption of the key differs from OpenSSL's")
crypter = sm4.CryptSM4()
crypter.set_key(key_by_gmssl, sm4.SM4_DECRYPT)
by_gmssl = crypter.crypt_cbc(iv, content)
if by_gmssl != by_openssl:
    fail("gmssl's SM4-CBC decryption differs from OpenSSL's")
open(OUT_PATH, "wb").write(by_openssl)
print(f"gm: opened {len(by_openssl)} bytes")
