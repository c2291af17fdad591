"""Count a config's parameters as transformers builds the class in architectures[0] (not a test).

    python bench/count_vision_encoders.py CONFIG.json [...]
    python bench/count_vision_encoders.py --tables

Builds the class on the meta device (no memory, no download), prints the total (tied tensors once) and
the split by top-level submodule (text model, vision tower, projector, heads), then llmmem's answer.
--tables rebuilds every row of tests/test_multimodal.py and tests/test_encoders.py and prints
transformers' total (and, for multimodal rows, everything outside the text model) beside the table's.
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
    # NOTE: without architectures, the class llmmem counts by default (encoders.py's bare model).
    bare = {"bert": "BertModel", "roberta": "RobertaModel", "t5": "T5ForConditionalGeneration", "vit": "ViTModel"}
    cls = getattr(transformers, (config.get("architectures") or [bare.get(model_type)])[0])
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


_TEXT_PREFIXES = ("model.language_model.", "language_model.", "model.text_model.", "lm_head.")


def non_text(model) -> int:
    """Parameters outside the text model and its LM head: the vision tower and projector."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(_TEXT_PREFIXES))


def tables() -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import pytest  # noqa: F401 - the test modules import it
    except ImportError:
        # NOTE: the scratch venv with torch has no pytest; borrow the test interpreter's (appended last, so
        # the venv's own packages win).
        import subprocess

        site = subprocess.run(["python3", "-c", "import pytest, os; print(os.path.dirname(os.path.dirname(pytest.__file__)))"],
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        sys.path.append(site)
    import test_encoders
    import test_multimodal

    from llmmem.multimodal import WRAPPERS

    rows = [(n, json.loads((test_multimodal.NEW / n).read_text()), int(test_multimodal.NEW_ROWS[n]["full_model_params"]), v)
            for n, v in test_multimodal.FIXTURES]  # fmt: skip
    rows += test_multimodal.ALL_CASES
    rows += [(what, config, total, None) for what, config, total in test_encoders.ALL_CASES]
    bad = 0
    for what, config, total, outside in rows:
        model = build(config)
        got_total = sum(p.numel() for p in model.parameters())
        got_outside = non_text(model) if outside is not None or config["model_type"] in WRAPPERS else None
        ok = got_total == total and (outside is None or got_outside == outside)
        bad += not ok
        print(f"{'ok ' if ok else 'NO '} {what[:70]:<70} total {got_total:>16,} (table {total})"
              + (f"  vision+projector {got_outside:,} (table {outside})" if got_outside is not None else ""))
    print(f"{len(rows) - bad}/{len(rows)} rows agree with transformers")
    return 1 if bad else 0


def main(paths: list[str]) -> int:
    if not paths or paths[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        import transformers
    except ImportError:
        print("torch and transformers are not installed: run this with a python that has them (pip install torch transformers)")
        return 0
    transformers.logging.set_verbosity_error()
    if paths == ["--tables"]:
        return tables()
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
