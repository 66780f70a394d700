"""Entry point and router: log in, then hand st.navigation exactly the pages of the user's role."""

import streamlit as st

from core import webapp

st.set_page_config(page_title="Investment Pools", page_icon=":material/savings:", layout="wide")

actor = webapp.login()
if actor is None:
    st.stop()

with st.sidebar:
    st.caption(f"Signed in as **{actor.username}** ({actor.role.replace('_', ' ')})")
webapp.logout_button()
st.navigation(webapp.navigation_for(actor)).run()
