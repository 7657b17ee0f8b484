"""The mapping rules of world.md section 5, computed in Python from the legacy rows and the code
seeds, independently of the dbt SQL, and compared row by row with the Supabase tables.

Everything is read into memory (the tests run at scale 0.01). A target row is compared only when
diffmig applied it: its legacy key has no open `error` issue in diffmig.row_issues (and, after a
run without reconcile, no open `drift` warning: the earlier scripts' values stay).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "codes"

Row = dict[str, Any]

# App table -> the column(s) holding its legacy key (junctions: their parts' ids).
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "offices": ("legacy_office_id",),
    "profiles": ("legacy_user_id",),
    "doctors": ("legacy_user_id",),
    "technicians": ("legacy_user_id",),
    "doctor_offices": ("doctor_id", "office_id"),
    "patients": ("legacy_patient_id",),
    "products": ("legacy_product_id",),
    "orders": ("legacy_instruction_id",),
    "cases": ("legacy_patient_id",),
    "order_cases": ("order_id", "case_id"),
    "jaws": ("legacy_jaw_id",),
    "files": ("legacy_file_id",),
    "case_files": ("case_id", "file_id"),
    "messages": ("legacy_record_id",),
    "message_attachments": ("message_id", "file_id"),
    "order_states": ("legacy_state_id",),
    "payments": ("legacy_payment_id",),
    "system_messages": ("legacy_record_id",),
    "teams": ("legacy_group_id",),
    "categories": ("legacy_category_id",),
    "roles": ("legacy_id",),
    "role_permissions": ("legacy_id",),
    "templates": ("legacy_template_id",),
    "template_products": ("template_id", "product_id"),
    "template_view_roles": ("template_id", "role_id"),
    "template_edit_roles": ("template_id", "role_id"),
    "template_view_groups": ("template_id", "team_id"),
    "template_predecessors": ("template_id", "predecessor_id"),
    "projects": ("legacy_project_id",),
    "brackets": ("legacy_bracket_id",),
    # comments' key is (legacy_table, legacy_id) (world.md 8.1)
    "comments": ("legacy_table", "legacy_id"),
    "treatment_discussions": ("legacy_comment_id",),
    "operations": ("legacy_operation_id",),
    "offers": ("legacy_offer_id",),
    "discounts": ("legacy_discount_id",),
    "tasks": ("legacy_task_id",),
    # treatment_plans and case_messages are left out: the earlier scripts left second rows of
    # some keys, which only a reconcile deletes (their journeys check them and their UUIDs).
}


# --- code seeds ------------------------------------------------------------------------------


def seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def code_map(name: str, code_col: str, value_col: str) -> tuple[dict[str, str], str | None]:
    """(code -> value, fallback value) from a seed."""
    rows = seed(name)
    mapping = {r[code_col]: r[value_col] for r in rows if r.get("is_fallback") != "true"}
    fallback = next((r[value_col] for r in rows if r.get("is_fallback") == "true"), None)
    return mapping, fallback


def lookup(name: str, code_col: str, value_col: str) -> Callable[[Any], str | None]:
    mapping, fallback = code_map(name, code_col, value_col)

    def f(code: Any) -> str | None:
        if code is None:
            return fallback
        return mapping.get(str(code), fallback)

    return f


# --- text and JSON rules ---------------------------------------------------------------------

_EXTRA_SPACES = "\u200b\ufeff"


def trim(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip().strip(_EXTRA_SPACES).strip()


def collapse(value: str | None) -> str | None:
    value = trim(value)
    return None if value is None else re.sub(r"\s+", " ", value)


def blank_none(value: str | None) -> str | None:
    return None if value is None or value == "" else value


def email_rule(raw: str | None) -> str | None:
    """Lower-cased and trimmed; NULL unless one '@' with text on both sides."""
    value = (trim(raw) or "").lower()
    if value.count("@") == 1 and not value.startswith("@") and not value.endswith("@"):
        return value
    return None


def email_is_invalid(raw: str | None) -> bool:
    return bool(trim(raw)) and email_rule(raw) is None


def parse_json(text: str | None) -> tuple[bool, Any]:
    """(parsed ok, value). The empty string is not JSON; the literal null parses (to NULL)."""
    if text is None:
        return True, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def as_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


# --- reading both sides ----------------------------------------------------------------------


def read_rows(conn: psycopg.Connection, query: str) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(query))


LEGACY_TABLES = [
    "django_content_type",
    "auth_user",
    "auth_user_groups",
    "dispatch_office",
    "dispatch_office_doctors",
    "dispatch_doctorsetting",
    "dispatch_patient",
    "dispatch_course",
    "dispatch_product",
    "dispatch_jaw",
    "dispatch_instruction",
    "dispatch_record",
    "dispatch_file",
    "dispatch_record_attachments",
    "dispatch_state",
    "dispatch_payment",
    "dispatch_operation",
    "dispatch_offer",
    "dispatch_discount",
]


def read_legacy(conn: psycopg.Connection) -> dict[str, dict[int, Row]]:
    out = {
        t: {r["id"]: r for r in read_rows(conn, f"select * from public.{t}")} for t in LEGACY_TABLES
    }
    out["all_notifications"] = {
        r["id"]: r
        for r in read_rows(conn, "select id, send, sent from public.dispatch_notification")
    }
    out["dispatch_notification"] = {
        r["id"]: r
        for r in read_rows(conn, "select * from public.dispatch_notification where send and sent")
    }
    return out


def read_target(conn: psycopg.Connection) -> dict[str, list[Row]]:
    return {t: read_rows(conn, f"select * from public.{t}") for t in KEY_COLUMNS}


@dataclass
class Issues:
    """Open issues per entity and legacy key: list of (severity, reason)."""

    open: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    any_: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)

    @classmethod
    def read(cls, conn: psycopg.Connection) -> Issues:
        out = cls()
        opened: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
        seen: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
        for entity, key, severity, reason, resolved in conn.execute(
            "select entity, legacy_key, severity, reason, resolved_at is not null "
            "from diffmig.row_issues"
        ):
            seen[entity][key].append((severity, reason))
            if not resolved:
                opened[entity][key].append((severity, reason))
        out.open, out.any_ = opened, seen
        return out

    def held_back(self, entity: str, key: Any) -> bool:
        return any(sev == "error" for sev, _ in self.open.get(entity, {}).get(str(key), []))

    def has_open(self, entity: str, key: Any, severity: str | None = None) -> bool:
        return any(
            severity in (None, sev) for sev, _ in self.open.get(entity, {}).get(str(key), [])
        )

    def reasons(self, entity: str, key: Any) -> set[str]:
        return {r for _, r in self.open.get(entity, {}).get(str(key), [])}

    def recorded(self, entity: str, key: Any) -> bool:
        return bool(self.any_.get(entity, {}).get(str(key)))


# --- the expectation -------------------------------------------------------------------------


@dataclass
class Mismatch:
    entity: str
    legacy_key: Any
    column: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return (
            f"{self.entity} key {self.legacy_key}: {self.column} expected {self.expected!r}, "
            f"got {self.actual!r}"
        )


class World:
    """Both databases read once, with the target's id maps, to compute expectations."""

    def __init__(
        self,
        legacy: dict[str, dict[int, Row]],
        target: dict[str, list[Row]],
        issues: Issues,
        *,
        reconciled: bool,
    ) -> None:
        self.legacy, self.target, self.issues, self.reconciled = legacy, target, issues, reconciled
        self.by_key: dict[str, dict[int, Row]] = {}
        for table, cols in KEY_COLUMNS.items():
            if len(cols) == 1:
                self.by_key[table] = {
                    r[cols[0]]: r for r in target[table] if r[cols[0]] is not None
                }
        self.office_id = {k: r["id"] for k, r in self.by_key["offices"].items()}
        self.profile_id = {k: r["id"] for k, r in self.by_key["profiles"].items()}
        self.doctor_id = {k: r["id"] for k, r in self.by_key["doctors"].items()}
        self.patient_id = {k: r["id"] for k, r in self.by_key["patients"].items()}
        self.order_id = {k: r["id"] for k, r in self.by_key["orders"].items()}
        self.product_id = {k: r["id"] for k, r in self.by_key["products"].items()}
        ct = {(r["app_label"], r["model"]): i for i, r in legacy["django_content_type"].items()}
        self.ct_patient = ct.get(("dispatch", "patient"))
        self.ct_user = ct.get(("auth", "user"))
        self.ct_instruction = ct.get(("dispatch", "instruction"))
        routing = {
            (r["app_label"], r["model_name"]): r["recipient_type"]
            for r in seed("content_type_routing")
            if r["is_fallback"] != "true"
        }
        self.routing = {
            ct_id: routing.get((r["app_label"], r["model"]))
            for ct_id, r in legacy["django_content_type"].items()
        }
        self.mismatches: list[Mismatch] = []
        # Rows whose drift a first run without reconcile reported: their mismatches are kept
        # apart (set by the caller), so the reconcile of drift is judged on its own.
        self.drift_keys: dict[str, set[str]] = {}
        self.drift_mismatches: list[Mismatch] = []
        self.compared: dict[str, int] = defaultdict(int)

    # -- helpers --

    def applied(self, entity: str, key: Any) -> bool:
        if self.issues.held_back(entity, key):
            return False
        return self.reconciled or "drift" not in self.issues.reasons(entity, key)

    def compare(self, entity: str, key: Any, expected: Row, actual: Row) -> None:
        self.compared[entity] += 1
        for col, want in expected.items():
            got = actual.get(col)
            if (
                isinstance(want, float | int)
                and isinstance(got, Decimal)
                and not isinstance(want, bool)
            ):
                got = float(got) if isinstance(want, float) else got
            if want != got:
                found = (
                    self.drift_mismatches
                    if str(key) in self.drift_keys.get(entity, set())
                    else self.mismatches
                )
                found.append(Mismatch(entity, key, col, want, got))

    def rows_to_compare(self, entity: str, keys: Iterable[int]) -> Iterable[tuple[int, Row]]:
        table = self.by_key[entity]
        for key in keys:
            if key in table and self.applied(entity, key):
                yield key, table[key]

    # -- groups and profile types --

    def profile_types(self) -> dict[int, str]:
        precedence = {
            int(r["group_id"]): (int(r["precedence"]), r["profile_type"])
            for r in seed("group_to_profile_type")
            if r["is_fallback"] != "true" and r["profile_type"]
        }
        fallback = next(
            r["profile_type"] for r in seed("group_to_profile_type") if r["is_fallback"] == "true"
        )
        groups: dict[int, list[int]] = defaultdict(list)
        for g in self.legacy["auth_user_groups"].values():
            groups[g["user_id"]].append(g["group_id"])
        patient_users = {p["user_id"] for p in self.legacy["dispatch_patient"].values()}
        out = {}
        for uid, user in self.legacy["auth_user"].items():
            ranked = sorted(precedence[g] for g in groups.get(uid, []) if g in precedence)
            if uid in patient_users:
                out[uid] = "patient"
            elif ranked:
                out[uid] = ranked[0][1]
            elif user["is_superuser"]:
                out[uid] = "master"
            else:
                out[uid] = fallback
        return out

    def patient_of_user(self) -> dict[int, Row]:
        out: dict[int, Row] = {}
        for pid in sorted(self.legacy["dispatch_patient"]):
            p = self.legacy["dispatch_patient"][pid]
            out.setdefault(p["user_id"], p)
        return out

    # -- entities --

    def offices(self) -> None:
        aliases = {r["alias"]: r["country"] for r in seed("country_aliases")}
        for key, got in self.rows_to_compare("offices", self.legacy["dispatch_office"]):
            src = self.legacy["dispatch_office"][key]
            tax = src["tax_rate"]
            country = src["country"]
            if country is not None:
                country = aliases.get(country.strip().lower(), country.strip())
            expected = {
                "name": blank_none(collapse(src["name"])) or f"Office {key}",
                "address": blank_none(collapse(src["address"])),
                "apartment": blank_none(trim(src["apt"])),
                "city": blank_none(collapse(src["city"])),
                "state": blank_none((trim(src["state"]) or "").upper()),
                "zip_code": blank_none(trim(src["zip"])),
                "phone": blank_none(trim(src["phone"])),
                "tax_rate": None
                if tax is None
                else (tax / 100 if tax > 1 else tax).quantize(Decimal("0.0001")),
                "country": blank_none(country),
                "square_customer_id": blank_none(trim(src["sq_customer_id"])),
                "is_active": src["valid"],
                "email_notifications": src["emails"],
            }
            actual = dict(got)
            for col in ("address", "apartment", "city", "state", "zip_code", "phone"):
                actual[col] = blank_none(actual[col])
            self.compare("offices", key, expected, actual)
            if tax is not None and tax > 1:
                legacy_meta = (got["metadata"] or {}).get("legacy", {})
                self.compare(
                    "offices",
                    key,
                    {"metadata.legacy.tax_rate": tax},
                    {"metadata.legacy.tax_rate": as_decimal(legacy_meta.get("tax_rate"))},
                )

    def profiles(self) -> None:
        types = self.profile_types()
        patients = self.patient_of_user()
        gender = lookup("sex_to_gender", "sex_code", "gender")
        for key, got in self.rows_to_compare("profiles", self.legacy["auth_user"]):
            user = self.legacy["auth_user"][key]
            want_type = types[key]
            if want_type != "doctor" and got["profile_type"] == "doctor" and key in self.doctor_id:
                # int_profiles_typed keeps a user with a doctors row a doctor (validate_orders
                # requires every order's doctor to have a doctor profile): a declared exception.
                want_type = "doctor"
            expected: Row = {
                "profile_type": want_type,
                "first_name": trim(user["first_name"]),
                "last_name": trim(user["last_name"]),
                "email": email_rule(user["email"]),
                "phone": None,
                "username": user["username"],
                "password_hash": user["password"],
                "is_active": user["is_active"],
                "last_login_at": user["last_login"],
                "created_at": user["date_joined"],
            }
            patient = patients.get(key)
            if patient is not None:
                expected |= {
                    "date_of_birth": patient["birthdate"],
                    "gender": gender(patient["sex"]),
                    "archived": patient["archived"],
                    "suspended": patient["suspended"],
                    "patient_suffix": patient["suffix"],
                }
            self.compare("profiles", key, expected, got)
            for col in ("first_name", "last_name"):
                if got[col] == "Unknown" and trim(user[col]) != "Unknown":
                    self.compare(
                        "profiles",
                        key,
                        {f"{col} (never Unknown)": "not Unknown"},
                        {f"{col} (never Unknown)": "Unknown"},
                    )
            if email_is_invalid(user["email"]):
                meta = (got["metadata"] or {}).get("legacy", {})
                self.compare(
                    "profiles",
                    key,
                    {"metadata.legacy.email": user["email"]},
                    {"metadata.legacy.email": meta.get("email")},
                )

    def doctors(self) -> None:
        types = self.profile_types()
        first_office: dict[int, int] = {}
        for link_id in sorted(self.legacy["dispatch_office_doctors"]):
            link = self.legacy["dispatch_office_doctors"][link_id]
            first_office.setdefault(link["user_id"], link["office_id"])
        for key, got in self.rows_to_compare("doctors", self.legacy["auth_user"]):
            user = self.legacy["auth_user"][key]
            office = first_office.get(key)
            expected = {
                "doctor_number": f"DOC-{key:06d}",
                "status": "active" if user["is_active"] else "inactive",
                "joined_practice_at": user["date_joined"],
                "profile_id": self.profile_id.get(key),
                "primary_office_id": self.office_id.get(office) if office is not None else None,
            }
            self.compare("doctors", key, expected, got)
        # every user typed doctor has a doctors row (unless held back)
        for uid, kind in types.items():
            if kind == "doctor" and not self.issues.held_back("doctors", uid):
                self.compared["doctors (presence)"] += 1
                if uid not in self.by_key["doctors"]:
                    self.mismatches.append(Mismatch("doctors", uid, "row", "present", "missing"))

    def patients(self) -> None:
        gender = lookup("sex_to_gender", "sex_code", "gender")
        status = lookup("patient_status", "status_code", "patient_status")
        for key, got in self.rows_to_compare("patients", self.legacy["dispatch_patient"]):
            src = self.legacy["dispatch_patient"][key]
            ok, schemes = parse_json(src["schemes"])
            expected = {
                "patient_number": f"PAT-{key:06d}",
                "sex": gender(src["sex"]),
                "status": status(src["status"]),
                "date_of_birth": src["birthdate"],
                "archived": src["archived"],
                "suspended": src["suspended"],
                "enrolled_at": src["submitted_at"],
                "profile_id": self.profile_id.get(src["user_id"]),
                "assigned_office_id": self.office_id.get(src["office_id"]),
                "legacy_user_id": src["user_id"],
            }
            if src["schemes"] is not None:
                expected["schemes"] = schemes if ok else {"legacy_schemes": src["schemes"]}
                if src["schemes"].strip() == "null" and got["schemes"] is not None:
                    # the JSON literal null: NULL, or the fallback with a warning, both fit
                    expected["schemes"] = {"legacy_schemes": src["schemes"]}
            if src["doctor_id"] in self.doctor_id:
                expected["primary_doctor_id"] = self.doctor_id[src["doctor_id"]]
            self.compare("patients", key, expected, got)

    def orders(self) -> None:
        status = lookup("order_status", "status_code", "order_status")
        known_status = code_map("order_status", "status_code", "order_status")[0]
        course_type = lookup("course_types", "course_type_code", "course_type")
        for key, got in self.rows_to_compare("orders", self.legacy["dispatch_instruction"]):
            src = self.legacy["dispatch_instruction"][key]
            patient = self.legacy["dispatch_patient"].get(src["patient_id"])
            # The patient's suffix; a patient gone from the legacy database is read from its
            # target row (kept, archived), so the order number does not change with the deletion.
            kept = self.by_key["patients"].get(src["patient_id"]) if patient is None else None
            suffix = trim(src["suffix"]) or (
                trim(patient["suffix"]) if patient else (trim(kept["suffix"]) if kept else None)
            )
            course = self.legacy["dispatch_course"].get(src["course_id"])
            expected: Row = {
                "order_number": f"{suffix}-{key}" if suffix else f"ORD-{key}",
                "status": status(src["status"]),
                "deleted": src["deleted"],
                "deleted_at": src["updated_at"] if src["deleted"] else None,
                "amount": money(src["price"]),
                "submitted_at": src["submitted_at"],
                "course_type": course_type(course["type"] if course else None),
                "patient_id": self.patient_id.get(src["patient_id"], got["patient_id"]),
            }
            if str(src["status"]) in known_status:
                expected["approved_at"] = src["updated_at"] if src["status"] >= 2 else None
                expected["shipped_at"] = src["updated_at"] if src["status"] == 4 else None
            if patient is not None:
                expected["doctor_id"] = self.doctor_id.get(patient["doctor_id"])
                expected["office_id"] = self.office_id.get(patient["office_id"])
            self.compare("orders", key, expected, got)

    def jaw_pointers(self) -> dict[int, list[tuple[str, int]]]:
        out: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for iid, ins in self.legacy["dispatch_instruction"].items():
            if ins["upper_jaw_id"] is not None:
                out[ins["upper_jaw_id"]].append(("upper", iid))
            if ins["lower_jaw_id"] is not None:
                out[ins["lower_jaw_id"]].append(("lower", iid))
        return out

    def jaws(self) -> None:
        pointers = self.jaw_pointers()
        reason = lookup("jaw_replacement_reasons", "reason_code", "replacement_reason")
        for key, got in self.rows_to_compare("jaws", self.legacy["dispatch_jaw"]):
            src = self.legacy["dispatch_jaw"][key]
            expected: Row = {
                "labial": src["labial"],
                "bond_teeth": src["bond_teeth"],
                "extract_teeth": src["extract_teeth"],
                "replacement_reason": reason(src["reason"]),
                "product_id": self.product_id.get(src["product_id"]),
            }
            if len(pointers.get(key, [])) == 1:
                jaw_type, iid = pointers[key][0]
                expected["jaw_type"] = jaw_type
                expected["order_id"] = self.order_id.get(iid)
            self.compare("jaws", key, expected, got)

    def files(self) -> None:
        mime = lookup("file_types", "extension", "mime_type")
        for key, got in self.rows_to_compare("files", self.legacy["dispatch_file"]):
            src = self.legacy["dispatch_file"][key]
            expected: Row = {
                "file_uid": src["uid"],
                "filename": src["name"],
                "file_type": src["ext"],
                "file_size_bytes": src["size"],
                "mime_type": mime((trim(src["ext"]) or "").lower().lstrip(".")),
                "uploaded_at": src["created_at"],
                "order_id": self.order_id.get(src["instruction_id"]),
            }
            self.compare("files", key, expected, got)

    def message_route(self, rec: Row) -> tuple[str | None, Any]:
        """(recipient_type, recipient id) of a record, or (None, None) when not routable."""
        kind = self.routing.get(rec["target_type_id"])
        ids = {"patient": self.patient_id, "user": self.profile_id, "order": self.order_id}
        if kind is None:
            return None, None
        return kind, ids[kind].get(rec["target_id"])

    def messages(self) -> None:
        mtype = lookup("record_types", "type_code", "message_type")
        for key, got in self.rows_to_compare("messages", self.legacy["dispatch_record"]):
            src = self.legacy["dispatch_record"][key]
            kind, recipient = self.message_route(src)
            expected = {
                "recipient_type": kind,
                "recipient_id": recipient,
                "message_type": mtype(src["type"]),
                "content": src["text"],
                "created_at": src["created_at"],
                "sender_id": self.profile_id.get(src["author_id"]),
            }
            self.compare("messages", key, expected, got)

    def payments(self) -> None:
        for key, got in self.rows_to_compare("payments", self.legacy["dispatch_payment"]):
            src = self.legacy["dispatch_payment"][key]
            if src["canceled"]:
                status = "cancelled"
            elif src["paid"]:
                status = "completed"
            else:
                status = "pending"
            if src["free"]:
                method = None
            elif src["netsuite"]:
                method = "other"
            else:
                method = "card"
            expected = {
                "status": status,
                "payment_method": method,
                "amount": money(src["total_price"]),
                "processed_at": src["made_at"],
                "order_id": self.order_id.get(src["instruction_id"]),
            }
            self.compare("payments", key, expected, got)

    def system_messages(self) -> None:
        keywords = sorted(
            (int(r["precedence"]), r["keyword"], r["message_type"])
            for r in seed("template_message_types")
        )
        for key, got in self.rows_to_compare(
            "system_messages", self.legacy["dispatch_notification"]
        ):
            src = self.legacy["dispatch_notification"][key]
            ok, context = parse_json(src["template_context"])
            name = (src["template_name"] or "").lower()
            mtype = next(t for _, kw, t in keywords if kw == "" or kw in name)
            raw = src["template_context"]
            if raw is not None and raw.strip() == "null" and got["message_data"] is not None:
                ok = False  # the JSON literal null: NULL, or the fallback with a warning
            expected: Row = {
                "message_data": context if ok else {"raw_context": raw},
                "message_type": mtype,
                "recipient_id": self.profile_id.get(src["recipient_id"]),
                "processed": src["sent"],
            }
            if src["item_type_id"] == self.ct_instruction:
                expected["order_id"] = self.order_id.get(src["item_id"])
            elif src["item_type_id"] is not None:
                expected["order_id"] = None
            if ok and isinstance(context, dict):
                for col in ("barcode", "tracking_number", "carrier"):
                    value = context.get(col)
                    expected[col] = None if value is None else str(value)
            self.compare("system_messages", key, expected, got)
        # only send and sent true: no target row for another notification still in the source
        for key in self.by_key["system_messages"]:
            self.compared["system_messages (filter)"] += 1
            if (
                key in self.legacy["all_notifications"]
                and key not in self.legacy["dispatch_notification"]
            ):
                self.mismatches.append(
                    Mismatch("system_messages", key, "row", "absent (not send and sent)", "present")
                )

    def deletions(self) -> None:
        """A target row whose legacy row is gone has its soft-delete column set (world.md 6)."""
        checks = {
            "offices": ("dispatch_office", "is_active", False),
            "profiles": ("auth_user", "is_active", False),
            "patients": ("dispatch_patient", "archived", True),
            "cases": ("dispatch_patient", "deleted", True),
            "orders": ("dispatch_instruction", "deleted", True),
            "technicians": ("auth_user", "is_active", False),
            "system_messages": ("all_notifications", "is_active", False),
        }
        for entity, (table, col, want) in checks.items():
            for key, got in self.by_key[entity].items():
                if key not in self.legacy[table]:
                    self.compared[f"{entity} (deleted in source)"] += 1
                    if got[col] != want:
                        self.mismatches.append(Mismatch(entity, key, col, want, got[col]))

    # -- counts for the other entities --

    def count_check(self, entity: str, keys: Iterable[int]) -> tuple[int, int]:
        """(expected, actual) target rows among the source keys in scope, not held back."""
        keys = set(keys)
        held = {k for k in keys if self.issues.held_back(entity, k)}
        present = keys & set(self.by_key[entity])
        return len(keys - held), len(present - held)

    def check_all(self) -> list[Mismatch]:
        for step in (
            self.offices,
            self.profiles,
            self.doctors,
            self.patients,
            self.orders,
            self.jaws,
            self.files,
            self.messages,
            self.payments,
            self.system_messages,
            self.deletions,
        ):
            step()
        return self.mismatches


def load_world(
    legacy_conn: psycopg.Connection, target_conn: psycopg.Connection, *, reconciled: bool
) -> World:
    return World(
        read_legacy(legacy_conn),
        read_target(target_conn),
        Issues.read(target_conn),
        reconciled=reconciled,
    )
