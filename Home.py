"""Entry point and router: log in, then hand st.navigation exactly the pages of the user's role.

st.navigation is called on every run, logged in or not, so Streamlit never falls back to listing
the files in pages/.
"""

import streamlit as st

from app import webapp

st.set_page_config(page_title="Investment Pools", page_icon=":material/savings:", layout="wide")

actor = webapp.current_actor()
if actor is None:
    st.navigation(
        [st.Page(webapp.login_page, title="Log in", icon=":material/login:")], position="hidden"
    ).run()
else:
    with st.sidebar:
        st.caption(f"Signed in as **{actor.username}** ({actor.role.replace('_', ' ')})")
    webapp.logout_button()
    st.navigation(webapp.navigation_for(actor)).run()
