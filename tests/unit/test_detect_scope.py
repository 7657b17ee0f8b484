"""Which declared legacy tables `diffmig detect` analyses by default: those some entity reads."""

from __future__ import annotations

from orchestrator.catalog import declared_tables
from orchestrator.detect import tables_read


def test_a_table_no_entity_reads_is_named_not_analysed() -> None:
    declared = [t.name for t in declared_tables()]
    read, unread = tables_read([("dispatch_office",), ("auth_user", "dispatch_office")])
    assert read == [t for t in declared if t in ("dispatch_office", "auth_user")]
    assert "auth_group" in unread
    assert set(read) | set(unread) == set(declared)
