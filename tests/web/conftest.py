"""Fixtures of the web tests: the tiny four-shape classifier, trained once per session."""

from tests.classifier.conftest import shape, shapes_data, tiny_model  # noqa: F401
