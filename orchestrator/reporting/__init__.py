"""Run reports (Markdown, JSON, HTML)."""

from __future__ import annotations
