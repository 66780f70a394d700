"""Notices and wire instructions across the pages (AppTest from Home.py, real services and database):
the manager's pool form (wire instructions and reminders: every refused field by its label, nothing
written; a pool changed since is stale), the investor's Capital calls page (where to wire and the
reference), the Capital calls and Distributions pages (who was notified, a reissue asked first), the
investor's pool detail (the pool's documents, none of another pool's) and the admin's Operations
health page (mail off, a failed notice sent again)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select, text

from app import manager_ui
from core import bootstrap, clock
from core.services import documents, notices, users
from db.models import CapitalCall, Distribution, Notice, Pool
from tests.app.manager_support import (
    Fund,
    deferred_downloads,
    errors,
    goto,
    logged_in,
    question,
    successes,
)
from tests.platform_seed import unreadable

POOL_FORM = "pages/manager_pool_form.py"
CALLS = "pages/manager_calls.py"
DISTRIBUTIONS = "pages/manager_distributions.py"
INVESTOR_CALLS = "pages/investor_capital_calls.py"
POOL_DETAIL = "pages/investor_pool_detail.py"
OPERATIONS = "pages/admin_operations.py"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
GOOD_WIRE = {
    "Bank name": "First Harbor Bank",
    "Account name": "Harbor Fund I LP",
    "IBAN or account number": "de89 3704 0044 0532 0130 00",
    "SWIFT/BIC or routing number": "COBADEFFXXX",
}


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def render_all() -> None:
    """Render every pending notice, as the workers' render job does."""
    while True:
        with bootstrap.unit_of_work() as uow:
            batch = notices.render_pending(uow)
            uow.commit()
        if not batch.count:
            return


def field(at: Any, label: str) -> Any:
    [found] = [t for t in at.text_input if t.label == label]
    return found


def submit(at: Any, button: str, values: dict[str, str]) -> Any:
    for label, value in values.items():
        field(at, label).input(value)
    [pressed] = [b for b in at.button if b.label == button]
    at = pressed.click().run()
    assert not at.exception, at.exception
    return at


def pool_row(pool_id: int) -> Any:
    with bootstrap.unit_of_work() as uow:
        row = uow.session.execute(select(Pool).where(Pool.id == pool_id)).scalar_one()
        uow.session.expunge(row)
        return row


def call_id(pool_id: int, number: int = 1) -> int:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(CapitalCall.id).where(CapitalCall.pool_id == pool_id, CapitalCall.number == number)
        ).scalar_one()


def table_with(at: Any, column: str) -> Any:
    found = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def test_wire_instructions_are_refused_by_field_then_saved_and_shown_to_the_investor(make: Any) -> None:
    fund = Fund(make, age=40)
    fund.call("10", fund.day(30))
    before = pool_row(fund.pool_id)
    at = goto(logged_in(fund.manager.username), POOL_FORM, edit_pool_id=fund.pool_id)
    assert "Wire instructions" in [s.value for s in at.subheader]

    # Four mistakes at once (the names left empty): each under its field, by its label; nothing is written.
    at = submit(
        at,
        "Save wire instructions",
        {
            "Bank name": "",
            "IBAN or account number": "DE89 3704 0044 0532 0130 01",
            "SWIFT/BIC or routing number": "COBAD",
        },
    )
    shown = errors(at)
    assert "Nothing was saved: 4 fields to correct, each shown below it." in shown
    assert {"Bank name is required", "Account name is required"} <= set(shown), shown
    assert any(e.startswith("IBAN or account number is not a valid IBAN: its check digits") for e in shown)
    assert any(e.startswith("SWIFT/BIC or routing number is not a SWIFT/BIC") for e in shown)
    after = pool_row(fund.pool_id)
    assert (after.version, after.wire_account_number, after.wire_bank_code) == (before.version, None, None)
    # What was typed stays in the form, to be corrected.
    assert field(at, "IBAN or account number").value == "DE89 3704 0044 0532 0130 01"

    at = submit(at, "Save wire instructions", GOOD_WIRE)
    assert not errors(at), errors(at)
    assert any(s.startswith("Wire instructions of ") and "saved" in s for s in successes(at)), successes(at)
    saved = pool_row(fund.pool_id)
    assert (saved.wire_account_number, saved.wire_bank_code, saved.version) == (
        "DE89370400440532013000",
        "COBADEFFXXX",
        before.version + 1,
    )
    assert field(at, "IBAN or account number").value == "DE89 3704 0044 0532 0130 00"  # as saved

    # The investor sees where to wire and the reference naming them and the call.
    ivy = fund.investors[0]
    item = fund.items(1)[0]
    investor = goto(logged_in(ivy.username), INVESTOR_CALLS)
    with bootstrap.unit_of_work() as uow:
        reference = notices.payment_instructions(ivy, uow, item.id).wire.reference
    assert reference == f"IP{fund.pool_id}-{ivy.user_id}-1"
    page = "\n".join(m.value for m in investor.markdown)
    for shown_value in (
        "First Harbor Bank",
        "Harbor Fund I LP",
        "DE89 3704 0044 0532 0130 00",
        "COBADEFFXXX",
    ):
        assert shown_value in page, shown_value
    assert f"**{reference}**" in page
    assert "How to pay" in [s.value for s in investor.subheader]
    assert unreadable(investor) == []


def test_a_pool_changed_since_the_form_was_shown_is_refused_as_stale(make: Any) -> None:
    fund = Fund(make, age=40)
    at = goto(logged_in(fund.manager.username), POOL_FORM, edit_pool_id=fund.pool_id)
    with bootstrap.unit_of_work() as uow:  # another tab saves reminders meanwhile
        notices.set_reminders(fund.manager, uow, fund.pool_id, days_before="3", overdue_every_days="")
    changed = pool_row(fund.pool_id)
    at = submit(at, "Save wire instructions", GOOD_WIRE)
    assert any("changed since the page was shown" in e for e in errors(at)), errors(at)
    assert pool_row(fund.pool_id).wire_account_number is None
    # The form now shows the pool as it is; saving again works.
    assert field(at, "Reminders before the due date (days)").value == "3"
    at = submit(at, "Save wire instructions", GOOD_WIRE)
    assert not errors(at) and pool_row(fund.pool_id).version == changed.version + 1


def test_reminder_intervals_are_refused_by_label_then_saved(make: Any) -> None:
    fund = Fund(make, age=40)
    at = goto(logged_in(fund.manager.username), POOL_FORM, edit_pool_id=fund.pool_id)
    assert field(at, "Reminders before the due date (days)").value == "7, 1"
    assert field(at, "Overdue reminders every (days)").value == "7"
    at = submit(
        at,
        "Save reminders",
        {"Reminders before the due date (days)": "0, 100", "Overdue reminders every (days)": "weekly"},
    )
    shown = errors(at)
    assert "Nothing was saved: 2 fields to correct, each shown below it." in shown
    assert any(e.startswith("Reminders before the due date (days) must be whole numbers") for e in shown)
    assert any(e.startswith("Overdue reminders every (days) ") for e in shown), shown
    assert pool_row(fund.pool_id).reminder_days_before == [7, 1]
    at = submit(
        at,
        "Save reminders",
        {"Reminders before the due date (days)": "2, 5", "Overdue reminders every (days)": ""},
    )
    assert successes(at) == [
        "Reminders saved: reminders 5 and 2 day(s) before the due date, none once overdue."
    ]
    saved = pool_row(fund.pool_id)
    assert (saved.reminder_days_before, saved.overdue_reminder_days) == ([5, 2], None)


def notified_table(at: Any) -> Any:
    return table_with(at, "Emailed (UTC)")


def test_the_manager_sees_who_was_notified_of_a_call_and_reissues_a_notice(make: Any) -> None:
    fund = Fund(make, age=40)
    fund.call("10", fund.day(30), purpose="Series A in Acme")
    names = sorted(f"Test {person.username}" for person in fund.investors)
    at = goto(logged_in(fund.manager.username), CALLS, manager_pool_id=fund.pool_id)
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert "Who was notified of Capital call 1 (Series A in Acme)" in "\n".join(m.value for m in at.markdown)
    table = notified_table(at)
    assert sorted(table["Investor"]) == names
    assert set(table["Status"]) == {"Being prepared"}  # written with the call, not rendered yet

    render_all()
    at.run()
    table = notified_table(at)
    assert set(zip(table["Notice"], table["Status"], strict=True)) == {
        ("Capital call notice", "In the app only")
    }
    assert any(c.startswith("3 notices: 3 in the app only; 0 opened") for c in (x.value for x in at.caption))
    assert unreadable(at) == []

    # Reissue Ivy's notice: asked first, then a new notice (the next version) with the note.
    ivy = fund.investors[0]
    with bootstrap.unit_of_work() as uow:
        original = uow.session.execute(
            select(Notice.id).where(
                Notice.call_id == call_id(fund.pool_id), Notice.investor_id == ivy.user_id
            )
        ).scalar_one()
    [picker] = [s for s in at.selectbox if s.label == "Notice"]
    at = picker.select(original).run()
    field(at, "Note").input("Corrected wire instructions")
    at.run()
    key = picker.key.removesuffix("-notice")
    asked = question(at, key)
    assert (
        f"Reissue the capital call notice to Test {ivy.username}" in asked and "cannot be withdrawn" in asked
    )
    with bootstrap.unit_of_work() as uow:
        assert uow.session.execute(select(Notice.id).where(Notice.reissue_of == original)).first() is None
    at = at.button(key=f"{key}-yes").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("is reissued with your note" in s for s in successes(at)), successes(at)
    with bootstrap.unit_of_work() as uow:
        copy = uow.session.execute(select(Notice).where(Notice.reissue_of == original)).scalar_one()
        assert (copy.note, copy.investor_id) == ("Corrected wire instructions", ivy.user_id)
    # The form starts empty again; the reissue is listed with its note once rendered.
    render_all()
    at.run()
    [picker] = [s for s in at.selectbox if s.label == "Notice"]
    assert picker.value is None and field(at, "Note").value == ""
    table = notified_table(at)
    assert list(table[table["Note"] == "Corrected wire instructions"]["Investor"]) == [f"Test {ivy.username}"]


def test_a_long_list_of_notices_is_searched_not_shown_whole(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond manager_ui.NOTICES_LISTED notices (2 here, for 3 investors): every notice counted, the
    first ones by name listed and offered for a reissue, and a search by name finds any other."""
    monkeypatch.setattr(manager_ui, "NOTICES_LISTED", 2)
    fund = Fund(make, age=40)
    fund.call("10", fund.day(30), purpose="Series A in Acme")
    names = sorted(f"Test {person.username}" for person in fund.investors)
    at = goto(logged_in(fund.manager.username), CALLS, manager_pool_id=fund.pool_id)
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert any(c.startswith("3 notices: 3 being prepared") for c in (x.value for x in at.caption))
    assert "The first 2 by investor name: find an investor by name or email for the others." in [
        c.value for c in at.caption
    ]
    assert list(notified_table(at)["Investor"]) == names[:2]
    [picker] = [s for s in at.selectbox if s.label == "Notice"]
    assert [label.split(":")[0] for label in picker.options] == names[:2]

    last = names[2].removeprefix("Test ")
    field(at, "Find an investor").input(last.upper())
    at.run()
    assert not at.exception, at.exception
    assert list(notified_table(at)["Investor"]) == [names[2]]
    assert f"1 notice matching “{last.upper()}”." in [c.value for c in at.caption]
    [picker] = [s for s in at.selectbox if s.label == "Notice"]
    assert [label.split(":")[0] for label in picker.options] == [names[2]]


def test_the_distributions_page_says_who_was_notified_of_each(make: Any) -> None:
    fund = Fund(make, age=60)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(20))
    fund.distribute(fund.day(40), "60000", memo="First proceeds")
    render_all()
    at = goto(logged_in(fund.manager.username), DISTRIBUTIONS, manager_pool_id=fund.pool_id)
    with bootstrap.unit_of_work() as uow:
        distribution = uow.session.execute(
            select(Distribution.id).where(Distribution.pool_id == fund.pool_id)
        ).scalar_one()
    [picker] = [s for s in at.selectbox if s.label == "Distribution"]
    assert picker.value == distribution
    table = notified_table(at)
    assert sorted(table["Investor"]) == sorted(f"Test {p.username}" for p in fund.investors)
    assert set(table["Notice"]) == {"Distribution notice"}
    assert unreadable(at) == []


def test_the_pool_detail_lists_its_documents_and_none_of_another_pool(make: Any) -> None:
    fund = Fund(make, age=40)
    fund.call("10", fund.day(30))
    render_all()
    ivy = fund.investors[0]
    other_pool, other_manager = make.pool(name="Other Fund")
    make.commitment(other_pool, ivy, "50000", accept_as=other_manager)
    with bootstrap.unit_of_work() as uow:
        documents.upload(
            fund.manager,
            uow,
            fund.pool_id,
            kind="agreement",
            title="Harbor LPA",
            filename="lpa.pdf",
            data=PDF,
        )
    with bootstrap.unit_of_work() as uow:
        documents.upload(
            other_manager, uow, other_pool, kind="report", title="Other report", filename="r.pdf", data=PDF
        )
    at = goto(logged_in(ivy.username), POOL_DETAIL, investor_pool_id=fund.pool_id)
    assert not at.exception, at.exception
    listed = table_with(at, "Document")
    assert sorted(zip(listed["Document"], listed["For"], strict=True)) == [
        ("Capital call 1 notice: " + pool_row(fund.pool_id).name, "You"),
        ("Harbor LPA", "All investors"),
    ]
    assert "No documents have been shared" not in "\n".join(c.value for c in at.caption)
    # Downloading one reads it from the vault (and audits it).
    with bootstrap.unit_of_work() as uow:
        lpa = next(d for d in documents.visible(ivy, uow, pool_id=fund.pool_id) if d.title == "Harbor LPA")
    with deferred_downloads() as downloads:
        at.selectbox(key=f"pool-document-{fund.pool_id}").select(lpa.id).run()
    [button] = at.get("download_button")
    assert downloads[button.proto.deferred_file_id]() == PDF
    # The other pool's page lists its own report only.
    at = goto(at, POOL_DETAIL, investor_pool_id=other_pool)
    at.query_params["pool"] = str(other_pool)
    at.run()
    assert list(table_with(at, "Document")["Document"]) == ["Other report"]


def test_operations_health_says_mail_is_off_and_sends_a_failed_notice_again(make: Any) -> None:
    fund = Fund(make, age=40)
    fund.call("10", fund.day(30))
    render_all()
    ivy = fund.investors[0]
    with bootstrap.unit_of_work() as uow:
        failing = uow.session.execute(
            select(Notice.id).where(
                Notice.call_id == call_id(fund.pool_id), Notice.investor_id == ivy.user_id
            )
        ).scalar_one()
        uow.session.execute(
            text(
                "UPDATE notices SET status = 'failed', attempts = 4, last_error = '550 mailbox unavailable' "
                "WHERE id = :id"
            ),
            {"id": failing},
        )
        uow.commit()
    admin = make.user("admin")
    at = goto(logged_in(admin.username), OPERATIONS)
    assert "Mail and notices" in [s.value for s in at.subheader]
    assert any(i.value.startswith("Mail is off (no SMTP_HOST)") for i in at.info)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Failed"]) >= 1
    failed = table_with(at, "Tries")
    [reason] = list(failed[failed["Investor"] == f"Test {ivy.username}"]["Reason"])
    assert reason == "550 mailbox unavailable"
    [picker] = [s for s in at.selectbox if s.label == "Failed notice"]
    at = picker.select(failing).run()
    at = at.button(key=f"retry-notice-{failing}").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("goes round again" in s for s in successes(at)), successes(at)
    with bootstrap.unit_of_work() as uow:
        status, attempts = uow.session.execute(
            select(Notice.status, Notice.attempts).where(Notice.id == failing)
        ).one()
    assert (status, attempts) == ("ready", 0)


def test_statement_import_matches_a_line_by_its_reference_on_the_calls_page(make: Any) -> None:
    fund = Fund(make, age=40)
    fund.call("10", clock.today() - timedelta(days=2))
    first = fund.items(1)[0]
    with bootstrap.unit_of_work() as uow:
        reference = notices.payment_instructions(fund.manager, uow, first.id).wire.reference
    at = goto(logged_in(fund.manager.username), CALLS, manager_pool_id=fund.pool_id)
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    uploader = at.get("file_uploader")[0]
    uploader.set_value(
        (
            "statement.csv",
            f"amount,reference,received_on\n100.00,WIRE ACME {reference} THANKS,{clock.today()}\n".encode(),
            "text/csv",
        )
    )
    at.run()
    assert not errors(at), errors(at)
    lines = table_with(at, "Matched by")
    assert list(zip(lines["Investor"], lines["Matched by"], strict=True)) == [
        (f"Test {fund.investors[0].username}", "reference")
    ]
