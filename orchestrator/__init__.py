"""diffmig: differential migration of a legacy Django PostgreSQL database into Supabase."""

from __future__ import annotations

__version__ = "0.1.0"
