"""The core table's formulas, to the byte."""

import pytest
from hypothesis import given, strategies as st

from llmmem.memory import largest_layer_bytes, seed_formula_bytes, training_adam_bytes, weights_bytes
from llmmem.precisions import get_precision
from llmmem.spec import ModelSpec


@pytest.mark.parametrize(
    "parameters, bits, expected",
    [
        (70_000_000_000, 16, 168_000_000_000),  # the seed article's example: 168 GB
        (70_000_000_000, 32, 336_000_000_000),
        (70_000_000_000, 8, 84_000_000_000),
        (70_000_000_000, 4, 42_000_000_000),
        (8_030_261_248, 16, 19_272_626_996),  # 8030261248 * 2.4 = 19272626995.2, rounded up
        (1, 4, 1),  # 0.6 bytes still needs a byte
    ],
)
def test_seed_formula_is_the_rule_of_thumb_exactly(parameters, bits, expected):
    assert seed_formula_bytes(parameters, bits) == expected


@given(st.integers(min_value=1, max_value=10**15), st.sampled_from([4, 8, 16, 32]))
def test_seed_formula_is_weights_times_1_2(parameters, bits):
    exact_times_five = parameters * bits * 6 // 8  # 5 x (P * Q/8 * 1.2)
    got = seed_formula_bytes(parameters, bits)
    assert 5 * got >= exact_times_five and 5 * (got - 1) < parameters * bits * 6 / 8


@pytest.mark.parametrize(
    "precision, expected",
    [("fp32", 32_121_044_992), ("fp16", 16_060_522_496), ("bf16", 16_060_522_496), ("fp8", 8_030_261_248),
     ("int8", 8_030_261_248), ("int4", 4_015_130_624)],
)
def test_weights_bytes_llama_3_1_8b(precision, expected):
    assert weights_bytes(8_030_261_248, get_precision(precision)) == expected


def test_int4_rounds_an_odd_count_up_to_whole_bytes():
    assert weights_bytes(3, get_precision("int4")) == 2


@pytest.mark.parametrize(
    "precision, expected",
    [
        ("fp32", 16 * 1_000_000_000),  # accelerate: step = 4 x fp32 size
        ("fp16", 8 * 1_000_000_000),  # accelerate: optimizer states = 2 x fp32 size
        ("fp8", 8 * 1_000_000_000),  # accelerate treats fp8 without MS-AMP like 16-bit
        ("int8", None),  # accelerate prints N/A
        ("int4", None),
    ],
)
def test_training_with_adam_matches_accelerate(precision, expected):
    assert training_adam_bytes(1_000_000_000, get_precision(precision)) == expected


def test_largest_layer_bytes_scales_with_precision():
    spec = ModelSpec(name="m", parameters=10_000, largest_layer_parameters=1_001)
    assert largest_layer_bytes(spec, get_precision("fp32")) == 4_004
    assert largest_layer_bytes(spec, get_precision("int4")) == 501
    assert largest_layer_bytes(ModelSpec(name="count", parameters=10), get_precision("fp16")) is None
