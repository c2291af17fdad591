import pytest

from llmmem.errors import InputError
from llmmem.precisions import DEFAULT_PRECISIONS, get_precision, parse_precisions


@pytest.mark.parametrize(
    "name, canonical, bits",
    [("fp32", "fp32", 32), ("float32", "fp32", 32), ("FP16", "fp16", 16), ("bf16", "fp16", 16), ("bfloat16", "fp16", 16),
     ("fp8", "fp8", 8), ("int8", "int8", 8), ("8bit", "int8", 8), ("int4", "int4", 4), (" 4-bit ", "int4", 4)],
)
def test_names_and_aliases(name, canonical, bits):
    precision = get_precision(name)
    assert (precision.name, precision.bits) == (canonical, bits)


def test_default_is_32_16_8_4_bit():
    assert [p.bits for p in parse_precisions(None)] == [32, 16, 8, 4]
    assert tuple(p.name for p in parse_precisions(None)) == DEFAULT_PRECISIONS


def test_list_keeps_order_and_drops_duplicates():
    assert [p.name for p in parse_precisions("int4,fp16,bf16,int4")] == ["int4", "fp16"]


@pytest.mark.parametrize("text", ["fp64", "int3", ",", ""])
def test_unknown_precision_says_what_to_use(text):
    with pytest.raises(InputError, match="fp32, fp16, fp8, int8, int4"):
        parse_precisions(text)


def test_every_precision_names_a_served_weights_format():
    from llmmem.precisions import PRECISIONS
    from llmmem.quantization import FORMATS

    assert {p.name: p.serving_format for p in PRECISIONS.values()} == {
        "fp32": "fp32", "fp16": "fp16", "fp8": "fp8", "int8": "w8a8", "int4": "w4a16"}
    assert all(p.serving_format in FORMATS for p in PRECISIONS.values())
