"""`diffmig baseline` lists the entities in dependency order even on a fresh checkout, before
dbt has written any manifest (the order then comes from the refs in the model files)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.marts import entity_specs


def test_entities_in_dependency_order_without_a_manifest(tmp_path: Path) -> None:
    order = [s.entity for s in entity_specs(manifest=tmp_path / "no-manifest.json")]
    assert len(order) == len(set(order)) >= 18
    for parent, child in [
        ("offices", "doctor_offices"),
        ("profiles", "doctors"),
        ("doctors", "doctor_offices"),
        ("patients", "cases"),
        ("orders", "order_states"),
        ("orders", "system_messages"),
        ("profiles", "system_messages"),
        ("files", "case_files"),
        ("cases", "case_files"),
        ("messages", "message_attachments"),
    ]:
        assert order.index(parent) < order.index(child), (parent, child, order)
