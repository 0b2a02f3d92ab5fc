"""Fixtures of the local OAuth2 servers (tests/conversations/oauth_servers.py)."""

from tests.conversations.oauth_servers import _ms_server, ms_login, xoauth2_smtp  # noqa: F401
