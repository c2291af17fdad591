"""Parameter counts of the building blocks every counting module adds up: a linear layer, a norm, an MLP."""

from __future__ import annotations


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def norm(size: int, bias: bool) -> int:
    """LayerNorm (weight and bias) when `bias`, else RMSNorm (weight only)."""
    return 2 * size if bias else size


def mlp(h: int, inner: int, kind: str, bias: bool) -> int:
    """A dense feed-forward block: gated (gate, up, down) or plain (up, down)."""
    if kind == "gated":
        return 3 * h * inner + ((2 * inner + h) if bias else 0)
    return 2 * h * inner + ((inner + h) if bias else 0)
