"""Checks a Sealtrail webhook batch the way docs/streaming.md tells a receiver to.

Usage: verify_webhook.py <secret whsec_...> <Sealtrail-Signature header> <body file>
Prints "ok" and exits 0 when the signature is valid and recent; exits 1 otherwise.
"""
import hashlib
import hmac
import sys
import time


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    key = bytes.fromhex(secret.removeprefix("whsec_"))
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp = parts.get("t", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


if __name__ == "__main__":
    secret, header, path = sys.argv[1:4]
    with open(path, "rb") as f:
        body = f.read()
    if verify(secret, header, body):
        print("ok")
    else:
        print("refused")
        sys.exit(1)
