"""engines/search.largest_fitting: the bisection the engines share."""

from llmmem.engines.search import largest_fitting


def test_the_last_size_that_fits():
    asked = []

    def fits(n: int) -> bool:
        asked.append(n)
        return n <= 37_000

    assert largest_fitting(fits, 131_072) == 37_000
    assert len(asked) <= 1 + 17  # one check of 1, then log2(131,072) halvings


def test_the_cap_and_nothing():
    assert largest_fitting(lambda n: True, 4096) == 4096
    assert largest_fitting(lambda n: n <= 1, 4096) == 1
    assert largest_fitting(lambda n: False, 4096) == 0
    assert largest_fitting(lambda n: True, 1) == 1
