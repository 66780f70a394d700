"""Delivery by email, durable and exactly once: real workers (`python -m core worker`, RQ's forking
worker with its scheduler and the sweeper thread), a real SMTP server on loopback, and faults: a
worker killed in the middle of an SMTP conversation, Redis flushed, a recipient the server refuses.

Each test has a database of its own (fresh_database), so the workers' sweeper sees only its notices;
the call is posted in-process and everything after it (rendering, sending, retries, re-enqueueing
what was lost) is the workers' doing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core import clock, mail, operations
from core.errors import PermissionDenied
from core.permissions import Actor
from core.services import calls, notices, pools
from core.settings import SettingsError, load_settings
from db.models import CallItem, Notice, User
from tests.conftest import Factory
from tests.mailserver import MailServer, mail_server, pdf_text
from tests.workers import running_workers, unique_queue_name, uow_factory_for, wait_until

TODAY = date.today()


def issued_call(make: Factory, investors: int) -> tuple[int, Any, list[Any]]:
    """A closed pool with `investors` investors and one capital call of 10%, posted in-process: its
    notices wait in the outbox for a worker."""
    with clock.travel(TODAY - timedelta(days=30)):
        pool_id, manager = make.pool(hard_cap="5000000")
        people = [make.commitment(pool_id, amount="100000", accept_as=manager)[1] for _ in range(investors)]
        with make.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
        with make.uow_factory() as uow:
            # Due in five weeks: no reminder or overdue notice comes due while the test runs.
            request = {
                "percent": "10",
                "purpose": "Series A",
                "due_date": (TODAY + timedelta(days=35)).isoformat(),
            }
            command = calls.preview(manager, uow, pool_id, request).command
            status = calls.issue(manager, uow, command)
        assert operations.process(str(status.id), make.uow_factory) == "done"
    return pool_id, manager, people


def statuses(uow_factory: Callable[[], Any], pool_id: int) -> dict[int, tuple[str, int]]:
    """Each investor's capital call notice: its status and tries (the pool has no other notices)."""
    with uow_factory() as uow:
        rows = uow.session.execute(
            select(Notice.investor_id, Notice.kind, Notice.status, Notice.attempts).where(
                Notice.pool_id == pool_id
            )
        ).all()
    assert {row.kind for row in rows} == {"capital_call"}
    return {row.investor_id: (row.status, row.attempts) for row in rows}


def email_of(uow_factory: Callable[[], Any], person: Actor) -> str:
    with uow_factory() as uow:
        return uow.session.execute(select(User.email).where(User.id == person.user_id)).scalar_one()


def worker_settings(server: MailServer, database_url: str, **more: Any) -> dict[str, Any]:
    return {"DATABASE_URL": database_url, "QUEUE_NAME": unique_queue_name(), **server.env(), **more}


def test_a_worker_killed_mid_send_and_a_flushed_redis_still_deliver_each_notice_exactly_once(
    fresh_database: str, redis_client: Any
) -> None:
    uow_factory = uow_factory_for(fresh_database)
    make = Factory(uow_factory)
    pool_id, _, people = issued_call(make, investors=6)
    with uow_factory() as uow:
        due = dict(
            uow.session.execute(
                select(CallItem.investor_id, CallItem.amount_due).join(
                    Notice, Notice.call_item_id == CallItem.id
                )
            ).all()
        )
    with mail_server() as server:
        server.hold(3)  # the third message: the worker is frozen mid-conversation, then killed
        settings = worker_settings(server, fresh_database, MAIL_RETRY_SECONDS="1,1,1")
        with running_workers(1, **settings) as workers:
            wait_until(server.handler.held.is_set, 60, what=workers.logs)
            assert len(server.received) == 2
            workers.kill(workers.procs[0])
            redis_client.flushdb()  # every queued send job is gone with it
            server.handler.release.set()  # the server answers 451 to nobody: message 3 was not delivered
            assert [status for status, _ in statuses(uow_factory, pool_id).values()].count("sent") == 2
            workers.start(1)
            wait_until(
                lambda: {s for s, _ in statuses(uow_factory, pool_id).values()} == {"sent"},
                90,
                what=workers.logs,
            )
        # Exactly once each: the killed try was never accepted, and nothing was sent twice.
        assert len(server.received) == 6
        for person in people:
            [received] = server.to(email_of(uow_factory, person))
            [(_, content)] = received.pdfs()
            shown = pdf_text(content)
            assert f"${due[person.user_id]:,.2f}" in shown
            assert f"IP{pool_id}-{person.user_id}-1" in shown
        assert set(statuses(uow_factory, pool_id).values()) == {("sent", 1)}
        assert len({r.message["Message-ID"] for r in server.received}) == 6


def test_a_refused_recipient_is_retried_then_failed_shown_on_the_health_page_and_sent_when_retried(
    fresh_database: str, environment: Callable[..., None]
) -> None:
    uow_factory = uow_factory_for(fresh_database)
    make = Factory(uow_factory)
    pool_id, manager, people = issued_call(make, investors=3)
    refused = email_of(uow_factory, people[1])
    admin = make.user("admin")
    with mail_server() as server:
        server.refuse(refused)
        environment(**server.env())  # this process's health page reads the same mail settings
        settings = worker_settings(server, fresh_database, MAIL_RETRY_SECONDS="1,1")
        with running_workers(1, **settings) as workers:
            wait_until(
                lambda: statuses(uow_factory, pool_id).get(people[1].user_id, ("", 0))[0] == "failed",
                90,
                what=workers.logs,
            )
            assert server.refused_tries(refused) == 3  # the first try and two retries, with backoff
            assert statuses(uow_factory, pool_id)[people[1].user_id] == ("failed", 3)
            with uow_factory() as uow:
                health = notices.delivery(admin, uow)
                notified = notices.notified(manager, uow, call_id=_call_of(uow, pool_id))
            [failed] = health.failures
            assert (failed.investor_name, failed.recipient, failed.attempts) == (
                _name(uow_factory, people[1]),
                refused,
                3,
            )
            assert failed.last_error == "recipient refused: 550 5.1.1 No such mailbox here"
            assert health.mail.on and (health.pending, health.ready, health.failed) == (0, 0, 1)
            assert {n.investor_id: n.status for n in notified}[people[1].user_id] == "failed"
            # The mailbox exists now: an admin sends it round again, and it goes, once.
            server.refuse()
            with uow_factory() as uow, pytest.raises(PermissionDenied):
                notices.retry(people[0], uow, failed.id)
            with uow_factory() as uow:
                notices.retry(admin, uow, failed.id)
            wait_until(
                lambda: statuses(uow_factory, pool_id)[people[1].user_id] == ("sent", 1),
                60,
                what=workers.logs,
            )
        assert len(server.to(refused)) == 1 and len(server.received) == 3


def _call_of(uow: Any, pool_id: int) -> int:
    return uow.session.execute(select(Notice.call_id).where(Notice.pool_id == pool_id).limit(1)).scalar_one()


def _name(uow_factory: Callable[[], Any], person: Actor) -> str:
    with uow_factory() as uow:
        return uow.session.execute(select(User.name).where(User.id == person.user_id)).scalar_one()


# --- settings ---------------------------------------------------------------------------------------


def test_mail_settings_keep_the_password_out_of_sight_and_refuse_what_cannot_work() -> None:
    config = load_settings(
        {
            "SMTP_HOST": "smtp.example.com",
            "SMTP_USER": "fund",
            "SMTP_PASSWORD": "s3cr3t-Pa55",
            "MAIL_FROM": "f@x.io",
        }
    )
    assert (config.smtp_port, config.smtp_tls, config.mail_retry_seconds) == (
        587,
        "starttls",
        (30, 120, 600, 1800),
    )
    assert "s3cr3t-Pa55" not in repr(config)
    config.check()
    assert load_settings({"SMTP_TLS": "ssl"}).smtp_port == 465
    assert load_settings({"SMTP_TLS": "off"}).smtp_port == 25
    with pytest.raises(SettingsError, match="SMTP_TLS"):
        load_settings({"SMTP_TLS": "sometimes"}).check()
    with pytest.raises(SettingsError, match="MAIL_FROM"):
        load_settings({"SMTP_HOST": "smtp.example.com"}).check()
    with pytest.raises(SettingsError, match="MAIL_RETRY_SECONDS"):
        load_settings({"MAIL_RETRY_SECONDS": "10,soon"})


def test_mail_status_says_where_mail_goes_or_that_it_is_off(environment: Callable[..., None]) -> None:
    assert not mail.status().on and "off" in mail.status().detail
    environment(
        SMTP_HOST="smtp.example.com", SMTP_USER="fund", SMTP_PASSWORD="s3cr3t-Pa55", MAIL_FROM="f@x.io"
    )
    shown = mail.status()
    assert shown.on and "smtp.example.com:587" in shown.detail and "STARTTLS" in shown.detail
    assert "s3cr3t" not in shown.detail and "fund" not in shown.detail.split("from")[0]


def test_a_server_that_does_not_answer_is_a_failure_for_now_not_for_good(
    environment: Callable[..., None],
) -> None:
    from tests.workers import free_port

    environment(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TLS="off", MAIL_FROM="f@x.io")
    message = mail.message(
        to_name="Ivy",
        to_address="ivy@example.com",
        subject="s",
        text="t",
        html=None,
        attachments=[],
        message_id="m1",
    )
    with pytest.raises(mail.SendFailed) as failed:
        mail.send(message)
    assert not failed.value.permanent and "ConnectionRefused" in failed.value.reason


def test_a_message_carries_its_attachment_and_no_header_can_be_smuggled_in(
    environment: Callable[..., None],
) -> None:
    environment(MAIL_FROM="Harbor Fund Services <notices@fund.example>")
    message = mail.message(
        to_name="Zoë\r\nBcc: x@evil.example",
        to_address="zoe@example.com",
        subject="Harbor Fund\nBcc: x@evil.example",
        text="Hello",
        html="<p>Hello</p>",
        attachments=[mail.Attachment("notice.pdf", "application/pdf", b"%PDF-1.4 x")],
        message_id="notice-1-abc",
    )
    assert message["Bcc"] is None
    assert message["Subject"] == "Harbor Fund Bcc: x@evil.example"
    assert message["To"].addresses[0].display_name == "Zoë Bcc x evil.example"
    assert message["From"].addresses[0].addr_spec == "notices@fund.example"
    assert message["Message-ID"] == "<notice-1-abc@fund.example>"
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("notice.pdf", b"%PDF-1.4 x")
