"""Raw parameter counts as people write them."""

import pytest

from llmmem.errors import InputError
from llmmem.resolve import parse_parameter_count, resolve


@pytest.mark.parametrize(
    "text, expected",
    [
        ("70B", 70_000_000_000),
        ("70b", 70_000_000_000),
        ("7e9", 7_000_000_000),
        ("8.03 billion", 8_030_000_000),
        ("1.5T", 1_500_000_000_000),
        ("405000000000", 405_000_000_000),
        ("350M", 350_000_000),
        ("1,234,567", 1_234_567),
        ("0.5B", 500_000_000),
        ("125m", 125_000_000),
        ("13 B", 13_000_000_000),
        ("7B params", 7_000_000_000),
        ("405853388800", 405_853_388_800),
    ],
)
def test_counts_people_write(text, expected):
    assert parse_parameter_count(text) == expected


@pytest.mark.parametrize("text", ["abc", "-7B", "0", "nan", "inf", "1e40", "", "   ", "7 bytes", "7X", "0.0000001"])
def test_nonsense_is_refused_with_one_clear_line(text):
    with pytest.raises(InputError) as info:
        parse_parameter_count(text)
    message = str(info.value)
    assert "\n" not in message
    assert "like 70B" in message


def test_resolve_turns_a_count_into_a_bare_spec():
    resolved = resolve("70B")
    assert resolved.source == "parameter-count"
    assert resolved.spec.parameters == 70_000_000_000
    assert not resolved.spec.has_shape
