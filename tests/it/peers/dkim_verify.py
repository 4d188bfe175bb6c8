"""Verifies a message's DKIM signature with dkimpy (an independent
verifier), for tests/it/dkim.rs. The public key is served by dkimpy's
dnsfunc hook instead of DNS.

usage: dkim_verify.py MESSAGE_FILE NAME TXT_RECORD
Prints "pass" and exits 0 if the signature verifies, else "fail" and 1.
"""
import sys
import dkim

path, name, record = sys.argv[1], sys.argv[2], sys.argv[3]


def dnsfunc(qname, timeout=5):
    q = qname.decode() if isinstance(qname, bytes) else qname
    return record.encode() if q.rstrip(".") == name else None


msg = open(path, "rb").read()
ok = dkim.verify(msg, dnsfunc=dnsfunc, minkey=1024)
print("pass" if ok else "fail")
sys.exit(0 if ok else 1)
