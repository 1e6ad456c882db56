"""Fixtures of the web tests: the tiny four-shape classifier, trained once per session (the server runs
through `doodlelab.web.local.serving`), and the browser tests' fixtures (tests/web/pagekit.py)."""

from __future__ import annotations

from tests.classifier.conftest import shape, shapes_data, tiny_model  # noqa: F401
from tests.generative.conftest import diffusion_file, gan_file  # noqa: F401
from tests.web.pagekit import base_url, bicycle, browser, page, recognizer  # noqa: F401  (browser tests)
