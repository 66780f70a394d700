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

Escaping is not enough for links the reader never marked up: Streamlit's markdown (remark-gfm) turns
bare addresses ("https://...", "www.") into links after parsing, on the text with its escapes already
resolved, so "https\\://evil.example" is still a live link in the browser. md() therefore also puts
an invisible WORD JOINER (U+2060) where those patterns need two characters side by side: after the
colon of "://", between "www" and its dot, and after a "<" that would open an autolink or a tag. The
text reads the same; no link is drawn (tests/e2e/test_inert_links.py checks it in Chromium).
"""

from __future__ import annotations

import re

# The characters that make markup anywhere in one line of CommonMark + GitHub's extensions +
# Streamlit's own ($math$, :color[text] needs "["): code, emphasis, strikethrough, links and
# images ("[" / "]"), entities ("&"), headings ("#"), and the links GitHub's autolinking would
# make of "https://..." and "www." (so "<https://...>" is no link either; _LINK_JOINTS below does the
# rest). "<" and ">" are left as they are: without unsafe_allow_html Streamlit never renders HTML,
# and names refuse them anyway.
# Underscores between two letters or digits cannot emphasise (CommonMark's intraword rule) and
# are left alone, so field names such as due_date read as they are in the markdown source too.
_SPECIAL = re.compile(r"[\\`*\[\]~$&#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=//)|(?i:(?<=www))\.")
# At the start of the text: list items and block quotes ("- ", "+ ", "> "), numbered lists ("1. ").
_BLOCK_START = re.compile(r"^(\s*)(?:([-+>])|(\d+)([.)]))")


# Where GitHub's autolink literals (run on the parsed, unescaped text) would find an address: after
# the colon of any "scheme://" (escaped above as "\\:"), between "www" and its dot (escaped "\\."),
# and after a "<" followed by a letter (a CommonMark autolink such as <mailto:...>, or a tag).
_LINK_JOINTS = re.compile(r"(?<=\\:)(?=//)|(?i:(?<=www))(?=\\\.)|(?<=<)(?=[A-Za-z])")
WORD_JOINER = "\u2060"


def md(value: object) -> str:
    """The value as markdown that renders exactly as the text itself (None: empty), with no link."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    # A line break inside inline text would start a new block (a heading, a list): keep one line.
    text = _SPECIAL.sub(lambda m: "\\" + m.group(0), text.replace("\n", " "))
    text = _LINK_JOINTS.sub(WORD_JOINER, text)
    return _BLOCK_START.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), text
    )
