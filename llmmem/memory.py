"""The core table's formulas: weights, the seed's rule of thumb, the largest layer, training with Adam.

All pure integer arithmetic on byte counts. The serving estimate (KV cache, activations, engines) lives
in serving.py and engines/.
"""

from __future__ import annotations

from fractions import Fraction

from .precisions import Precision
from .spec import ModelSpec

# The seed's rule of thumb: M = P * 4 bytes / (32 / Q) * 1.2.
SEED_OVERHEAD = Fraction(6, 5)


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)


def weights_bytes(parameters: int, precision: Precision) -> int:
    """Every parameter stored at `precision`, as accelerate's Model Memory Calculator sizes a model."""
    return precision.weights_bytes(parameters)


def seed_formula_bytes(parameters: int, bits: int) -> int:
    """M = P * 4 / (32 / Q) * 1.2 bytes, exactly (70e9 at Q=16 is 168e9). Rounded up to whole bytes."""
    return _ceil(Fraction(parameters * 4) / Fraction(32, bits) * SEED_OVERHEAD)


def largest_layer_bytes(spec: ModelSpec, precision: Precision) -> int | None:
    """The biggest decoder block or the embedding at `precision`: the least one device must hold when
    a model is offloaded layer by layer. None when only a parameter count is known."""
    if spec.largest_layer_parameters is None:
        return None
    return precision.weights_bytes(spec.largest_layer_parameters)


def training_adam_bytes(parameters: int, precision: Precision) -> int | None:
    """Peak memory to train with Adam at batch size 1, the way accelerate's estimate-memory computes it.

    NOTE: accelerate's `estimate_training_usage` takes the fp32 model size S and reports the largest of
    its stages: in fp32, the optimizer step at 4 x S (weights, gradients, two Adam states); in 16-bit
    mixed precision (and fp8 without MS-AMP), the optimizer states at 2 x S. It has no figure for int8
    or int4 training, so neither do we (None). Activations are not included, as there.
    """
    fp32_size = parameters * 4
    if precision.bits == 32:
        return fp32_size * 4
    if precision.name in ("fp16", "fp8"):
        return fp32_size * 2
    return None
