"""Rendering what a fund sends: PDFs and email bodies from the templates a fund edits.

The templates folder (TEMPLATES_DIR, by default templates/ at the repository root) holds
branding.toml (the fund's name, address, logo, footer, fonts) and Jinja2 templates: pdf/*.html
for each document, email/*.txt (first line "Subject: ...") and email/*.html for each email. The
wording is the fund's; the figures come in the context, already from the ledger.

User text is inert: every HTML template is autoescaped (a pool named <script> or [x](http://...)
prints as those characters), the PDF's images may only be the branding's logo, and templates
run sandboxed, so a template can read the context's fields but not reach Python's internals.
"""

from core.documents.render import (
    Branding,
    RenderedEmail,
    branding,
    pdf_of,
    render_email,
    render_html,
    render_pdf,
)

__all__ = ["Branding", "RenderedEmail", "branding", "pdf_of", "render_email", "render_html", "render_pdf"]
