"""The notification tests use the customer-service fixtures: a bridge HTTP server with
staff and shoppers (appointments are what they are reminded of)."""

from ..service.conftest import _files, client, people  # noqa: F401 - fixtures
