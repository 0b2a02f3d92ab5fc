"""A real IMAP server for the tests: Debian's dovecot with its own config in a temp dir."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "postfach"
PASSWORD = "geheim-imap"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = kk-test-{port}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
# a test logs in with a wrong password on purpose: no penalty delay afterwards
auth_failure_delay = 0
log_path = {root}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
{passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
"""

PASSWORD_PASSDB = """\
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}"""

# XOAUTH2 / OAUTHBEARER: dovecot asks an introspection endpoint whether a token is
# active and for whom (tests/conversations/test_mail_oauth_imap.py serves it)
OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}"""

OAUTH_CONF = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


@dataclass
class ImapServer:
    host: str
    port: int
    root: Path
    # an OAuth2-only server: the tests' own access (append, count) signs in with this
    user: str = USER
    token: str = ""

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        if self.token:
            auth = f"user={self.user}\x01auth=Bearer {self.token}\x01\x01"
            client.authenticate("XOAUTH2", lambda challenge: "" if challenge else auth)
        else:
            client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.create(folder)  # NO if it exists, which is fine
            typ, data = client.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def recreate(self, folder: str) -> None:
        """Delete and create the folder again: the server hands out a new UIDVALIDITY."""
        client = self.client()
        try:
            client.delete(folder)
            typ, data = client.create(folder)
            assert typ == "OK", data
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> list[bytes]:
        client = self.client()
        try:
            client.select(folder, readonly=True)
            typ, data = client.uid("fetch", "1:*", "(FLAGS)")
            return [item for item in data if item]
        finally:
            client.logout()

    def count(self, folder: str = "INBOX") -> int:
        client = self.client()
        try:
            typ, data = client.select(folder, readonly=True)
            return int(data[0])
        finally:
            client.logout()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_dovecot(*, introspection_url: str = ""):
    """Yield a running ImapServer; stop it and remove its files afterwards.

    With ``introspection_url`` it accepts only OAuth2 tokens (XOAUTH2, OAUTHBEARER)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(binary):
        raise RuntimeError("dovecot fehlt: `make install` installiert Debians dovecot-imapd.")
    root = Path(tempfile.mkdtemp(prefix="kk-dovecot-"))
    root.chmod(0o755)  # login and mail processes run as other users and must get in
    port = _free_port()
    if os.geteuid() == 0:
        internal = pwd.getpwnam("dovecot")
        login_user, internal_user = "dovenull", "dovecot"
    else:
        internal = pwd.getpwuid(os.geteuid())
        login_user = internal_user = internal.pw_name
    (root / "mail").mkdir()
    for sub in ("run", "state"):
        (root / sub).mkdir()
    os.chown(root / "mail", internal.pw_uid, internal.pw_gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::nodelay\n")
    if introspection_url:
        (root / "dovecot-oauth2.conf.ext").write_text(OAUTH_CONF.format(url=introspection_url))
    conf = root / "dovecot.conf"
    conf.write_text(
        CONFIG.format(
            mechanisms="xoauth2 oauthbearer" if introspection_url else "plain login",
            passdb=(OAUTH_PASSDB if introspection_url else PASSWORD_PASSDB).format(root=root),
            root=root,
            port=port,
            login_user=login_user,
            internal_user=internal_user,
            internal_group=grp.getgrgid(internal.pw_gid).gr_name,
            uid=internal.pw_uid,
            gid=internal.pw_gid,
        )
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                process.kill()
                raise RuntimeError(
                    f"dovecot startete nicht: {process.stderr.read().decode()} {log}"
                ) from None
            time.sleep(0.05)
    try:
        yield ImapServer("127.0.0.1", port, root)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)
