"""`doodlelab data`: info, render, download and cache commands (filled in below)."""

from __future__ import annotations


def register(groups: dict) -> None:
    groups["_top"].add_parser("data", help="inspect, render, download and cache the Quick, Draw! data")
