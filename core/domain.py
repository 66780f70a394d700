"""Domain rules without I/O: pool terms, lifecycle, commitment eligibility."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from core import clock
from core.errors import InvalidState, ValidationError
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
    """Every field checked, the first bad one named. Used for drafts and again before opening."""
    name = clean_text(raw.get("name", ""), "name", max_length=NAME_MAX)
    strategy = raw.get("strategy")
    if strategy not in STRATEGIES:
        raise ValidationError("strategy", f"must be one of {', '.join(STRATEGIES)}")
    currency = check_currency(raw.get("currency"))
    target = parse_amount(raw.get("target_size"), currency, "target_size")
    hard_cap = parse_amount(raw.get("hard_cap"), currency, "hard_cap")
    if hard_cap < target:
        raise ValidationError("hard_cap", "must not be below the target size")
    min_ticket = parse_amount(raw.get("min_ticket"), currency, "min_ticket")
    max_ticket = parse_amount(raw.get("max_ticket"), currency, "max_ticket")
    if min_ticket > max_ticket:
        raise ValidationError("min_ticket", "must not be above the max ticket")
    if max_ticket > hard_cap:
        raise ValidationError("max_ticket", "must not be above the hard cap")
    fee_rate = parse_rate(raw.get("management_fee_rate", "0"), "management_fee_rate", upper=Decimal("0.1"))
    basis = raw.get("management_fee_basis", "committed_then_invested")
    if basis not in FEE_BASES:
        raise ValidationError("management_fee_basis", f"must be one of {', '.join(FEE_BASES)}")
    step_down_raw = raw.get("management_fee_step_down_rate")
    step_down = (
        None
        if step_down_raw in (None, "")
        else parse_rate(step_down_raw, "management_fee_step_down_rate", upper=Decimal("0.1"))
    )
    if step_down is not None and step_down > fee_rate:
        raise ValidationError("management_fee_step_down_rate", "must not be above the management fee rate")
    period_end_raw = raw.get("investment_period_end")
    period_end = None if period_end_raw in (None, "") else parse_date(period_end_raw, "investment_period_end")
    close_date = parse_date(raw.get("close_date"), "close_date")
    if close_date <= today:
        raise ValidationError("close_date", "must be in the future")
    if period_end is not None and period_end < close_date:
        raise ValidationError("investment_period_end", "must not be before the close date")
    min_accreditation = raw.get("min_accreditation", "accredited")
    if min_accreditation not in ACCREDITATION_ORDER:
        raise ValidationError("min_accreditation", f"must be one of {', '.join(ACCREDITATION_ORDER)}")
    return PoolTerms(
        name=name,
        strategy=strategy,
        currency=currency,
        target_size=target,
        hard_cap=hard_cap,
        min_ticket=min_ticket,
        max_ticket=max_ticket,
        management_fee_rate=fee_rate,
        management_fee_basis=basis,
        management_fee_step_down_rate=step_down,
        investment_period_end=period_end,
        carry_rate=parse_rate(raw.get("carry_rate", "0"), "carry_rate"),
        hurdle_rate=parse_rate(raw.get("hurdle_rate", "0"), "hurdle_rate"),
        catch_up_rate=parse_rate(raw.get("catch_up_rate", "0"), "catch_up_rate"),
        close_date=close_date,
        min_accreditation=min_accreditation,
    )


def check_transition(current: str, target: str) -> None:
    if target not in POOL_TRANSITIONS.get(current, ()):
        raise InvalidState(f"a {current} pool cannot become {target}")


def is_eligible(kyc_status: str, accreditation: str, min_accreditation: str) -> bool:
    """KYC approved and accreditation at least what the pool asks for."""
    return kyc_status == "approved" and ACCREDITATION_ORDER.index(accreditation) >= ACCREDITATION_ORDER.index(
        min_accreditation
    )


def check_ticket(amount: Decimal, min_ticket: Decimal, max_ticket: Decimal, remaining: Decimal) -> None:
    """A commitment fits the pool's tickets and its remaining room under the hard cap."""
    if amount < min_ticket:
        raise ValidationError("amount", f"is below the minimum ticket of {min_ticket:,}")
    if amount > max_ticket:
        raise ValidationError("amount", f"is above the maximum ticket of {max_ticket:,}")
    if amount > remaining:
        raise ValidationError("amount", f"is above the remaining capacity of {max(remaining, Decimal(0)):,}")


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


def request_date(payload: dict[str, Any], field: str, default: date | None = None) -> date:
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
