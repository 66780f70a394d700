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
from core.vocabulary import (
    Accreditation,
    CallPurpose,
    FeeBasis,
    HurdleAccrual,
    Strategy,
    WaterfallModel,
    values,
)

NAME_MAX = 120
STRATEGIES = values(Strategy)
FEE_BASES = values(FeeBasis)
HURDLE_ACCRUALS = values(HurdleAccrual)
WATERFALL_MODELS = values(WaterfallModel)
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
        raise ValidationError(field, f"must be at most {upper} (rates are fractions: 0.2 = 20%)", limit=upper)
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
    gp_commitment: Decimal
    min_ticket: Decimal
    max_ticket: Decimal
    management_fee_rate: Decimal
    management_fee_basis: str
    management_fee_step_down_rate: Decimal | None
    investment_period_end: date | None
    carry_rate: Decimal
    hurdle_rate: Decimal
    catch_up_rate: Decimal
    hurdle_accrual: str
    escrow_rate: Decimal
    waterfall_model: str
    recover_prior_losses: bool
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
    with collect("gp_commitment"):
        v["gp_commitment"] = parse_amount(
            raw.get("gp_commitment") or "0", currency, "gp_commitment", allow_zero=True
        )
        if collect.ok("currency", "hard_cap") and v["gp_commitment"] > v["hard_cap"]:
            raise ValidationError("gp_commitment", "must not be above the hard cap")
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
    for field in ("carry_rate", "hurdle_rate", "catch_up_rate", "escrow_rate"):
        with collect(field):
            v[field] = parse_rate(raw.get(field, "0") or "0", field)
    with collect("hurdle_accrual"):
        v["hurdle_accrual"] = _one_of(
            raw.get("hurdle_accrual", "compound"), "hurdle_accrual", HURDLE_ACCRUALS
        )
    with collect("waterfall_model"):
        v["waterfall_model"] = _one_of(
            raw.get("waterfall_model", WaterfallModel.WHOLE_FUND), "waterfall_model", WATERFALL_MODELS
        )
    with collect("recover_prior_losses"):
        recover = raw.get("recover_prior_losses", False)
        if not isinstance(recover, bool):
            raise ValidationError("recover_prior_losses", "must be yes or no")
        if recover and v.get("waterfall_model") != WaterfallModel.DEAL_BY_DEAL:
            raise ValidationError("recover_prior_losses", "applies only when carry is paid deal by deal")
        v["recover_prior_losses"] = recover
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


# --- wire instructions: IBAN, SWIFT/BIC, routing numbers, payment references -------------------------

# IBAN lengths by country (SWIFT's IBAN registry); a country not listed is checked by the generic
# rules and its check digits only.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_ACCOUNT = re.compile(r"[A-Z0-9]{4,34}")
_SEPARATORS = re.compile(r"[\s-]+")


def _compact(value: object, field: str) -> str:
    """Bank identifiers as people type them ("de89 3704 0044-0532"), without spaces and hyphens."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    return _SEPARATORS.sub("", value).upper()


def looks_like_iban(value: str) -> bool:
    """Two letters and two digits first: read as an IBAN (and checked as one), not an account number."""
    compact = _SEPARATORS.sub("", value).upper()
    return len(compact) >= 4 and compact[:2].isalpha() and compact[2:4].isdigit()


def iban_check_digits_ok(iban: str) -> bool:
    """ISO 13616's check: the country and check digits moved to the end, letters as 10..35, mod 97 = 1."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def check_iban(value: object, field: str = "account_number") -> str:
    """An IBAN, compact and upper-case, with its country's length and valid check digits."""
    iban = _compact(value, field)
    if not _IBAN.fullmatch(iban):
        raise ValidationError(
            field, "is not an IBAN: two letters, two check digits, then 11 to 30 letters or digits"
        )
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        raise ValidationError(
            field, f"is not a valid IBAN: an IBAN from {iban[:2]} has {expected} characters, not {len(iban)}"
        )
    if not iban_check_digits_ok(iban):
        raise ValidationError(field, "is not a valid IBAN: its check digits do not match (a typing error?)")
    return iban


def check_account_number(value: object, field: str = "account_number") -> str:
    """An IBAN (checked as one) or another bank's account number of 4 to 34 letters or digits."""
    if isinstance(value, str) and looks_like_iban(value):
        return check_iban(value, field)
    number = _compact(value, field)
    if not _ACCOUNT.fullmatch(number):
        raise ValidationError(field, "must be an IBAN or an account number of 4 to 34 letters or digits")
    return number


def check_bic(value: object, field: str = "bank_code") -> str:
    """A SWIFT/BIC (ISO 9362): bank code, country, location and an optional branch, 8 or 11 characters."""
    bic = _compact(value, field)
    if not _BIC.fullmatch(bic):
        raise ValidationError(
            field,
            "is not a SWIFT/BIC: 4 letters for the bank, 2 for the country, 2 letters or digits, an optional 3",
        )
    return bic


def routing_number_ok(number: str) -> bool:
    """An ABA routing number: 9 digits whose weighted sum (3, 7, 1 repeating) is a multiple of 10."""
    if len(number) != 9 or not number.isdigit():
        return False
    return sum(int(digit) * weight for digit, weight in zip(number, (3, 7, 1) * 3, strict=True)) % 10 == 0


def check_bank_code(value: object, field: str = "bank_code") -> str:
    """A SWIFT/BIC, or a US routing number (9 digits with a valid checksum)."""
    code = _compact(value, field)
    if code.isdigit():
        if not routing_number_ok(code):
            raise ValidationError(field, "is not a valid routing number: 9 digits with a matching checksum")
        return code
    return check_bic(code, field)


def grouped_iban(account_number: str) -> str:
    """An IBAN in groups of four, as it is printed ("DE89 3704 0044 0532 0130 00"); others unchanged."""
    if not looks_like_iban(account_number):
        return account_number
    return " ".join(account_number[i : i + 4] for i in range(0, len(account_number), 4))


REFERENCE_PLACEHOLDERS = ("pool", "investor", "call")
REFERENCE_MAX = 35  # what a SWIFT MT103 reference line and a SEPA end-to-end id hold
_PLACEHOLDER = re.compile(r"\{([a-z]+)\}")
_REFERENCE_TEXT = re.compile(r"[A-Za-z0-9/.\- ]*")


def check_reference_pattern(value: object, field: str = "reference_pattern") -> str:
    """A payment reference pattern: letters, digits, / . - and spaces, with {investor} (so each
    investor's reference is their own) and optionally {pool} and {call}; at most 35 characters once
    filled in with ids of ten digits."""
    pattern = clean_text(value, field, max_length=60)
    names = _PLACEHOLDER.findall(pattern)
    unknown = sorted(set(names) - set(REFERENCE_PLACEHOLDERS))
    if unknown:
        raise ValidationError(
            field, f"may only use {{pool}}, {{investor}} and {{call}}, not {{{unknown[0]}}}"
        )
    if "investor" not in names:
        raise ValidationError(
            field, "must contain {investor}, so that each investor's reference is their own"
        )
    if len(names) != len(set(names)):
        raise ValidationError(field, "must use each of {pool}, {investor} and {call} at most once")
    if not _REFERENCE_TEXT.fullmatch(_PLACEHOLDER.sub("", pattern)):
        raise ValidationError(
            field, "may only hold letters, digits, / . - and spaces besides the {...} parts"
        )
    longest = _PLACEHOLDER.sub("9" * 10, pattern)
    if len(longest) > REFERENCE_MAX:
        raise ValidationError(
            field, f"must stay within {REFERENCE_MAX} characters once filled in", limit=REFERENCE_MAX
        )
    return pattern


def payment_reference(pattern: str, *, pool_id: int, investor_id: int, call_number: int | None = None) -> str:
    """The reference an investor quotes on a wire: the pool's pattern filled in ({call} left out
    where no call is named)."""
    values_ = {
        "pool": str(pool_id),
        "investor": str(investor_id),
        "call": "" if call_number is None else str(call_number),
    }
    return _PLACEHOLDER.sub(lambda m: values_[m.group(1)], pattern).strip(" -/.")


def parse_payment_reference(pattern: str, reference: str) -> dict[str, int] | None:
    """Whom a wire's reference names under the pool's pattern ({"pool": 3, "investor": 17,
    "call": 2}), found anywhere in the bank's text, case and spacing aside; None if it names nobody."""
    regex = ""
    position = 0
    for match in _PLACEHOLDER.finditer(pattern):
        regex += r"\s*".join(re.escape(ch) for ch in pattern[position : match.start()] if not ch.isspace())
        regex += rf"\s*(?P<{match.group(1)}>[0-9]+)\s*"
        position = match.end()
    regex += r"\s*".join(re.escape(ch) for ch in pattern[position:] if not ch.isspace())
    found = re.search(rf"(?<![A-Za-z0-9]){regex}(?![0-9])", reference, re.IGNORECASE)
    if found is None:
        return None
    return {name: int(number) for name, number in found.groupdict().items()}


def call_purpose(purpose: str) -> CallPurpose:
    """Which line of the ILPA capital call template a call's purpose is: a call has one purpose, read
    as management fees or fund expenses when it says so, and as investments otherwise."""
    words = purpose.lower()
    if "fee" in words:
        return CallPurpose.MANAGEMENT_FEES
    if "expense" in words:
        return CallPurpose.FUND_EXPENSES
    return CallPurpose.INVESTMENTS
