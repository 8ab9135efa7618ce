#!/usr/bin/env python3
"""Verify a Sealtrail evidence bundle (sealtrail-evidence-bundle/1) without Sealtrail.

Usage:  tar xf audit-log-....tar -C bundle && python3 bundle/verify_bundle.py bundle \
            [--public-key 'sealtrail+<key id>+<base64>']
Pass --public-key with the verifier key the operator published (`sealtrail public-key`): without
it the bundle is checked against the key it carries itself, which a re-signed bundle would
carry too. Needs Python 3.8+ and the `cryptography` package (pip install cryptography);
everything else is the standard library. Exit status 0 when every check passes, 1 with the
first problem otherwise.

Checks: the checkpoint's Ed25519 signature (C2SP signed note) by the key in public-key.txt; the
manifest agrees with the checkpoint; for every line of entries.ndjson, in increasing seq order:
leaf hash = SHA-256(0x00 || envelope), the RFC 9162 section 2.1.3.2 inclusion proof leads to the
checkpoint root, the envelope names this log, seq and id, every vault value matches its salted
commitment SHA-256("sealtrail-commit-v1\\0" || salt || value), and the readable "entry" is what
envelope and vault say. Finally: the manifest's entry count, and whether the bundle holds the
whole log (every seq from 0 to the checkpoint's size) or a selection of it.
"""
import argparse
import base64
import hashlib
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "sealtrail-evidence-bundle/1"
COMMIT_DOMAIN = b"sealtrail-commit-v1\x00"
PARTS = ("actor", "context", "payload")


class Bad(Exception):
    """A check failed; the message says which."""


def sha256(*chunks):
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.digest()


def b64(s):
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode() != s:
        raise Bad("non-canonical base64")
    return raw


def unhex32(s):
    raw = bytes.fromhex(s)
    if len(raw) != 32 or raw.hex() != s:
        raise Bad("not a lowercase 64-digit hex hash")
    return raw


def parse_key(key_line, alg, what):
    """A C2SP vkey `name+keyid+base64(alg || key)`: (name, key id hex, Ed25519 key)."""
    name, key_id, key_b64 = key_line.strip().split("+", 2)
    raw = b64(key_b64)
    if len(raw) != 33 or raw[0] != alg:
        raise Bad("%s %s is not a 0x%02x key" % (what, key_line.strip(), alg))
    if sha256(name.encode(), b"\n", raw)[:4].hex() != key_id:
        raise Bad("%s id does not match the key" % what)
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def signature_lines(note):
    """A signed note's text and its (name, blob) signature lines."""
    split = note.rindex("\n\n")
    text, signatures = note[: split + 1], note[split + 2 :]
    lines = []
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            raise Bad("malformed signature line")
        sig_name, sig_b64 = line[2:].split(" ", 1)
        lines.append((sig_name, b64(sig_b64)))
    return text, lines


def open_checkpoint(key_line, note):
    """C2SP signed note: returns (origin, size, root) if a signature by the key verifies."""
    name, key_id, key = parse_key(key_line, 1, "public key")
    text, lines = signature_lines(note)
    verified = False
    for sig_name, blob in lines:
        if sig_name == name and blob[:4].hex() == key_id:
            try:
                key.verify(blob[4:], text.encode())
            except InvalidSignature:
                raise Bad("checkpoint signature does not verify")
            verified = True
    if not verified:
        raise Bad("checkpoint carries no signature by the bundle's key")
    origin, size, root = text.split("\n")[:3]
    return origin, int(size), b64(root)


def cosigned_at(key_line, note):
    """C2SP tlog-cosignature/v1: the timestamp of the witness's valid cosignature, or None."""
    name, key_id, key = parse_key(key_line, 4, "witness key")
    text, lines = signature_lines(note)
    found = None
    for sig_name, blob in lines:
        if sig_name != name or blob[:4].hex() != key_id:
            continue
        if len(blob) != 4 + 8 + 64:
            raise Bad("malformed cosignature by %s" % name)
        timestamp = int.from_bytes(blob[4:12], "big")
        message = ("cosignature/v1\ntime %d\n" % timestamp).encode() + text.encode()
        try:
            key.verify(blob[12:], message)
        except InvalidSignature:
            raise Bad("the cosignature by %s does not verify" % name)
        found = timestamp
    return found


def node(left, right):
    return sha256(b"\x01", left, right)


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def opened_entry(env, parts):
    """The entry as Sealtrail shows it, rebuilt from the envelope and the vault values."""
    actor, ctx, pay = (parts[p] for p in PARTS)
    e = {k: env[k] for k in ("id", "seq", "recorded_at", "occurred_at", "channel", "action", "event")}
    if env.get("category") is not None:
        e["category"] = env["category"]
    e["description"] = pay.get("description", "")
    e["result"] = env["result"]
    e["actor"] = {"type": env["actor_type"]}
    e["actor"].update({k: actor[k] for k in ("id", "name", "email", "via") if actor.get(k) is not None})
    e["targets"] = pay.get("targets", [])
    context = {k: ctx[k] for k in ("ip", "user_agent", "location") if ctx.get(k) is not None}
    if pay.get("request") is not None:
        context["request"] = pay["request"]
    if context:
        e["context"] = context
    if pay.get("changes") is not None:
        e["changes"] = pay["changes"]
    e["properties"] = pay.get("properties", {})
    if env.get("redacted"):
        e["redacted"] = env["redacted"]
    return e


def canon(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_line(line, origin, size, root, last_seq):
    """Returns (seq, erased values) or raises Bad."""
    seq = line["seq"]
    if last_seq is not None and seq <= last_seq:
        raise Bad("out of order: comes after seq %d" % last_seq)
    envelope = b64(line["envelope"])
    leaf = sha256(b"\x00", envelope)
    if leaf != unhex32(line["leaf_hash"]):
        raise Bad("leaf_hash is not the hash of the envelope bytes")
    proof = [unhex32(h) for h in line["inclusion_proof"]]
    if not verify_inclusion(seq, size, leaf, proof, root):
        raise Bad("inclusion proof does not lead to the checkpoint root")
    env = json.loads(envelope)
    if env.get("v") != 1 or env["log"] != origin or env["seq"] != seq or env["id"] != line["id"]:
        raise Bad("envelope does not name this log, seq and id")
    parts, erased = {}, 0
    for part in PARTS:
        slot = line["vault"][part]
        if slot.get("erased") is True:
            value, erased = b64(slot["replacement"]), erased + 1
        else:
            salt, value = b64(slot["salt"]), b64(slot["value"])
            if len(salt) != 16 or sha256(COMMIT_DOMAIN, salt, value).hex() != env["commitments"][part]:
                raise Bad("vault %s value does not match the envelope's commitment" % part)
        parts[part] = json.loads(value)
    claimed = dict(line["entry"])
    claimed.pop("idempotency_key", None)
    if canon(claimed) != canon(opened_entry(env, parts)):
        raise Bad("the readable entry differs from what envelope and vault say")
    return seq, erased


def main(directory, pinned_key=None, witnesses=(), quorum=None):
    def read(name):
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            return f.read()

    manifest = json.loads(read("manifest.json"))
    if manifest["format"] != FORMAT:
        raise Bad("manifest format is %r, expected %r" % (manifest["format"], FORMAT))
    key_line = read("public-key.txt")
    if pinned_key is not None and key_line.strip() != pinned_key.strip():
        raise Bad("the bundle is signed by %s, not by the key you trust (%s)"
                  % (key_line.strip(), pinned_key.strip()))
    note = read("checkpoint.txt")
    origin, size, root = open_checkpoint(key_line, note)
    witnesses = sorted(set(w.strip() for w in witnesses))  # the same key counts once
    if witnesses:
        needed = len(witnesses) if quorum is None else quorum
        if not 1 <= needed <= len(witnesses):
            raise Bad("--witness-quorum must be between 1 and the %d distinct witness keys"
                      % len(witnesses))
        valid = sum(1 for w in witnesses if cosigned_at(w, note) is not None)
        if valid < needed:
            raise Bad("the checkpoint carries %d of the %d required witness cosignatures"
                      % (valid, needed))
    if (origin, size, root.hex()) != (manifest["origin"], manifest["tree_size"], manifest["root"]):
        raise Bad("manifest does not match the signed checkpoint")
    count, erased, last_seq, whole = 0, 0, None, True
    with open(os.path.join(directory, "entries.ndjson"), "rb") as f:
        for raw in f:
            count += 1
            seq = None
            try:
                line = json.loads(raw)
                seq = line["seq"]
                if not raw.endswith(b"\n"):
                    raise Bad("last line does not end with a newline")
                last_seq, n = check_line(line, origin, size, root, last_seq)
                erased += n
                whole = whole and seq == count - 1
            except (Bad, KeyError, TypeError, ValueError) as e:
                raise Bad("entries.ndjson line %d (seq %s): %s" % (count, seq, e or type(e).__name__))
    if count != manifest["entries"]:
        raise Bad("manifest says %d entries, entries.ndjson has %d" % (manifest["entries"], count))
    whole = whole and count == size
    print("OK: %d entries of log %s verified against its signed checkpoint (size %d, root %s)."
          % (count, origin, size, root.hex()))
    if whole:
        print("The bundle holds the whole log: every seq from 0 to %d." % (size - 1))
    else:
        print("A selection of %d of the log's %d entries: it cannot show whether entries outside "
              "it exist." % (count, size))
    print("%d vault values were erased (shown as replacements)." % erased)
    if witnesses:
        print("Cosigned by %d of the %d witnesses you trust." % (valid, len(witnesses)))
    if pinned_key is None:
        print("Checked against the key inside the bundle; pass --public-key with the one the "
              "operator published: %s" % key_line.strip())
    else:
        print("Signed by the key you trust: %s" % key_line.strip())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Verify a Sealtrail evidence bundle.")
    parser.add_argument("directory", nargs="?",
                        default=os.path.dirname(os.path.abspath(__file__)),
                        help="the unpacked bundle (default: this script's directory)")
    parser.add_argument("--public-key", dest="public_key",
                        help="the verifier key you trust (name+keyid+base64)")
    parser.add_argument("--witness", dest="witnesses", action="append", default=[],
                        help="a witness's cosignature key (name+keyid+base64, 0x04); repeatable")
    parser.add_argument("--witness-quorum", dest="quorum", type=int,
                        help="how many --witness keys must have cosigned (default: all)")
    arguments = parser.parse_args()
    try:
        main(arguments.directory, arguments.public_key, arguments.witnesses, arguments.quorum)
    except (Bad, KeyError, TypeError, ValueError, OSError) as e:
        print("FAILED: %s" % (e or type(e).__name__))
        sys.exit(1)
