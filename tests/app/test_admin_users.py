"""The admin's Users page, from Home.py: create a user (temporary password shown once) and log in as
them; change a role and watch their navigation change; KYC, unlock, deactivate; and the last admin
cannot be removed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from app.webapp import PAGES
from core.permissions import Actor
from core.services import users
from tests.platform_seed import unreadable, use_database

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"  # the Factory's default
TIMEOUT = 60


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real bcrypt at the lowest cost (the app runs in this process, so it verifies these hashes too)."""
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def log_in(username: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def registered(at: AppTest) -> list[str]:
    paths = [info.get("script_path") for info in at._registered_pages.values()]
    return [Path(str(p)).resolve().relative_to(ROOT).as_posix() for p in paths if p]


def reload(at: AppTest) -> AppTest:
    """A request for the app's root URL, through the router. (A plain AppTest.run() reruns only the
    last page's file, which no browser request does once st.navigation is in use.)"""
    at._page_hash = at._finished_page_script_hash = ""
    return at.run()


def widget(elements: Any, label: str) -> Any:
    [found] = [e for e in elements if e.label == label]
    return found


def button(at: AppTest, label: str) -> Any:
    return widget(at.button, label)


def choose_user(at: AppTest, username: str) -> AppTest:
    """Search for the user, then choose them: the one user listed (nothing is chosen for you)."""
    at = at.text_input(key="search").input(username).run()
    picker = at.selectbox(key="chosen-user")
    assert [o.split(" (")[0] for o in picker.options] == [username]
    if picker.value is not None:  # chosen before, and still listed: the choice stays
        return at
    return picker.select_index(0).run()


def deactivate(at: AppTest) -> AppTest:
    """Deactivating asks first; the question says what it does; only the answer acts."""
    at = button(at, "Deactivate").click().run()
    assert any("cannot sign in until an admin reactivates them" in w.value for w in at.warning), [
        w.value for w in at.warning
    ]
    return at.button(key="deactivate-yes").click().run()


def test_admin_creates_a_user_who_logs_in_with_the_temporary_password(make: Any) -> None:
    admin = make.user("admin")
    at = log_in(admin.username)
    assert [t.value for t in at.title] == ["Users"] and not at.exception
    username = f"new{admin.user_id}analyst"
    at.text_input(key="new-username").input(username)
    at.text_input(key="new-name").input("Nadia New")
    at.text_input(key="new-email").input(f"{username}@example.com")
    at.selectbox(key="new-role").select("analyst")
    at.selectbox(key="new-kyc").select("approved")
    at = button(at, "Create").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(username in s.value and "shown only once" in s.value for s in at.success)
    [shown] = at.code
    temporary = shown.value
    assert len(temporary) >= 12
    at.run()  # any rerun: the password is gone from the page
    assert not at.code and temporary not in str([m.value for m in at.markdown])
    assert username in set(at.dataframe[0].value["Username"])

    newcomer = log_in(username, temporary)
    assert not newcomer.exception
    assert registered(newcomer) == [spec.path for spec in PAGES["analyst"]]
    assert [t.value for t in newcomer.title] == ["Explorer"]


def test_a_role_change_changes_their_navigation(make: Any) -> None:
    admin = make.user("admin")
    person = make.user("investor")
    theirs = log_in(person.username)
    assert registered(theirs) == [spec.path for spec in PAGES["investor"]]

    at = log_in(admin.username).text_input(key="search").input(person.username).run()
    assert at.selectbox(key="chosen-user").value is None, "nothing is chosen until the admin chooses"
    assert any(c.value == "Choose a user to change their role, KYC or access." for c in at.caption)
    at = choose_user(at, person.username)
    at.selectbox(key=f"role-{person.user_id}").select("analyst")
    at = button(at, "Set role").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any(f"{person.username} is now analyst" in s.value for s in at.success)

    reload(theirs)  # their next request
    assert not theirs.exception
    assert theirs.session_state["actor"].role == "analyst"
    assert registered(theirs) == [spec.path for spec in PAGES["analyst"]]
    assert [t.value for t in theirs.title] == ["Explorer"]


def test_kyc_unlock_and_deactivate(make: Any, uow_factory: Any) -> None:
    admin = make.user("admin")
    person = make.user("investor", kyc="pending", accreditation="none")
    with uow_factory() as uow:
        uow.session.execute(
            text(
                "UPDATE users SET locked_until = now() + interval '10 minutes', failed_logins = 5 "
                "WHERE id = :id"
            ),
            {"id": person.user_id},
        )
        uow.commit()
    at = choose_user(log_in(admin.username), person.username)
    assert [i.value for i in at.info] == [
        f"1 investor waiting for KYC approval: {person.username}. Choose one below and set their KYC once "
        "their documents are checked."
    ]
    assert list(at.dataframe[0].value["Standing"]) == ["KYC pending, not accredited"]
    [access] = list(at.dataframe[0].value["Access"])
    assert access.startswith("locked until ") and access.endswith(" UTC, 5 failed sign-ins"), access
    at.selectbox(key=f"kyc-{person.user_id}").select("approved")
    at.selectbox(key=f"acc-{person.user_id}").select("qualified_purchaser")
    at = button(at, "Set KYC").click().run()
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == [f"{person.username}: KYC approved, qualified purchaser."]
    at = choose_user(at, person.username)
    at = button(at, "Unlock").click().run()
    at = choose_user(at, person.username)
    [standing] = list(at.dataframe[0].value["Standing"])
    assert standing == "KYC approved, qualified purchaser"
    assert list(at.dataframe[0].value["Access"]) == ["active"], "unlocked, the count starts again"
    assert unreadable(at) == []
    at = deactivate(at)
    assert not at.error, [e.value for e in at.error]
    assert any(
        s.value.endswith("is deactivated: they are signed out and cannot sign in.") for s in at.success
    )
    with uow_factory() as uow:
        row = uow.session.execute(
            text("SELECT kyc_status, accreditation, locked_until, active FROM users WHERE id = :id"),
            {"id": person.user_id},
        ).one()
    assert tuple(row) == ("approved", "qualified_purchaser", None, False)
    assert log_in(person.username).session_state["actor"] is None, "a deactivated user cannot log in"


@pytest.fixture
def lonely_app(fresh_database: str) -> Iterator[None]:
    """The app on a database of its own, where "the last admin" is knowable."""
    with use_database(fresh_database):
        yield


def test_the_last_admin_cannot_be_demoted_or_deactivated(lonely_app: None) -> None:
    from core import bootstrap

    with bootstrap.unit_of_work() as uow:
        admin_id, _ = users.create_user(
            Actor.system(),
            uow,
            "only-admin",
            name="Only Admin",
            email="only@example.com",
            role="admin",
            password=PASSWORD,
        )
    at = choose_user(log_in("only-admin"), "only-admin")
    at.selectbox(key=f"role-{admin_id}").select("investor")
    at = button(at, "Set role").click().run()
    assert [e.value for e in at.error] == ["the last active admin cannot be demoted"]
    at = deactivate(at)
    assert [e.value for e in at.error] == ["the last active admin cannot be deactivated"]
    reload(at)
    assert at.session_state["actor"] == Actor(admin_id, "admin", "only-admin")
    assert registered(at) == [spec.path for spec in PAGES["admin"]]
    with bootstrap.unit_of_work() as uow:
        refusals = (
            uow.session.execute(
                text("SELECT action FROM audit_log WHERE outcome = 'refused' AND actor_id = :a ORDER BY id"),
                {"a": admin_id},
            )
            .scalars()
            .all()
        )
    assert refusals == ["user.set_role", "user.set_active"]


def test_a_change_made_in_another_tab_is_refused_not_overwritten(make: Any, uow_factory: Any) -> None:
    """The admin form carries the user's version: a change made since (another admin, another tab)
    is refused with a message, and the other change stands."""
    from core.errors import Stale
    from core.services import users as user_service

    admin = make.user("admin")
    person = make.user("investor")
    with uow_factory() as uow:
        shown = next(
            u for u in user_service.list_users(admin, uow, person.username) if u.id == person.user_id
        )
    with uow_factory() as uow:
        user_service.set_kyc_status(admin, uow, person.user_id, "rejected", version=shown.version)
    with uow_factory() as uow, pytest.raises(Stale, match="changed since the page was shown"):
        user_service.set_role(admin, uow, person.user_id, "analyst", version=shown.version)
    with uow_factory() as uow:
        now = next(u for u in user_service.list_users(admin, uow, person.username) if u.id == person.user_id)
    assert (now.role, now.kyc_status, now.version) == ("investor", "rejected", shown.version + 1)
