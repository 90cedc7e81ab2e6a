"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, and
a `sendmail` that is msmtp relaying to it: the MTA the handlers talk to is a
real sendmail-compatible program, configured only by its command line."""
import email
import email.policy
import threading
from pathlib import Path

from aiosmtpd.controller import Controller

from stack import free_port


class Received:
    def __init__(self, mail_from, rcpt_tos, data):
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.raw = data
        self.message = email.message_from_bytes(data, policy=email.policy.default)

    @property
    def body(self):
        return self.message.get_content()


class MailServer:
    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.arrived = threading.Condition()
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                with server.arrived:
                    server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                    server.arrived.notify_all()
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def wait_for(self, count, timeout=20):
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        return self.messages

    def write_sendmail(self, path: Path):
        """A sendmail-compatible command: msmtp, pointed at this server."""
        path.write_text("#!/bin/sh\n"
                        f"exec /usr/bin/msmtp --host=127.0.0.1 --port={self.port} --auth=off --tls=off \"$@\"\n")
        path.chmod(0o755)
        return path
