"""Count a config's parameters as transformers builds the class in architectures[0] (not a test).

    /work/venv-torch/bin/python bench/count_vision_encoders.py CONFIG.json [...]

Builds the class on the meta device (no memory, no download), prints the total (tied tensors once) and
the split by top-level submodule (text model, vision tower, projector, heads), then llmmem's answer.
Verified with transformers 5.24.0 and torch 2.13.0 (CPU).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(config: dict):
    import torch
    import transformers
    from transformers import AutoConfig

    config = dict(config)
    model_type = config.pop("model_type")
    cls = getattr(transformers, config["architectures"][0])
    with torch.device("meta"):
        return cls(AutoConfig.for_model(model_type, **config))


def split(model) -> dict[str, int]:
    """Parameters by submodule path (two levels), each tensor counted once, where first met."""
    seen, parts = set(), {}
    for name, p in model.named_parameters():  # yields tied tensors once
        if id(p) in seen:
            continue
        seen.add(id(p))
        key = ".".join(name.split(".")[:2])
        parts[key] = parts.get(key, 0) + p.numel()
    return parts


def main(paths: list[str]) -> int:
    import transformers

    transformers.logging.set_verbosity_error()
    from llmmem.architectures import spec_from_config

    for path in paths:
        config = json.loads(Path(path).read_text())
        model = build(config)
        total = sum(p.numel() for p in model.parameters())
        try:
            spec = spec_from_config(config)
            ours, breakdown = spec.parameters, dict(spec.breakdown)
        except Exception as error:  # noqa: BLE001 - a bench prints what went wrong
            ours, breakdown = f"error: {error}", {}
        print(f"{Path(path).name}: {type(model).__name__} transformers={total:,} llmmem={ours if isinstance(ours, str) else f'{ours:,}'} "
              f"{'yes' if total == ours else 'NO'}")
        for key, count in split(model).items():
            print(f"    {key:<40} {count:>16,}")
        if breakdown:
            print(f"    llmmem breakdown: {breakdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
