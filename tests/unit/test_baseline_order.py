"""`diffmig baseline` lists the entities in dependency order, from the project's index (cached;
on a fresh checkout, built by one dbt parse that needs no database)."""

from __future__ import annotations

from orchestrator.marts import entity_specs


def test_entities_in_dependency_order_without_a_database() -> None:
    order = [s.entity for s in entity_specs()]
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
