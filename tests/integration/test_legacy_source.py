"""The generated legacy database against world.md section 3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.sandbox import build
from tests.conftest import LEGACY_BASE_TEMPLATE, TEST_SCALE, ClusterPair, DbPair, make_db_pair
from tests.integration.world import LEGACY_COLUMNS, LEGACY_VOLUMES

# Every defect world.md section 3 asks the generator to plant, and the kinds (as named by
# legacy_defects.sql) that prove it is there.
DEFECTS_REQUIRED: dict[str, list[str]] = {
    "malformed JSON in every JSON-in-text column": [
        "json_bad:dispatch_course.customization",
        "json_bad:dispatch_product.customization",
        "json_bad:dispatch_patient.schemes",
        "json_bad:dispatch_instruction.exports",
        "json_bad:dispatch_file.parameters",
        "json_bad:dispatch_payment.installments",
        "json_bad:dispatch_notification.template_context",
        "json_unescaped_quotes",
        "json_truncated",
        "json_empty_string",
        "json_null_literal",
    ],
    "emails without @": ["email_no_at"],
    "duplicated emails": ["email_duplicate"],
    "blank and whitespace-only names": ["name_blank", "name_whitespace_only"],
    "tax_rate as a percentage": ["office_tax_rate_percentage"],
    "instructions whose patient is gone": ["instruction_patient_missing"],
    "patients whose doctor is not in the doctor group": ["patient_doctor_not_in_doctor_group"],
    "records whose target is missing": ["record_target_missing"],
    "records whose content type is not routable": ["record_type_not_routable"],
    "files pointing at a missing instruction or record": [
        "file_instruction_missing",
        "file_record_missing",
    ],
    "jaws no instruction points at": ["jaw_unreferenced"],
    "states whose instruction is gone": ["state_instruction_missing"],
    "payments without an instruction": ["payment_without_instruction"],
    "notifications whose recipient is gone": ["notification_recipient_missing"],
    "codes not in any code table": [
        "code_instruction_status_unknown",
        "code_patient_status_unknown",
        "code_patient_sex_unknown",
        "code_record_type_unknown",
        "code_file_ext_unknown",
        "code_template_name_unknown",
    ],
    "odd text": ["text_emoji", "text_right_to_left", "text_zero_width", "text_100kb"],
    "timestamps far in the past or future": ["ts_far_past", "ts_far_future"],
    "a user in several groups": ["user_multi_group"],
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
    missing = {
        defect: [kind for kind in kinds if not found.get(kind)]
        for defect, kinds in DEFECTS_REQUIRED.items()
        if any(not found.get(kind) for kind in kinds)
    }
    assert not missing, f"defects without rows: {missing}"


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
