"""Users: search, create (temporary password shown once), invite by email (provider sign-in), role,
KYC, unlock, deactivate."""

import pandas as pd
import streamlit as st

from app import format, webapp
from app.textsafe import md
from core.permissions import ROLES
from core.services import users
from core.services.users import ACCREDITATIONS, KYC_STATUSES
from core.vocabulary import Accreditation, KycStatus, label

actor = webapp.require_actor("admin")
st.title("Users")

ACCREDITATION_WORDS = {
    Accreditation.NONE: "not accredited",
    Accreditation.ACCREDITED: "accredited",
    Accreditation.QUALIFIED_PURCHASER: "qualified purchaser",
}


def kyc_words(status: str) -> str:
    return f"KYC {label(status)}"


def accreditation_words(accreditation: str) -> str:
    return ACCREDITATION_WORDS.get(Accreditation(accreditation), label(accreditation))


def standing(user: users.UserView) -> str:
    """'KYC approved, not accredited': how an investor stands, in words."""
    return f"{kyc_words(user.kyc_status)}, {accreditation_words(user.accreditation)}"


def access(user: users.UserView) -> str:
    """'active', 'deactivated' or 'locked until 2026-12-07 14:05 UTC', and any failed sign-ins."""
    if not user.active:
        words = "deactivated"
    elif user.locked_until:
        words = f"locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
    else:
        words = "active"
    return words + (f", {format.count(user.failed_logins, 'failed sign-in')}" if user.failed_logins else "")


def done(message: str) -> None:
    """Remember a success across the rerun that shows its effect."""
    st.session_state["users_flash"] = message
    st.rerun()


if (flash := st.session_state.pop("users_flash", None)) is not None:
    st.success(flash)

with st.expander("Create a user"), st.form("create-user", clear_on_submit=True):
    left, right = st.columns(2)
    username = left.text_input(
        "Username", help="3-64 characters: lowercase letters, digits, . _ -", key="new-username"
    )
    name = right.text_input("Full name", key="new-name")
    email = left.text_input("Email", key="new-email")
    role = right.selectbox("Role", ROLES, format_func=label, key="new-role")
    kyc = left.selectbox("KYC status", KYC_STATUSES, format_func=label, key="new-kyc")
    accreditation = right.selectbox(
        "Accreditation", ACCREDITATIONS, format_func=accreditation_words, key="new-accreditation"
    )
    if st.form_submit_button("Create", type="primary"):
        with webapp.refusals_shown():
            _, temporary = webapp.call(
                users.create_user,
                username,
                name=name,
                email=email,
                role=role,
                kyc_status=kyc,
                accreditation=accreditation,
            )
            # Shown in this run only: it is not stored anywhere, the next rerun has forgotten it.
            st.success(
                f"Created **{md(username.strip().lower())}**. Give them this temporary password; "
                "it is shown only once:"
            )
            st.code(temporary, language=None)

with st.expander("Invite by email"), st.form("invite-user", clear_on_submit=True):
    provider = webapp.provider_name()
    st.caption(
        f"They sign in with {provider}, with the email address you enter here (their provider must "
        "have verified it). They get no password; their role is the one you choose, never the provider's."
        if provider
        else "Sign-in with an identity provider is not configured (OIDC settings): an invited user can "
        "sign in once it is."
    )
    left, middle, right = st.columns(3)
    invite_email = left.text_input("Email", key="invite-email")
    invite_name = middle.text_input("Full name (optional)", key="invite-name")
    invite_role = right.selectbox("Role", ROLES, format_func=label, key="invite-role")
    if st.form_submit_button("Invite", type="primary"):
        with webapp.refusals_shown():
            invited = webapp.call(users.invite_user, invite_email, role=invite_role, name=invite_name)
            done(f"Invited {md(invited.email)} as {label(invited.role)} (username {md(invited.username)}).")

search = st.text_input("Search by username or name", key="search")
found = None
with webapp.refusals_shown():
    found = webapp.call(users.list_users, search)
if found is None:
    st.stop()
st.caption(
    format.count(len(found), "user")
    + (" (the first 200: search to narrow them)" if len(found) == 200 else "")
)
waiting = [u for u in found if u.role == "investor" and u.kyc_status == KycStatus.PENDING]
if waiting:
    st.info(
        f"{format.count(len(waiting), 'investor')} waiting for KYC approval: "
        + ", ".join(md(u.username) for u in waiting[:10])
        + (" and more" if len(waiting) > 10 else "")
        + ". Choose one below and set their KYC once their documents are checked."
    )
COLUMNS = ["Username", "Name", "Email", "Role", "Standing", "Access"]
st.dataframe(
    pd.DataFrame(
        [
            {
                "Username": u.username,
                "Name": u.name,
                "Email": u.email,
                "Role": label(u.role),
                "Standing": standing(u),
                "Access": access(u),
            }
            for u in found
        ],
        columns=COLUMNS,
    ),
    hide_index=True,
    # Typed text at set widths: a 254-character email would push the other columns off the page.
    column_config={
        "Username": st.column_config.TextColumn("Username", width=100),
        "Name": st.column_config.TextColumn("Name", width=140),
        "Email": st.column_config.TextColumn("Email", width=180),
        "Role": st.column_config.TextColumn("Role", width=95),
        "Standing": st.column_config.TextColumn("Standing", help="KYC status and accreditation", width=215),
        "Access": st.column_config.TextColumn(
            "Access", help="Whether they may sign in; a lock follows too many failed sign-ins", width=165
        ),
    },
)


def change(chosen: users.UserView) -> None:
    """Role, KYC and access of the chosen user, each acting on that user only."""
    role_col, kyc_col, access_col = st.columns(3)
    with role_col, st.container(border=True):
        new_role = st.selectbox(
            "Role", ROLES, index=ROLES.index(chosen.role), format_func=label, key=f"role-{chosen.id}"
        )
        if st.button("Set role", key="set-role"):
            with webapp.refusals_shown():
                webapp.call(users.set_role, chosen.id, new_role, version=chosen.version)
                done(f"{chosen.username} is now {label(new_role)}.")
    with kyc_col, st.container(border=True):
        new_kyc = st.selectbox(
            "KYC",
            KYC_STATUSES,
            index=KYC_STATUSES.index(chosen.kyc_status),
            format_func=label,
            key=f"kyc-{chosen.id}",
        )
        new_acc = st.selectbox(
            "Accreditation",
            ACCREDITATIONS,
            format_func=accreditation_words,
            index=ACCREDITATIONS.index(chosen.accreditation),
            key=f"acc-{chosen.id}",
        )
        if st.button("Set KYC", key="set-kyc"):
            with webapp.refusals_shown():
                webapp.call(users.set_kyc_status, chosen.id, new_kyc, new_acc, version=chosen.version)
                done(f"{chosen.username}: {kyc_words(new_kyc)}, {accreditation_words(new_acc)}.")
    with access_col, st.container(border=True):
        st.caption(
            f"Locked until {chosen.locked_until:%Y-%m-%d %H:%M} UTC"
            if chosen.locked_until
            else "Not locked out."
        )
        if st.button("Unlock", key="unlock", disabled=chosen.locked_until is None):
            with webapp.refusals_shown():
                webapp.call(users.unlock_user, chosen.id, version=chosen.version)
                done(f"{chosen.username} is unlocked and may sign in again.")
        if not chosen.active:
            if st.button("Reactivate", key="set-active"):
                with webapp.refusals_shown():
                    webapp.call(users.set_active, chosen.id, True, version=chosen.version)
                    done(f"{chosen.username} is active again and may sign in.")
        elif webapp.confirmed(
            "deactivate",
            "Deactivate",
            f"Deactivate {md(chosen.username)}? They are signed out at their next click and cannot sign "
            "in until an admin reactivates them; nothing they own is deleted.",
            yes="Deactivate",
            about=(chosen.id, chosen.active),
        ):
            with webapp.refusals_shown():
                webapp.call(users.set_active, chosen.id, False, version=chosen.version)
                done(f"{chosen.username} is deactivated: they are signed out and cannot sign in.")


if found:
    st.subheader("Change a user", anchor=False)
    picked = webapp.choose(
        "User",
        found,
        lambda u: f"{u.username} ({label(u.role)}{'' if u.active else ', inactive'})",
        key="chosen-user",
        placeholder="Choose a user",
    )
    if picked is None:
        st.caption("Choose a user to change their role, KYC or access.")
    else:
        change(picked)
