"""Users: search, create (temporary password shown once), role, KYC, unlock, deactivate."""

import pandas as pd
import streamlit as st

from core import webapp
from core.permissions import ROLES
from core.services import users
from db.models import ACCREDITATIONS, KYC_STATUSES

actor = webapp.require_actor("admin")
st.title("Users")

with st.expander("Create a user"), st.form("create-user", clear_on_submit=True):
    left, right = st.columns(2)
    username = left.text_input("Username")
    name = right.text_input("Full name")
    email = left.text_input("Email")
    role = right.selectbox("Role", ROLES, format_func=lambda r: r.replace("_", " "))
    kyc = left.selectbox("KYC status", KYC_STATUSES)
    accreditation = right.selectbox("Accreditation", ACCREDITATIONS)
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
            st.success(f"Created {username}. Temporary password (shown once): `{temporary}`")

search = st.text_input("Search by username or name")
found = webapp.call(users.list_users, search)
st.dataframe(
    pd.DataFrame(
        [
            {
                "Username": u.username,
                "Name": u.name,
                "Role": u.role,
                "KYC": u.kyc_status,
                "Accreditation": u.accreditation,
                "Active": u.active,
                "Locked until": u.locked_until,
            }
            for u in found
        ]
    ),
    hide_index=True,
)

if found:
    st.subheader("Change a user", anchor=False)
    chosen = st.selectbox("User", found, format_func=lambda u: f"{u.username} ({u.role})")
    left, mid, right = st.columns(3)
    new_role = left.selectbox("Role", ROLES, index=ROLES.index(chosen.role), key=f"role-{chosen.id}")
    if left.button("Set role"):
        with webapp.refusals_shown():
            webapp.call(users.set_role, chosen.id, new_role)
            st.rerun()
    new_kyc = mid.selectbox(
        "KYC", KYC_STATUSES, index=KYC_STATUSES.index(chosen.kyc_status), key=f"kyc-{chosen.id}"
    )
    new_acc = mid.selectbox(
        "Accreditation",
        ACCREDITATIONS,
        index=ACCREDITATIONS.index(chosen.accreditation),
        key=f"acc-{chosen.id}",
    )
    if mid.button("Set KYC"):
        with webapp.refusals_shown():
            webapp.call(users.set_kyc_status, chosen.id, new_kyc, new_acc)
            st.rerun()
    if chosen.locked_until is not None and right.button("Unlock"):
        with webapp.refusals_shown():
            webapp.call(users.unlock_user, chosen.id)
            st.rerun()
    if right.button("Deactivate" if chosen.active else "Reactivate"):
        with webapp.refusals_shown():
            webapp.call(users.set_active, chosen.id, not chosen.active)
            st.rerun()
