"""Check llmmem's parameter counts against what transformers allocates (not a test; needs torch + transformers).

    /work/venv-torch/bin/python bench/check_param_counts.py [CONFIG.json | FOLDER ...]

Without arguments it checks every config in llmmem/catalog/configs and tests/fixtures/{extra_configs,
configs_new}. Each model is built on the meta device (no memory, no download, no remote code):
- "whole": the class the config's `architectures[0]` names (vision tower and projector included); a
  model_type transformers does not know (kimi_k2) is built as that class's own config type;
- "text": for a config with a text_config, the causal LM built from text_config alone.
llmmem's count must equal "whole"; its text part (spec.part_totals["text"]) must equal "text". When the
multimodal module is not there, a wrapper's count is its text model and is compared with "text".
Verified with transformers 5.24.0 and torch 2.13.0 (CPU). Prints a table; exits 1 on any mismatch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmmem.architectures import _TEXT_MODEL_TYPES, spec_from_config  # noqa: E402

DEFAULT_FOLDERS = ("llmmem/catalog/configs", "tests/fixtures/extra_configs", "tests/fixtures/configs_new")


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields tied tensors once


def whole_count(config: dict) -> int | None:
    """The class architectures[0] names, built from the config on the meta device (None: no such class)."""
    import torch
    import transformers
    from transformers import AutoConfig

    config = dict(config)
    arch = (config.get("architectures") or [None])[0]
    cls = getattr(transformers, arch, None) if arch else None
    if cls is None:
        return None
    model_type = config.pop("model_type")
    try:
        conf = AutoConfig.for_model(model_type, **config)
    except (KeyError, ValueError):
        # NOTE: e.g. kimi_k2: its remote code is the class architectures names; use that class's config type.
        conf = cls.config_class(**config)
    with torch.device("meta"):
        return _count(cls._from_config(conf))


def text_count(config: dict) -> int | None:
    """The causal LM built from text_config alone (None when the config has no text_config)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if not isinstance(config.get("text_config"), dict):
        return None
    text = dict(config["text_config"])
    text.setdefault("model_type", _TEXT_MODEL_TYPES.get(config["model_type"]))
    model_type = text.pop("model_type")
    try:
        with torch.device("meta"):
            return _count(AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **text)))
    except ValueError:
        return None  # NOTE: a text config with no causal-LM class of its own (qwen3_vl_text)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def configs(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for item in paths or [str(ROOT / folder) for folder in DEFAULT_FOLDERS]:
        path = Path(item)
        found.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return found


def main(paths: list[str]) -> int:
    try:
        import torch  # noqa: F401
        import transformers
    except ImportError:
        print("torch and transformers are not installed: run this with /work/venv-torch/bin/python (or pip install torch transformers)")
        return 0
    transformers.logging.set_verbosity_error()
    print(f"transformers {transformers.__version__}")
    print(f"{'config':<58} {'whole':>16} {'text':>16} {'llmmem':>16} {'llmmem text':>16}  match  counted by")
    mismatches = checked = 0
    for path in configs(paths):
        config = json.loads(path.read_text())
        try:
            whole, text = whole_count(config), text_count(config)
        except Exception as error:  # noqa: BLE001 (a bench: print and go on)
            print(f"{path.name:<58} transformers cannot build it: {type(error).__name__}: {error}")
            continue
        try:
            spec = spec_from_config(config)
        except Exception as error:  # noqa: BLE001 (a bench: print and go on)
            print(f"{path.name:<58} {_n(whole):>16} {_n(text):>16}  llmmem refused: {error}")
            continue
        own_text = spec.part_totals["text"]
        has_parts = spec.parameters != own_text
        want = whole if (has_parts or text is None) else text
        ok = (want is None or spec.parameters == want) and (text is None or own_text == text)
        checked += 1
        mismatches += not ok
        print(
            f"{path.name:<58} {_n(whole):>16} {_n(text):>16} {_n(spec.parameters):>16} {_n(own_text):>16}"
            f"  {'yes' if ok else 'NO':<5}  {spec.counted_by}"
        )
    print(f"{checked - mismatches}/{checked} exact")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
