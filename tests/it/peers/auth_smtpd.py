"""A next hop that requires SMTP AUTH, as Google Workspace's SMTP relay does,
for tests/it/next_hop_auth.rs: aiosmtpd with STARTTLS required before AUTH.

usage: auth_smtpd.py PORT OUTDIR USER PASSWORD [--cert C --key K] [--only-login]
Without --cert it offers AUTH in plaintext (a hop we must not log in to).
Each attempt is appended to OUTDIR/auth.log as "MECH USER ok|bad tls|plain";
each accepted message is written to OUTDIR/msg-N.eml.
"""
import argparse, asyncio, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

a = argparse.ArgumentParser()
a.add_argument("port", type=int)
a.add_argument("outdir")
a.add_argument("user")
a.add_argument("password")
a.add_argument("--cert")
a.add_argument("--key")
a.add_argument("--only-login", action="store_true")
args = a.parse_args()


def log(line):
    with open(os.path.join(args.outdir, "auth.log"), "a") as f:
        f.write(line + "\n")


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == args.user
          and auth_data.password.decode() == args.password)
    user = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
    log(f"{mechanism} {user} {'ok' if ok else 'bad'} {'tls' if session.ssl else 'plain'}")
    return AuthResult(success=ok)


class Handler:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Handler.count += 1
        path = os.path.join(args.outdir, f"msg-{Handler.count}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 accepted"


kw = dict(authenticator=authenticator, auth_required=True)
if args.cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    kw.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
else:
    kw.update(auth_require_tls=False)
if args.only_login:
    kw.update(auth_exclude_mechanism=["PLAIN"])
c = Controller(Handler(), hostname="127.0.0.1", port=args.port, **kw)
c.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    c.stop()
