"""Permission checks on plain values: who may act on what (no I/O)."""

from __future__ import annotations

import pytest

from core.errors import PermissionDenied
from core.permissions import (
    ADMIN,
    ANALYST,
    FUND_MANAGER,
    INVESTOR,
    ROLES,
    Actor,
    may_read_investor_position,
    require_investor_self,
    require_pool_manager,
    require_read_investor_position,
    require_role,
)

SYSTEM = Actor.system()
INVESTOR_1 = Actor(1, INVESTOR, "ivy")
INVESTOR_2 = Actor(2, INVESTOR, "ian")
MANAGER_3 = Actor(3, FUND_MANAGER, "maya")
MANAGER_4 = Actor(4, FUND_MANAGER, "milo")
ANALYST_5 = Actor(5, ANALYST, "ana")
ADMIN_6 = Actor(6, ADMIN, "ada")
EVERYONE = (INVESTOR_1, INVESTOR_2, MANAGER_3, MANAGER_4, ANALYST_5, ADMIN_6)


def test_roles_are_the_four_of_the_design() -> None:
    assert set(ROLES) == {"investor", "fund_manager", "analyst", "admin"}


def test_system_actor() -> None:
    assert SYSTEM.is_system and SYSTEM.user_id is None
    assert not any(actor.is_system for actor in EVERYONE)
    # A user cannot become "system" by having id None: it is the role that counts.
    assert not Actor(None, INVESTOR).is_system


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.username)
@pytest.mark.parametrize("allowed", [(INVESTOR,), (FUND_MANAGER,), (ADMIN,), (ANALYST, ADMIN)])
def test_require_role(actor: Actor, allowed: tuple[str, ...]) -> None:
    if actor.role in allowed:
        require_role(actor, *allowed)
    else:
        with pytest.raises(PermissionDenied) as caught:
            require_role(actor, *allowed)
        assert caught.value.message == f"a {actor.role.replace('_', ' ')} may not do this"


def test_require_role_with_no_roles_refuses_every_user_but_not_the_system() -> None:
    for actor in EVERYONE:
        with pytest.raises(PermissionDenied):
            require_role(actor)
    require_role(SYSTEM)


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.username)
def test_only_the_pools_own_manager_manages_it(actor: Actor) -> None:
    if actor is MANAGER_3:
        require_pool_manager(actor, managers=3)
    else:
        with pytest.raises(PermissionDenied, match="only the pool's manager"):
            require_pool_manager(actor, managers=3)
    require_pool_manager(SYSTEM, managers=3)


def test_a_non_manager_with_the_managers_id_is_still_refused() -> None:
    # Same user id, wrong role (e.g. a demoted manager whose old session lingers).
    with pytest.raises(PermissionDenied):
        require_pool_manager(Actor(3, ANALYST), managers=3)
    with pytest.raises(PermissionDenied):
        require_pool_manager(Actor(3, ADMIN), managers=3)


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.username)
def test_an_investor_acts_only_for_themselves(actor: Actor) -> None:
    if actor is INVESTOR_1:
        require_investor_self(actor, investor_id=1)
    else:
        with pytest.raises(PermissionDenied, match="only act for themselves"):
            require_investor_self(actor, investor_id=1)
    require_investor_self(SYSTEM, investor_id=1)


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        (INVESTOR_1, True),  # their own position
        (INVESTOR_2, False),  # someone else's
        (MANAGER_3, True),  # the pool's manager
        (MANAGER_4, False),  # another manager
        (ANALYST_5, True),  # platform reader
        (ADMIN_6, True),  # platform reader
        (SYSTEM, True),
        (Actor(1, FUND_MANAGER), False),  # investor's id, wrong role, not the pool's manager
        (Actor(3, INVESTOR), False),  # manager's id, investor role, not the position's owner
    ],
)
def test_who_reads_an_investor_position(actor: Actor, expected: bool) -> None:
    assert may_read_investor_position(actor, investor_id=1, managers=3) is expected
    if expected:
        require_read_investor_position(actor, investor_id=1, managers=3)
    else:
        with pytest.raises(PermissionDenied, match="may not see this investor's position"):
            require_read_investor_position(actor, investor_id=1, managers=3)


def test_unknown_role_gets_nothing() -> None:
    stranger = Actor(99, "auditor")
    assert not may_read_investor_position(stranger, investor_id=99, managers=99)
    with pytest.raises(PermissionDenied):
        require_role(stranger, *ROLES)
    with pytest.raises(PermissionDenied):
        require_pool_manager(stranger, 99)
    with pytest.raises(PermissionDenied):
        require_investor_self(stranger, 99)


def test_actor_is_a_frozen_value() -> None:
    with pytest.raises(AttributeError):
        INVESTOR_1.role = ADMIN  # type: ignore[misc]
    assert Actor(1, INVESTOR, "ivy") == INVESTOR_1


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.username)
def test_every_manager_of_a_pool_manages_it_and_no_one_else(actor: Actor) -> None:
    """A pool's managers are its lead manager and its co-managers (core.permissions.managers_of)."""
    managers = frozenset({3, 4})
    if actor in (MANAGER_3, MANAGER_4):
        require_pool_manager(actor, managers)
        assert may_read_investor_position(actor, investor_id=1, managers=managers)
    else:
        with pytest.raises(PermissionDenied, match="only the pool's manager"):
            require_pool_manager(actor, managers)
    with pytest.raises(PermissionDenied):
        require_pool_manager(MANAGER_4, frozenset({3}))
