"""The web app: a JSON API (FastAPI) over the recognizers; `doodlelab serve` runs it."""
