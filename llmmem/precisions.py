"""One registry of number formats: name, bits per parameter, label.

The core table sizes a model's weights as if every parameter were stored in the format, the way
accelerate's Model Memory Calculator does (an int4 row is a quarter of the fp16 row). What a real
quantized checkpoint adds on top (scales, layers kept in 16-bit) is the serving estimate's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class Precision:
    name: str
    bits: int
    label: str
    aliases: tuple[str, ...] = ()
    # The weights format (llmmem/quantization.py FORMATS) a checkpoint in this precision is served in.
    serving_format: str = "fp16"

    @property
    def bytes_per_parameter(self) -> float:
        return self.bits / 8

    def weights_bytes(self, parameters: int) -> int:
        # NOTE: -(-a // b) is ceil for ints; a 4-bit odd count still needs its last whole byte.
        return -(-parameters * self.bits // 8)


PRECISIONS: dict[str, Precision] = {
    p.name: p
    for p in (
        Precision("fp32", 32, "32-bit (fp32)", ("float32", "32", "32bit", "32-bit", "full"), "fp32"),
        Precision("fp16", 16, "16-bit (fp16/bf16)", ("bf16", "float16", "bfloat16", "half", "16", "16bit", "16-bit"), "fp16"),
        Precision("fp8", 8, "8-bit float (fp8)", ("float8", "e4m3", "fp8_e4m3"), "fp8"),
        Precision("int8", 8, "8-bit (int8)", ("8", "8bit", "8-bit", "q8"), "w8a8"),
        Precision("int4", 4, "4-bit (int4)", ("4", "4bit", "4-bit", "q4"), "w4a16"),
    )
}

DEFAULT_PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8", "int4")

_BY_ALIAS = {alias: p for p in PRECISIONS.values() for alias in (p.name, *p.aliases)}


def get_precision(name: str) -> Precision:
    precision = _BY_ALIAS.get(name.strip().lower())
    if precision is None:
        raise InputError(f"unknown precision {name!r}: use one of {', '.join(PRECISIONS)}")
    return precision


def parse_precisions(text: str | list[str | Precision] | tuple[str | Precision, ...] | None) -> list[Precision]:
    """'fp32,fp16' (or a list of names or Precisions) -> Precision objects, in order, duplicates dropped."""
    if text is None:
        names: list[str] = list(DEFAULT_PRECISIONS)
    elif isinstance(text, str):
        names = [part for part in text.split(",") if part.strip()]
    else:
        names = list(text)
    if not names:
        raise InputError("no precision given: use one or more of " + ", ".join(PRECISIONS))
    chosen: list[Precision] = []
    for name in names:
        precision = name if isinstance(name, Precision) else get_precision(name)
        if precision not in chosen:
            chosen.append(precision)
    return chosen
