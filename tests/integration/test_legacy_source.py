"""The generated legacy database against world.md section 3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.sandbox import build
from tests.conftest import LEGACY_BASE_TEMPLATE, TEST_SCALE, ClusterPair, DbPair, make_db_pair
from tests.integration.world import LEGACY_COLUMNS, LEGACY_FIXED_VOLUMES, LEGACY_VOLUMES

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
    # The second wave (world.md 8.2).
    "every second-wave foreign key points at a gone row": [
        f"fk_gone:{table}.{column}"
        for table, column in [
            ("auth_permission", "content_type_id"),
            ("dispatch_category", "parent_id"),
            ("dispatch_role", "user_id"),
            ("dispatch_role", "group_id"),
            ("dispatch_role_permissions", "role_id"),
            ("dispatch_role_permissions", "permission_id"),
            ("dispatch_template", "category_id"),
            ("dispatch_template_products", "template_id"),
            ("dispatch_template_products", "product_id"),
            ("dispatch_template_view_roles", "template_id"),
            ("dispatch_template_view_roles", "role_id"),
            ("dispatch_template_edit_roles", "template_id"),
            ("dispatch_template_edit_roles", "role_id"),
            ("dispatch_template_view_groups", "template_id"),
            ("dispatch_template_view_groups", "group_id"),
            ("dispatch_template_predecessors", "template_id"),
            ("dispatch_template_predecessors", "to_template_id"),
            ("dispatch_project", "creator_id"),
            ("dispatch_bracket", "project_id"),
            ("dispatch_plan", "instruction_id"),
            ("dispatch_plan", "project_id"),
            ("dispatch_comment", "author_id"),
            ("dispatch_comment", "plan_id"),
            ("dispatch_task", "file_id"),
            ("dispatch_task", "template_id"),
            ("dispatch_task", "plan_id"),
            ("dispatch_task", "instruction_id"),
            ("dispatch_task", "actor_id"),
            ("dispatch_operation", "payment_id"),
            ("dispatch_offer", "doctor_id"),
            ("dispatch_offer", "product_id"),
            ("dispatch_discount", "offer_id"),
        ]
    ],
    "second-wave codes not in the code tables": [
        "code_project_type_unknown",
        "code_project_status_unknown",
        "code_operation_type_unknown",
    ],
    "plans without instruction, two originals, names over 100": [
        "plan_without_instruction",
        "plan_two_originals",
        "plan_name_over_100",
    ],
    "blank names and comments": ["name_blank_wave2", "comment_blank"],
    "tasks checked without done_at, without instruction": [
        "task_checked_without_done_at",
        "task_instruction_null",
    ],
    "a duplicate project uid": ["project_uid_duplicate"],
    "offers without prices, or to a user who is no doctor": [
        "offer_without_prices",
        "offer_doctor_not_a_doctor",
    ],
    "discounts over 100% or ending before they start": [
        "discount_over_100",
        "discount_ends_before_start",
    ],
    "malformed template extensions": ["template_extensions_bad"],
    "a category cycle": ["category_cycle"],
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
                assert count == LEGACY_FIXED_VOLUMES.get(table, count), table
                continue
            expected = at_full_scale * TEST_SCALE
            # 5% of the target, or 2 rows for tables that are tiny at small scales.
            assert abs(count - expected) <= max(0.05 * expected, 2), (table, count, expected)


def test_second_wave_shape(base: DbPair) -> None:
    """world.md 8.2 "Shape", within the slack of a small scale."""
    with base.legacy_app() as conn:
        row = conn.execute(
            "select"
            " (select avg((type = 3)::int) from dispatch_project),"
            " (select avg((creator_id is null)::int) from dispatch_project),"
            " (select count(*)::numeric / count(distinct instruction_id) from dispatch_plan),"
            " (select count(*)::numeric / count(distinct project_id) from dispatch_plan),"
            " (select avg(length(text)) from dispatch_comment),"
            " (select max(length(text)) from dispatch_comment),"
            " (select avg(checked::int) from dispatch_task),"
            " (select avg((done_at is not null)::int) from dispatch_task),"
            " (select avg((plan_id is not null)::int) from dispatch_task),"
            " (select count(*)::numeric / count(distinct instruction_id) from dispatch_task),"
            " (select avg((type = 1)::int) from dispatch_operation),"
            " (select count(*) from (select doctor_id, product_id from dispatch_offer"
            "   group by 1, 2 having count(*) > 1) d),"
            " (select count(*) from dispatch_role where group_id = 11),"
            " (select count(*) from (select instruction_id from dispatch_plan"
            "   where number = 1 and not original) o)"
        ).fetchone()
    names = [
        "type 3 share",
        "no creator share",
        "plans per instruction",
        "plans per project",
        "comment mean length",
        "comment max length",
        "tasks checked",
        "tasks done",
        "tasks on a plan",
        "tasks per instruction",
        "operations of type 1",
        "duplicate offer pairs",
        "roles in group 11",
        "first plans not original",
    ]
    bounds = [
        (0.45, 0.59),
        (0.015, 0.05),
        (7.5, 9.5),
        (2.5, 3.3),
        (120, 190),
        (100, 2_174),
        (0.8, 0.9),
        (0.84, 0.92),
        (0.35, 0.45),
        (34, 42),
        (0.9, 0.99),
        (0, 0),
        (31, 31),
        (0, 0),
    ]
    outside = {
        name: value
        for name, value, (low, high) in zip(names, row, bounds, strict=True)
        if not low <= value <= high
    }
    assert not outside


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
