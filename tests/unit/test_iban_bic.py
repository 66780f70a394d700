"""Wire instructions without I/O: IBAN check digits and lengths, SWIFT/BIC format, US routing number
checksums, and the payment reference pattern that names each investor's wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain import (
    call_purpose,
    check_account_number,
    check_bank_code,
    check_bic,
    check_iban,
    check_reference_pattern,
    grouped_iban,
    iban_check_digits_ok,
    parse_payment_reference,
    payment_reference,
    routing_number_ok,
)
from core.errors import ValidationError
from core.vocabulary import CallPurpose

# Published example IBANs (the IBAN registry's and the banks' own), each valid.
VALID_IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "CH93 0076 2011 6238 5295 7",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "NO93 8601 1117 947",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_published_ibans_pass_and_come_back_compact(iban: str) -> None:
    assert check_iban(iban) == iban.replace(" ", "")
    assert grouped_iban(check_iban(iban.lower())) == iban


def _mod97(iban: str) -> int:
    """ISO 13616 by the textbook, digit by digit: the test's own arithmetic."""
    rearranged = iban[4:] + iban[:4]
    remainder = 0
    for ch in rearranged:
        for digit in str(ord(ch) - 55) if ch.isalpha() else ch:
            remainder = (remainder * 10 + int(digit)) % 97
    return remainder


@given(st.sampled_from(VALID_IBANS), st.integers(min_value=4), st.sampled_from("0123456789"))
def test_any_single_changed_digit_breaks_the_check(iban: str, position: int, digit: str) -> None:
    compact = iban.replace(" ", "")
    index = 4 + position % (len(compact) - 4)
    changed = compact[:index] + digit + compact[index + 1 :]
    assert iban_check_digits_ok(changed) == (_mod97(changed) == 1) == (changed == compact)


@pytest.mark.parametrize(
    ("iban", "words"),
    [
        ("DE88 3704 0044 0532 0130 00", "check digits do not match"),
        ("GB82 WEST 1234 5698 7654 3", "from GB has 22 characters, not 21"),
        ("DE89-3704-0044-0532-0130-001", "from DE has 22 characters"),
        ("12DE 3704 0044 0532 0130 00", "is not an IBAN"),
        ("DE89 3704 0044 0532 0130 0!", "is not an IBAN"),
    ],
)
def test_bad_ibans_are_refused_saying_why(iban: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words) as refused:
        check_iban(iban)
    assert refused.value.field == "account_number"


def test_an_account_number_is_an_iban_when_it_looks_like_one() -> None:
    assert check_account_number("000123-456 789") == "000123456789"
    with pytest.raises(ValidationError, match="check digits"):
        check_account_number("DE88 3704 0044 0532 0130 00")
    with pytest.raises(ValidationError, match="4 to 34 letters or digits"):
        check_account_number("12")


@pytest.mark.parametrize("bic", ["DEUTDEFF", "deutdeff500", "NEDSZAJJ", "BNPAFRPP XXX", "CHASUS33"])
def test_bics_of_8_or_11_characters_pass(bic: str) -> None:
    assert check_bic(bic) == bic.replace(" ", "").upper()


@pytest.mark.parametrize(
    "bic", ["DEUTDEF", "DEUT12FF", "DEUTDEFF5", "DEUTDEFF50", "DEUTDEFF500X", "1EUTDEFF"]
)
def test_malformed_bics_are_refused(bic: str) -> None:
    with pytest.raises(ValidationError, match="SWIFT/BIC") as refused:
        check_bic(bic)
    assert refused.value.field == "bank_code"


def test_routing_numbers_carry_their_checksum() -> None:
    assert routing_number_ok("021000021") and routing_number_ok("011000015")
    assert not routing_number_ok("021000022") and not routing_number_ok("02100002")
    assert check_bank_code("021000021") == "021000021"
    assert check_bank_code("deut de ff") == "DEUTDEFF"
    with pytest.raises(ValidationError, match="routing number"):
        check_bank_code("021000022")


def test_a_reference_pattern_names_each_investor_and_fits_a_wire() -> None:
    pattern = check_reference_pattern("IP{pool}-{investor}-{call}")
    reference = payment_reference(pattern, pool_id=3, investor_id=17, call_number=2)
    assert reference == "IP3-17-2"
    assert payment_reference(pattern, pool_id=3, investor_id=17) == "IP3-17"
    assert parse_payment_reference(pattern, "Wire from Ivy, ref: ip 3-17-2.") == {
        "pool": 3,
        "investor": 17,
        "call": 2,
    }
    assert parse_payment_reference(pattern, "IP3-17-23") == {"pool": 3, "investor": 17, "call": 23}
    assert parse_payment_reference(pattern, "XIP3-17-2") is None
    assert parse_payment_reference(pattern, "no reference") is None
    for bad, words in (
        ("REF-{pool}", "must contain {investor}"),
        ("{investor}-{investor}", "at most once"),
        ("{investor}-{amount}", "not {amount}"),
        ("{investor}?{call}", "letters, digits"),
        ("A-VERY-LONG-PREFIX-{pool}-{investor}", "35 characters"),
        ("<b>{investor}", "no HTML"),
    ):
        with pytest.raises(ValidationError, match=words):
            check_reference_pattern(bad)


@given(st.integers(1, 10**10), st.integers(1, 10**10), st.integers(1, 999))
def test_every_reference_reads_back_to_whom_it_names(pool: int, investor: int, call: int) -> None:
    for pattern in ("IP{pool}-{investor}-{call}", "{investor}/{call} FUND {pool}", "HF {investor}"):
        reference = payment_reference(pattern, pool_id=pool, investor_id=investor, call_number=call)
        named = parse_payment_reference(pattern, f"payment {reference} thanks")
        assert named == {
            k: v
            for k, v in {"pool": pool, "investor": investor, "call": call}.items()
            if f"{{{k}}}" in pattern
        }


def test_a_calls_purpose_picks_its_line_of_the_notice() -> None:
    assert call_purpose("Series A in Acme") is CallPurpose.INVESTMENTS
    assert call_purpose("Management FEES Q3") is CallPurpose.MANAGEMENT_FEES
    assert call_purpose("Fund expenses: audit") is CallPurpose.FUND_EXPENSES
