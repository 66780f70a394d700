"""Posting a distribution the way the product does: drafted by a manager, approved by a second person.

distribute_approved_by(approver) is a submit function for the tests' (preview, submit) helpers: it
drafts the previewed distribution as the manager who previewed it and approves it as `approver` (a
co-manager of the pool or an admin), returning the posting operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.operations import OperationStatus
from core.permissions import Actor
from core.services import approvals, distributions


def distribute_approved_by(
    approver: Actor,
) -> Callable[[Actor, Any, distributions.Distribute], OperationStatus]:
    def submit(actor: Actor, uow: Any, command: distributions.Distribute) -> OperationStatus:
        draft = approvals.draft(actor, uow, command.pool_id, distributions.KIND, command.payload())
        return approvals.approve(approver, uow, draft)

    return submit
