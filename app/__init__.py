"""The Streamlit glue: login and sessions, navigation by role, widgets, formatting, charts, the launcher.

Nothing in core/ imports from here; pages import from here and from core.services.
"""
