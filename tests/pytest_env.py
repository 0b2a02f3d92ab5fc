"""Loaded with -p before Django is set up: the environment every test run starts from."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("CACHE", "locmem")
os.environ.setdefault("Q2_SYNC", "true")
os.environ["Q2_BROKER"] = ""  # never Redis in tests
os.environ.setdefault(
    "MEDIA_ROOT", os.path.join(os.path.dirname(__file__), "..", "var", "test-media")
)
