"""The training tests that call the API use the same session-wide client as the API tests."""

from tests.api.conftest import client  # noqa: F401  (a fixture, used by name)
