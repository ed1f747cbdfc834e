#!/usr/bin/env python3
"""A real SMTP server on loopback for creditburn's delivery tests (aiosmtpd).

Every accepted message is written to MAILDIR/<n>.eml (the raw DATA). Prints "ready PORT"
once it listens, then serves until killed.

    python3 tests/smtp_server.py --maildir DIR [--port N] [--starttls CERT KEY]
        [--implicit-tls CERT KEY] [--auth USER:PASS] [--reject ADDR]... [--tempfail N]
        [--echo-auth plain|base64] [--reject-sender]

--echo-auth makes a failed login answer as a careless server does, echoing what the
client sent: the password itself (plain) or the AUTH PLAIN argument (base64).
"""
import base64
import argparse
import asyncio
import itertools
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, reject, tempfail, reject_sender=False):
        self.reject_sender = reject_sender
        self.maildir = maildir
        self.reject = set(reject)
        self.tempfail = tempfail
        self.counter = itertools.count(1)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.reject_sender:
            return "550 sender not allowed to send here"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 <%s>: recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail > 0:
            self.tempfail -= 1
            return "451 4.3.0 temporary failure, try again later"
        n = next(self.counter)
        path = os.path.join(self.maildir, "%04d.eml" % n)
        with open(path + ".tmp", "wb") as f:
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 accepted"


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--maildir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth")
    p.add_argument("--reject", action="append", default=[])
    p.add_argument("--tempfail", type=int, default=0)
    p.add_argument("--echo-auth", choices=["plain", "base64"])
    p.add_argument("--reject-sender", action="store_true")
    a = p.parse_args()
    os.makedirs(a.maildir, exist_ok=True)

    kwargs = {}
    if a.starttls:
        kwargs.update(tls_context=tls_context(*a.starttls), require_starttls=True)
    if a.implicit_tls:
        kwargs.update(ssl_context=tls_context(*a.implicit_tls))
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            if ok or not a.echo_auth or not isinstance(auth_data, LoginPassword):
                return AuthResult(success=ok)
            if a.echo_auth == "plain":
                echoed = "user %s password %s" % (auth_data.login.decode(), auth_data.password.decode())
            else:
                echoed = "AUTH PLAIN " + base64.b64encode(
                    b"\0" + auth_data.login + b"\0" + auth_data.password).decode()
            return AuthResult(success=False, handled=False,
                              message="535 5.7.8 Authentication failed for %s" % echoed)

        # aiosmtpd does not count implicit TLS as TLS for AUTH; the connection is
        # encrypted either way, so only STARTTLS sessions need the check.
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=bool(a.starttls))

    port = a.port
    if port == 0:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    handler = Handler(a.maildir, a.reject, a.tempfail, a.reject_sender)
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            server_hostname="localhost", **kwargs)
    controller.start()
    print("ready %d" % port, flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
