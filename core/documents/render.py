"""Branding, the sandboxed template environment, and the two outputs: a PDF (fpdf2's write_html) and
an email's subject, text and HTML."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import TextStyle
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core import clock, formatting
from core.domain import grouped_iban
from core.settings import SettingsError, settings

FONT = "body"  # the family name the PDF templates' text is set in


@dataclass(frozen=True)
class Branding:
    """templates/branding.toml: who the documents come from and how they look."""

    fund_name: str
    address: tuple[str, ...]
    contact_email: str
    phone: str
    logo: Path | None
    footer: str
    font_regular: Path
    font_bold: Path
    accent: str


def _within(folder: Path, name: str, what: str) -> Path:
    """A file the branding names, which must lie inside the templates folder."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise SettingsError(f"branding.toml: the {what} {name!r} is not a file inside {folder}")
    return path


@lru_cache(maxsize=4)
def _load_branding(folder: Path, modified: float) -> Branding:
    with (folder / "branding.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    fund, fonts = raw.get("fund", {}), raw.get("fonts", {})
    logo = str(fund.get("logo", "") or "")
    return Branding(
        fund_name=str(fund.get("name", "")),
        address=tuple(str(line) for line in fund.get("address", [])),
        contact_email=str(fund.get("email", "")),
        phone=str(fund.get("phone", "")),
        logo=_within(folder, logo, "logo") if logo else None,
        footer=str(raw.get("footer", {}).get("text", "")),
        font_regular=_within(folder, str(fonts.get("regular", "fonts/DejaVuSans.ttf")), "regular font"),
        font_bold=_within(folder, str(fonts.get("bold", "fonts/DejaVuSans-Bold.ttf")), "bold font"),
        accent=str(raw.get("colors", {}).get("accent", "#1f3b5c")),
    )


def branding() -> Branding:
    """The branding as the file says now (re-read when it changes, so no restart is needed)."""
    folder = settings().templates_dir
    return _load_branding(folder, (folder / "branding.toml").stat().st_mtime)


def _money(amount: Decimal | None, currency: str) -> str:
    return formatting.money(amount, currency)


def _day(value: date | None) -> str:
    return formatting.day(value)


@lru_cache(maxsize=4)
def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )
    environment.filters.update(
        money=_money, day=_day, percent=formatting.percent, iban=grouped_iban, count=formatting.count
    )
    return environment


def _template(name: str) -> Any:
    return _environment(settings().templates_dir).get_template(name)


class _Document(FPDF):
    """A4 pages in the branding's font, with its footer and the page number on each page."""

    def __init__(self, look: Branding) -> None:
        super().__init__(format="A4")
        self.look = look
        self.add_font(FONT, "", str(look.font_regular))
        self.add_font(FONT, "B", str(look.font_bold))
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=22)

    def footer(self) -> None:
        self.set_y(-16)
        self.set_font(FONT, size=7)
        self.set_text_color(110)
        self.multi_cell(
            0, 3.5, f"{self.look.footer}  ·  Page {self.page_no()} of {{nb}}".strip(" ·"), align="C"
        )


def render_html(template: str, context: Mapping[str, Any]) -> str:
    """pdf/<template>.html filled in with the context (and the branding as `brand`)."""
    return _template(f"pdf/{template}.html").render(brand=branding(), **context)


def render_pdf(template: str, context: Mapping[str, Any], *, title: str) -> bytes:
    """pdf/<template>.html with the context (and the branding as `brand`) as one PDF."""
    return pdf_of(render_html(template, context), title=title)


def pdf_of(html: str, *, title: str) -> bytes:
    """A filled-in template as a PDF: A4, the branding's fonts, headings and footer."""
    look = branding()
    document = _Document(look)
    document.set_title(title)
    document.set_author(look.fund_name)
    document.set_creator("Investment Pools")
    document.set_creation_date(clock.now())
    document.add_page()
    document.set_font(FONT, size=9.5)
    logo = str(look.logo) if look.logo else None
    # Images only from the branding: a template cannot make the PDF read another file.
    headings = {
        tag: TextStyle(font_family=FONT, color=look.accent, font_size_pt=size, t_margin=margin, b_margin=1)
        for tag, size, margin in (("h1", 20, 4), ("h2", 14, 5), ("h3", 12, 5))
    }
    document.write_html(
        html,
        font_family=FONT,
        tag_styles=headings,
        image_map=lambda src: logo if src == "logo" and logo else "",
    )
    return bytes(document.output())


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


def render_email(name: str, context: Mapping[str, Any]) -> RenderedEmail:
    """email/<name>.txt (its first line "Subject: ...") and, where it exists, email/<name>.html."""
    look = branding()
    first, _, body = _template(f"email/{name}.txt").render(brand=look, **context).partition("\n")
    if not first.startswith("Subject:"):
        raise SettingsError(f"email/{name}.txt must start with a 'Subject: ...' line")
    folder = settings().templates_dir
    html = (
        _template(f"email/{name}.html").render(brand=look, **context)
        if (folder / "email" / f"{name}.html").is_file()
        else None
    )
    return RenderedEmail(first.removeprefix("Subject:").strip(), body.lstrip("\n"), html)
