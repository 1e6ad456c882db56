"""doodlelab: recognize and generate Quick, Draw! doodles, from raw strokes to a web app."""

__version__ = "0.1.0"
