"""Fund maths: pure functions, no I/O, Decimal in and out, used by every page, job and export.

Each module's docstring states its conventions (day counts, rounding, tie-breaks).
"""

from core.fundmath._common import DEFAULT_MINOR_UNIT
from core.fundmath.allocation import allocate, scale_down
from core.fundmath.fees import FeeBasis, FeeTerms, management_fee
from core.fundmath.returns import (
    MULTIPLE_QUANTUM,
    InvestorMetrics,
    Multiples,
    moic,
    multiples,
    portfolio_metrics,
    xirr,
    xnpv,
)
from core.fundmath.statement import KINDS, CapitalAccount, Movement, MovementKind, capital_account
from core.fundmath.waterfall import (
    WaterfallResult,
    WaterfallTerms,
    WaterfallTier,
    preferred_return,
    waterfall,
)

__all__ = [
    "DEFAULT_MINOR_UNIT",
    "KINDS",
    "MULTIPLE_QUANTUM",
    "CapitalAccount",
    "FeeBasis",
    "FeeTerms",
    "InvestorMetrics",
    "Movement",
    "MovementKind",
    "Multiples",
    "WaterfallResult",
    "WaterfallTerms",
    "WaterfallTier",
    "allocate",
    "capital_account",
    "management_fee",
    "moic",
    "multiples",
    "portfolio_metrics",
    "preferred_return",
    "scale_down",
    "waterfall",
    "xirr",
    "xnpv",
]
