"""Domain rules without I/O: pool terms, lifecycle, commitment eligibility."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from core import clock
from core.errors import Collector, InvalidState, ValidationError
from core.formatting import money
from core.money import check_currency, parse_amount, to_decimal
from core.vocabulary import Accreditation, FeeBasis, Strategy, values

NAME_MAX = 120
STRATEGIES = values(Strategy)
FEE_BASES = values(FeeBasis)
ACCREDITATION_ORDER = values(Accreditation)  # in rising order

# Lifecycle: the only moves there are. Anything else is refused.
POOL_TRANSITIONS = {
    "draft": ("open",),
    "open": ("closed",),
    "closed": ("investing", "wound_down"),
    "investing": ("wound_down",),
    "wound_down": (),
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


_ZWJ = "\u200d"
_EMOJI_PRESENTATION = "\ufe0f"


def _joins_emoji(text: str, i: int) -> bool:
    """A zero-width joiner inside an emoji sequence (👨‍👩‍👧, ❤️‍🔥) draws one picture: it stays.
    Anywhere else it hides inside a word and is refused with the other invisible characters."""

    def pictograph(ch: str) -> bool:
        return unicodedata.category(ch) in ("So", "Sk") or ch == _EMOJI_PRESENTATION

    return text[i] == _ZWJ and 0 < i < len(text) - 1 and pictograph(text[i - 1]) and pictograph(text[i + 1])


def clean_text(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    """Names are shown in tables, CSVs and page titles: plain, single-line, bounded text."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise ValidationError(field, "is required")
    if len(text) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    if _CONTROL.search(text):
        raise ValidationError(field, "must not contain control characters or line breaks")
    if any(unicodedata.category(ch) == "Cf" and not _joins_emoji(text, i) for i, ch in enumerate(text)):
        # Invisible format characters (bidi overrides, zero-width joiners) make one name pass for another.
        raise ValidationError(field, "must not contain invisible formatting characters")
    if "<" in text or ">" in text:
        raise ValidationError(field, "must not contain < or > (no HTML)")
    return text


def parse_rate(value: object, field: str, *, upper: Decimal = Decimal(1)) -> Decimal:
    """A rate as a fraction (0.02 = 2%), 0..upper, at most 6 decimal places."""
    rate = to_decimal(value, field)
    if rate < 0:
        raise ValidationError(field, "must not be negative")
    if rate > upper:
        raise ValidationError(field, f"must be at most {upper} (rates are fractions: 0.2 = 20%)")
    if rate != rate.quantize(Decimal("0.000001")):
        raise ValidationError(field, "has more than 6 decimal places")
    return rate


def parse_date(value: object, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(field, "must be a date (YYYY-MM-DD)")


@dataclass(frozen=True)
class PoolTerms:
    name: str
    strategy: str
    currency: str
    target_size: Decimal
    hard_cap: Decimal
    min_ticket: Decimal
    max_ticket: Decimal
    management_fee_rate: Decimal
    management_fee_basis: str
    management_fee_step_down_rate: Decimal | None
    investment_period_end: date | None
    carry_rate: Decimal
    hurdle_rate: Decimal
    catch_up_rate: Decimal
    close_date: date
    min_accreditation: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_pool_terms(raw: dict[str, Any], today: date) -> PoolTerms:
    """Every field checked, every bad one named at once (FieldErrors). Used for drafts and again
    before opening. Rates are fractions (0.2 = 20%); forms convert percentages (percent_to_rate)."""
    collect = Collector()
    v: dict[str, Any] = {}
    with collect("name"):
        v["name"] = clean_text(raw.get("name", ""), "name", max_length=NAME_MAX)
    with collect("strategy"):
        v["strategy"] = _one_of(raw.get("strategy"), "strategy", STRATEGIES)
    with collect("currency"):
        v["currency"] = check_currency(raw.get("currency"))
    currency = v.get("currency", "USD")
    for field in ("target_size", "hard_cap", "min_ticket", "max_ticket"):
        with collect(field):
            v[field] = parse_amount(raw.get(field), currency, field)
    if collect.ok("currency", "target_size", "hard_cap") and v["hard_cap"] < v["target_size"]:
        collect.errors.append(ValidationError("hard_cap", "must not be below the target size"))
    if collect.ok("currency", "min_ticket", "max_ticket") and v["min_ticket"] > v["max_ticket"]:
        collect.errors.append(ValidationError("min_ticket", "must not be above the maximum ticket"))
    if collect.ok("currency", "max_ticket", "hard_cap") and v["max_ticket"] > v["hard_cap"]:
        collect.errors.append(ValidationError("max_ticket", "must not be above the hard cap"))
    with collect("management_fee_rate"):
        v["management_fee_rate"] = parse_rate(
            raw.get("management_fee_rate", "0"), "management_fee_rate", upper=Decimal("0.1")
        )
    with collect("management_fee_basis"):
        v["management_fee_basis"] = _one_of(
            raw.get("management_fee_basis", "committed_then_invested"), "management_fee_basis", FEE_BASES
        )
    with collect("management_fee_step_down_rate"):
        step_down_raw = raw.get("management_fee_step_down_rate")
        v["management_fee_step_down_rate"] = (
            None
            if step_down_raw in (None, "")
            else parse_rate(step_down_raw, "management_fee_step_down_rate", upper=Decimal("0.1"))
        )
        step_down, fee_rate = v["management_fee_step_down_rate"], v.get("management_fee_rate")
        if step_down is not None and fee_rate is not None and step_down > fee_rate:
            raise ValidationError("management_fee_step_down_rate", "must not be above the management fee")
    with collect("close_date"):
        v["close_date"] = parse_date(raw.get("close_date"), "close_date")
        if v["close_date"] <= today:
            raise ValidationError("close_date", "must be in the future")
    with collect("investment_period_end"):
        period_end_raw = raw.get("investment_period_end")
        v["investment_period_end"] = (
            None if period_end_raw in (None, "") else parse_date(period_end_raw, "investment_period_end")
        )
        if (
            v["investment_period_end"] is not None
            and "close_date" in v
            and v["investment_period_end"] < v["close_date"]
        ):
            raise ValidationError("investment_period_end", "must not be before the close date")
    for field in ("carry_rate", "hurdle_rate", "catch_up_rate"):
        with collect(field):
            v[field] = parse_rate(raw.get(field, "0"), field)
    with collect("min_accreditation"):
        v["min_accreditation"] = _one_of(
            raw.get("min_accreditation", "accredited"), "min_accreditation", ACCREDITATION_ORDER
        )
    collect.raise_any()
    return PoolTerms(**v)


def _one_of(value: object, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(a.replace('_', ' ') for a in allowed)}")
    return str(value)


def check_transition(current: str, target: str) -> None:
    if target not in POOL_TRANSITIONS.get(current, ()):
        raise InvalidState(f"a {current} pool cannot become {target}")


def is_eligible(kyc_status: str, accreditation: str, min_accreditation: str) -> bool:
    """KYC approved and accreditation at least what the pool asks for."""
    return kyc_status == "approved" and ACCREDITATION_ORDER.index(accreditation) >= ACCREDITATION_ORDER.index(
        min_accreditation
    )


def check_ticket(
    amount: Decimal, min_ticket: Decimal, max_ticket: Decimal, remaining: Decimal, currency: str
) -> None:
    """A commitment fits the pool's tickets and its remaining room under the hard cap."""
    if amount < min_ticket:
        raise ValidationError(
            "amount", f"is below the minimum ticket of {money(min_ticket, currency)}", limit=min_ticket
        )
    if amount > max_ticket:
        raise ValidationError(
            "amount", f"is above the maximum ticket of {money(max_ticket, currency)}", limit=max_ticket
        )
    room = max(remaining, Decimal(0))
    if amount > remaining:
        raise ValidationError(
            "amount", f"is above the room left under the hard cap, {money(room, currency)}", limit=room
        )


def percent_to_rate(value: object, field: str) -> Decimal | None:
    """Forms ask for percentages (2 = 2%); the domain stores fractions. Blank stays blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_decimal(value, field) / 100


def rate_to_percent(rate: Decimal | None) -> str:
    return "" if rate is None else f"{(rate * 100).normalize():f}"


# --- requests: the checks every money-moving request shares ------------------------------------------

RUNNING_POOLS = ("closed", "investing")  # money moves only once a pool has closed


def require_running(status: str, what: str) -> None:
    if status not in RUNNING_POOLS:
        raise InvalidState(f"{what} needs a closed pool; this one is {status}")


def request_date(payload: Mapping[str, Any], field: str, default: date | None = None) -> date:
    """A date field of a request; blank takes the default where there is one."""
    value = payload.get(field)
    if value in (None, "") and default is not None:
        return default
    return parse_date(value, field)


def not_in_future(when: date, field: str) -> date:
    """Something that has happened (a payment received, a mark, an exit) cannot be dated ahead."""
    if when > clock.today():
        raise ValidationError(field, "cannot be in the future")
    return when
