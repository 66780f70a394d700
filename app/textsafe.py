"""User text inside Streamlit's markdown, shown verbatim.

st.markdown, st.write, st.caption, st.title/header/subheader, st.error/info/success/warning and the
labels of metrics, expanders, tabs and buttons all render their string as markdown. A pool name
such as ``[Claim your refund](https://evil.example)`` or ``**URGENT** $x$`` would become a link,
bold text or a formula. Wherever user-supplied text (pool, investor and company names, purposes,
memos, references, messages that quote input) is put into such a string, it goes through md():
every markdown punctuation character is backslash-escaped, which CommonMark shows as the character
itself. Tables (st.dataframe, st.table), select boxes and st.text show text as text already and
need no escaping. Usernames need none either: they are validated to [a-z0-9_.-] (core.services.users),
which has no markdown meaning where they are shown. No page uses unsafe_allow_html.
"""

from __future__ import annotations

import re

# The characters that make markup anywhere in one line of CommonMark + GitHub's extensions +
# Streamlit's own ($math$, :color[text] needs "["): code, emphasis, strikethrough, links and
# images ("[" / "]"), entities ("&"), headings ("#"), and the links GitHub's autolinking would
# make of "https://..." and "www." (so "<https://...>" is no link either). "<" and ">" are left as
# they are: without unsafe_allow_html Streamlit never renders HTML, and names refuse them anyway.
# Underscores between two letters or digits cannot emphasise (CommonMark's intraword rule) and
# are left alone, so field names such as due_date read as they are in the markdown source too.
_SPECIAL = re.compile(r"[\\`*\[\]~$&#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=//)|(?<=www)\.")
# At the start of the text: list items and block quotes ("- ", "+ ", "> "), numbered lists ("1. ").
_BLOCK_START = re.compile(r"^(\s*)(?:([-+>])|(\d+)([.)]))")


def md(value: object) -> str:
    """The value as markdown that renders exactly as the text itself (None: empty)."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    # A line break inside inline text would start a new block (a heading, a list): keep one line.
    text = _SPECIAL.sub(lambda m: "\\" + m.group(0), text.replace("\n", " "))
    return _BLOCK_START.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), text
    )
