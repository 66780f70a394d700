"""Posting a distribution the way the product does: drafted by a manager, approved by a second person.

distribute() is a drop-in submit function for the tests' (preview, submit) helpers, where
distributions.distribute used to be: it drafts the previewed distribution as the manager who
previewed it and approves it as a second manager of the pool (made a co-manager on first use),
returning the posting operation.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from core.operations import OperationStatus
from core.permissions import Actor
from core.services import approvals, distributions, pools, users
from db.models import PoolManager, User

APPROVER = "approver"


def second_manager(uow: Any, pool_id: int) -> Actor:
    """The pool's approving co-manager, made (and added to the pool) on first use."""
    found = uow.session.execute(
        select(User.id, User.username)
        .join(PoolManager, PoolManager.user_id == User.id)
        .where(PoolManager.pool_id == pool_id, User.username.startswith(APPROVER))
    ).first()
    if found is not None:
        return Actor(found.id, "fund_manager", found.username)
    username = f"{APPROVER}{pool_id}_{secrets.token_hex(3)}"
    user_id, _ = users.create_user(
        Actor.system(),
        uow,
        username,
        name=f"Second manager of pool {pool_id}",
        email=f"{username}@example.com",
        role="fund_manager",
        password="correct-horse-battery",
        kyc_status="approved",
        accreditation="none",
    )
    pools.add_manager(Actor.system(), uow, pool_id, user_id)
    return Actor(user_id, "fund_manager", username)


def distribute(actor: Actor, uow: Any, command: distributions.Distribute) -> OperationStatus:
    """Draft the previewed distribution as `actor`; a second manager of the pool approves it."""
    approver = second_manager(uow, command.pool_id)
    draft = approvals.draft(actor, uow, command.pool_id, distributions.KIND, command.payload())
    return approvals.approve(approver, uow, draft)
