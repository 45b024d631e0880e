"""The core is exercised through the real app: the same session-wide client as the API tests."""

from tests.api.conftest import client  # noqa: F401  (a fixture, used by name)
