"""The sync engine: the staged mirror of the legacy tables, exact change detection, transports."""

from __future__ import annotations
