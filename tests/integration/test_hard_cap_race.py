"""The hard cap under a stampede: 50 managers' clicks at the same instant, room for 10.

Runs in a database of its own so the accepted total and `verify` see only this pool's books,
with the production engine settings (pool_size 10, SQLAlchemy's default overflow): 50 threads
compete for 20 connections and for one pool row lock, and must neither deadlock nor overshoot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import Engine, func, select, text

from core.errors import CapacityExceeded
from core.services import commitments, users
from core.uow import UnitOfWork
from core.verify import verify
from db.models import Commitment
from db.session import make_engine
from tests.conftest import Factory
from tests.workers import balances

D = Decimal
THREADS = 50
ROOM_FOR = 10
TICKET = D("100000")
HARD_CAP = TICKET * ROOM_FOR


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


@pytest.fixture
def engine(fresh_database: str) -> Iterator[Engine]:
    engine = make_engine(fresh_database)  # the app's own settings: pool_size 10, default max_overflow
    yield engine
    engine.dispose()


@pytest.fixture
def uow_here(engine: Engine) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(engine)


def race(
    uow_here: Callable[[], UnitOfWork], manager: Any, commitment_ids: list[int], amount: object = None
) -> tuple[list[Decimal], list[BaseException]]:
    barrier = threading.Barrier(len(commitment_ids), timeout=30)
    accepted: list[Decimal] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def accept(commitment_id: int) -> None:
        try:
            barrier.wait()
            with uow_here() as uow:
                value = commitments.accept_commitment(manager, uow, commitment_id, amount)
            with lock:
                accepted.append(value)
        except BaseException as exc:  # noqa: BLE001 - every outcome is counted below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=accept, args=(cid,), daemon=True) for cid in commitment_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    stuck = [t for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} threads still running after 90 s: deadlock or connection starvation"
    return accepted, errors


def totals(uow_here: Callable[[], UnitOfWork], pool_id: int) -> tuple[Decimal, Decimal, int, int]:
    with uow_here() as uow:
        accepted = commitments.accepted_total(uow, pool_id)
        booked = -sum(
            (
                amount
                for (account, _), amount in balances(uow.session, pool_id).items()
                if account == "commitment"
            ),
            D(0),
        )
        n_accepted = uow.session.execute(
            select(func.count()).where(Commitment.pool_id == pool_id, Commitment.status == "accepted")
        ).scalar_one()
        n_journals = uow.session.execute(
            text("SELECT count(*) FROM journals WHERE pool_id = :p AND kind = 'commitment'"), {"p": pool_id}
        ).scalar_one()
    return accepted, booked, n_accepted, n_journals


def test_fifty_simultaneous_accepts_fill_exactly_ten_places(uow_here: Callable[[], UnitOfWork]) -> None:
    make = Factory(uow_here)
    pool_id, manager = make.pool(
        target_size=str(HARD_CAP), hard_cap=str(HARD_CAP), min_ticket=str(TICKET), max_ticket=str(TICKET)
    )
    # Every one fits alone: nothing is accepted yet when they are submitted.
    ids = [make.commitment(pool_id, amount=str(TICKET))[0] for _ in range(THREADS)]

    accepted, errors = race(uow_here, manager, ids)

    unexpected = [e for e in errors if not isinstance(e, CapacityExceeded)]
    assert not unexpected, f"unexpected errors: {unexpected[:3]!r}"
    assert len(accepted) == ROOM_FOR
    assert len(errors) == THREADS - ROOM_FOR
    for error in errors:
        assert "would exceed the hard cap" in error.message
        assert error.message.endswith(" left") and "$" in error.message
    accepted_total, booked, n_accepted, n_journals = totals(uow_here, pool_id)
    assert accepted_total == HARD_CAP
    assert booked == HARD_CAP
    assert (n_accepted, n_journals) == (ROOM_FOR, ROOM_FOR)
    with uow_here() as uow:
        refusals = uow.session.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'commitment.accept' AND outcome = 'refused' "
                "AND reason LIKE '%would exceed the hard cap%'"
            )
        ).scalar_one()
        pending = uow.session.execute(
            select(func.count()).where(Commitment.pool_id == pool_id, Commitment.status == "pending")
        ).scalar_one()
        report = verify(uow.session)
    assert refusals == THREADS - ROOM_FOR
    assert pending == THREADS - ROOM_FOR, "refused acceptances leave the commitment pending, untouched"
    assert report.ok, report.summary()


def test_scale_downs_racing_for_the_last_room_never_overshoot(uow_here: Callable[[], UnitOfWork]) -> None:
    # Room for 10.5 tickets of the scaled-down size: exactly 10 fit, the half never does.
    make = Factory(uow_here)
    pool_id, manager = make.pool(
        target_size="1050000", hard_cap="1050000", min_ticket="50000", max_ticket="200000"
    )
    ids = [make.commitment(pool_id, amount="200000")[0] for _ in range(30)]

    accepted, errors = race(uow_here, manager, ids, amount="100000")

    assert all(isinstance(e, CapacityExceeded) for e in errors), errors[:3]
    assert len(accepted) == 10 and len(errors) == 20
    accepted_total, booked, _, _ = totals(uow_here, pool_id)
    assert accepted_total == booked == D("1000000")
    # The 50,000 left still goes to one more scale-down; after that the pool is full to the cent.
    with uow_here() as uow:
        pending = (
            uow.session.execute(
                select(Commitment.id)
                .where(Commitment.pool_id == pool_id, Commitment.status == "pending")
                .order_by(Commitment.id)
            )
            .scalars()
            .all()
        )
    assert len(pending) == 20
    with uow_here() as uow:
        assert commitments.accept_commitment(manager, uow, pending[0], "50000") == D("50000")
    with uow_here() as uow, pytest.raises(CapacityExceeded) as caught:
        commitments.accept_commitment(manager, uow, pending[1], "50000")
    assert caught.value.message == "accepting $50,000.00 would exceed the hard cap; $0.00 left"
    accepted_total, booked, n_accepted, _ = totals(uow_here, pool_id)
    assert accepted_total == booked == D("1050000") and n_accepted == 11
    with uow_here() as uow:
        report = verify(uow.session)
    assert report.ok, report.summary()
