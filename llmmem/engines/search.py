"""The one search the engines share: the largest size that still fits."""

from __future__ import annotations

from typing import Callable


def largest_fitting(fits: Callable[[int], bool], cap: int) -> int:
    """The largest n in [1, cap] with fits(n), by bisection; 0 when not even 1 fits.

    fits must be monotone (true up to some n, false after it): memory grows with every size searched
    here (sequences, context tokens, max_model_len)."""
    if not fits(1):
        return 0
    low, high = 1, cap
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low
