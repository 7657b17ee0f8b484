"""diffmig's own bookkeeping in the destination's private schema `diffmig`."""

from __future__ import annotations
