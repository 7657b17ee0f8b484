"""The generated legacy database against world.md section 3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.sandbox import build
from tests.conftest import LEGACY_BASE_TEMPLATE, TEST_SCALE, ClusterPair, DbPair, make_db_pair
from tests.integration.world import LEGACY_COLUMNS, LEGACY_VOLUMES

# Every defect kind world.md section 3 asks the generator to plant (names as in legacy_defects.sql).
DEFECT_KINDS_REQUIRED = {
    "malformed_json",
    "email_without_at",
    "duplicated_email",
    "blank_name",
    "tax_rate_as_percentage",
    "instruction_patient_gone",
    "patient_doctor_not_in_doctor_group",
    "record_target_missing",
    "record_content_type_not_routable",
    "file_instruction_missing",
    "file_record_missing",
    "jaw_without_instruction",
    "state_instruction_gone",
    "payment_without_instruction",
    "notification_recipient_gone",
    "unknown_code",
    "odd_text",
    "extreme_timestamp",
    "user_in_several_groups",
}


@pytest.fixture(scope="module")
def base(clusters: ClusterPair) -> Iterator[DbPair]:
    """The legacy database as generated (before the simulated activity)."""
    dbs = make_db_pair(clusters, LEGACY_BASE_TEMPLATE)
    yield dbs
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)


def test_tables_and_columns_match_world(base: DbPair) -> None:
    with base.legacy_app() as conn:
        rows = conn.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'public'"
        ).fetchall()
    actual: dict[str, set[str]] = {}
    for table, column in rows:
        actual.setdefault(table, set()).add(column)
    assert set(actual) == set(LEGACY_COLUMNS)
    for table, columns in LEGACY_COLUMNS.items():
        assert actual[table] == columns, table


def test_tables_are_owned_by_the_app_role(base: DbPair) -> None:
    with base.legacy_admin() as conn:
        owners = conn.execute(
            "select distinct tableowner from pg_tables where schemaname = 'public'"
        ).fetchall()
    assert owners == [(build.LEGACY_APP_ROLE,)]


def test_volumes_within_five_percent_of_the_scale(base: DbPair) -> None:
    with base.legacy_app() as conn:
        for table, at_full_scale in LEGACY_VOLUMES.items():
            (count,) = conn.execute(f"select count(*) from {table}").fetchone()  # noqa: S608
            if at_full_scale is None:
                assert count > 0, table
                continue
            expected = at_full_scale * TEST_SCALE
            # 5% of the target, or 2 rows for tables that are tiny at small scales.
            assert abs(count - expected) <= max(0.05 * expected, 2), (table, count, expected)


def test_notifications_send_and_sent_share(base: DbPair) -> None:
    with base.legacy_app() as conn:
        (share,) = conn.execute(
            "select avg((coalesce(send and sent, false))::int) from dispatch_notification"
        ).fetchone()
    assert 0.35 <= float(share) <= 0.45


def test_every_defect_kind_is_planted(base: DbPair) -> None:
    with base.legacy_app() as conn:
        found = dict(conn.execute(build.sql_file("legacy_defects.sql")).fetchall())
    missing = DEFECT_KINDS_REQUIRED - {kind for kind, n in found.items() if n > 0}
    assert not missing, f"defect kinds without rows: {sorted(missing)}; found {found}"


def test_english_and_japanese_text(base: DbPair) -> None:
    with base.legacy_app() as conn:
        (japanese,) = conn.execute(
            "select count(*) from dispatch_record where text ~ '[\u3040-\u30ff\u4e00-\u9fff]'"
        ).fetchone()
        (english,) = conn.execute(
            "select count(*) from dispatch_record where text ~ '^[A-Za-z]'"
        ).fetchone()
    assert japanese > 0
    assert english > 0


def test_content_types_resolve_by_natural_key(base: DbPair) -> None:
    with base.legacy_app() as conn:
        pairs = set(conn.execute("select app_label, model from django_content_type").fetchall())
    for needed in [
        ("dispatch", "patient"),
        ("auth", "user"),
        ("dispatch", "instruction"),
        ("dispatch", "plan"),
    ]:
        assert needed in pairs


def _checksums(clusters: ClusterPair, dbname: str) -> dict[str, str]:
    with clusters.legacy.connect(dbname) as conn:
        return {
            table: conn.execute(
                f"select md5(coalesce(string_agg(t::text, '|' order by id), '')) from {table} t"  # noqa: S608
            ).fetchone()[0]
            for table in LEGACY_COLUMNS
        }


def test_same_seed_same_data_other_seed_other_data(clusters: ClusterPair) -> None:
    pair = clusters.pair
    try:
        build.build_legacy(pair, "det_a", seed=11, scale=0.002)
        build.build_legacy(pair, "det_b", seed=11, scale=0.002)
        build.build_legacy(pair, "det_c", seed=12, scale=0.002)
        a, b, c = (_checksums(clusters, name) for name in ("det_a", "det_b", "det_c"))
        assert a == b
        assert a["auth_user"] != c["auth_user"]
        assert a["dispatch_notification"] != c["dispatch_notification"]
    finally:
        for name in ("det_a", "det_b", "det_c"):
            build.drop_database(clusters.legacy, name)
