"""The admin's Audit log page (refusals included, filtered) and Operations health page (services up,
failed work with its reason, retried from the page)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select, text
from streamlit.testing.v1 import AppTest

from app.textsafe import md
from core import operations
from core.errors import PermissionDenied
from core.services import users
from db.models import AuditLog, Operation
from tests.platform_seed import unreadable

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"
TIMEOUT = 60
HOSTILE = "[Pay here](https://evil.example) Fund"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def admin_on(make: Any, page: str, title: str) -> AppTest:
    admin = make.user("admin")
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(admin.username)
    at.text_input[1].input(PASSWORD)
    at = at.button[0].click().run()
    at.switch_page(page).run()
    assert [t.value for t in at.title] == [title] and not at.exception, at.exception
    return at


def test_the_audit_log_lists_changes_and_refusals_with_filters(make: Any, uow_factory: Any) -> None:
    analyst, target = make.user("analyst"), make.user("investor")
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        users.set_role(analyst, uow, target.user_id, "admin")
    at = admin_on(make, "pages/admin_audit.py", "Audit log")
    [who] = [t for t in at.text_input if t.label == "Who"]
    who.input(analyst.username).run()
    [outcome] = [s for s in at.selectbox if s.label == "Outcome"]
    outcome.select("refused").run()
    assert not at.exception
    rows = at.dataframe[0].value
    assert list(rows["Who"]) == [analyst.username]
    assert list(rows["Action"]) == ["user.set_role"] and list(rows["Outcome"]) == ["refused"]
    assert list(rows["Object"]) == [f"User {target.username}"], "the object by its name"
    assert "may not" in rows["Reason"].iloc[0]
    assert list(rows["Before"]) == [""] and list(rows["After"]) == [""], "nothing changed: empty, not None"
    assert unreadable(at) == []

    [who] = [t for t in at.text_input if t.label == "Who"]
    who.input("").run()
    [outcome] = [s for s in at.selectbox if s.label == "Outcome"]
    outcome.select("ok").run()
    [kind] = [s for s in at.selectbox if s.label == "Object"]
    kind.select("user").run()
    [object_id] = [t for t in at.text_input if t.label == "Object id"]
    object_id.input(str(target.user_id)).run()
    rows = at.dataframe[0].value
    assert list(rows["Action"]) == ["user.create"]
    after = rows["After"].iloc[0]
    assert f"Username: {target.username}" in after and "Role: investor" in after, after
    assert "{" not in after and "'" not in after, "readable fields, not a Python dict"
    assert unreadable(at) == []
    assert any(d.proto.label == "These rows as CSV" for d in at.get("download_button"))


def test_operations_health_shows_failures_and_retries_them(make: Any, uow_factory: Any) -> None:
    from core import bootstrap

    pool_id, manager = make.pool(status="closed", name=HOSTILE)
    with uow_factory() as uow:
        op = Operation(
            kind="valuation",
            pool_id=pool_id,
            actor_id=manager.user_id,
            payload={
                "company_id": 0,
                "value": "1",
                "change": "1",
                "date": str(date.today()),
                "note": "x",
                "upto_journal": 0,
            },
            idempotency_key=f"health-app-{pool_id}",
            progress_total=1,
        )
        uow.session.add(op)
        uow.commit()
        failing = str(op.id)
    assert (
        operations.process(failing, bootstrap.unit_of_work) == "failed"
    )  # nobody has paid in: nothing to mark

    at = admin_on(make, "pages/admin_operations.py", "Operations health")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["PostgreSQL"] == "Up" and metrics["Redis"] == "Up"
    captions = [c.value for c in at.caption]
    assert any("answered in" in c and " ms" in c for c in captions), "a latency says its unit"
    assert not any("postgresql://" in c or "redis://" in c or "@" in c for c in captions), "no URL, no secret"
    assert any("PostgreSQL configured, host" in c or "PostgreSQL embedded" in c for c in captions), captions
    failed = at.dataframe[-1].value
    assert list(failed.columns) == ["Operation", "Pool", "Attempts", "Reason", "Failed at"]
    [reason] = list(failed[failed["Operation"] == "Valuation"]["Reason"])
    assert "nobody had paid in" in reason
    assert failing not in " ".join(str(v) for v in failed.to_numpy().ravel()), "no operation UUIDs"
    assert unreadable(at) == []
    [picker] = [s for s in at.selectbox if s.label == "Failed operation"]
    [option] = [o for o in picker.options if o.startswith("Valuation for ")]
    assert failing not in option
    picker.select_index(picker.options.index(option)).run()
    [retry] = [b for b in at.button if b.label == "Retry it"]
    at = retry.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [said] = [s.value for s in at.success]
    assert "pending again" in said and failing not in said
    assert md(HOSTILE) in said and "https://" not in said, "a pool's name is inert text, no link"
    with uow_factory() as uow:
        assert (
            uow.session.execute(
                text("SELECT status FROM operations WHERE id = :id"), {"id": failing}
            ).scalar_one()
            == "pending"
        )
        assert (
            uow.session.execute(
                select(AuditLog.action)
                .where(AuditLog.object_id == failing)
                .order_by(AuditLog.id.desc())
                .limit(1)
            ).scalar_one()
            == "operation.retry"
        )
