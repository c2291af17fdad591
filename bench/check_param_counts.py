"""Check llmmem's parameter counts against what transformers allocates (not a test; needs transformers).

    python bench/check_param_counts.py [CONFIG.json ...]

Without arguments it checks every config in llmmem/catalog/configs and tests/fixtures/extra_configs.
Each model is built on the meta device (no memory, no download) with the causal-LM class; for a
multimodal wrapper (a config with text_config) the text model, which is what llmmem sizes.
Verified with transformers 5.24.0 and torch 2.13.0 (CPU).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmmem.architectures import _TEXT_MODEL_TYPES, spec_from_config  # noqa: E402


def transformers_count(config: dict) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = dict(config)
    if isinstance(config.get("text_config"), dict):
        text = dict(config["text_config"])
        text.setdefault("model_type", _TEXT_MODEL_TYPES[config["model_type"]])
        config = text
    model_type = config.pop("model_type")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **config))
    return sum(p.numel() for p in model.parameters())  # parameters() yields tied tensors once


def main(paths: list[str]) -> int:
    try:
        import transformers
    except ImportError:
        print("transformers is not installed: pip install torch transformers in a scratch virtualenv first")
        return 0
    transformers.logging.set_verbosity_error()
    if not paths:
        paths = sorted(str(p) for folder in ("llmmem/catalog/configs", "tests/fixtures/extra_configs")
                       for p in (ROOT / folder).glob("*.json"))  # fmt: skip
    print(f"transformers {transformers.__version__}")
    print(f"{'config':<52} {'transformers':>16} {'llmmem':>16}  match")
    mismatches = 0
    for path in paths:
        config = json.loads(Path(path).read_text())
        want = transformers_count(config)
        got = spec_from_config(config).parameters
        mismatches += want != got
        print(f"{Path(path).name:<52} {want:>16,} {got:>16,}  {'yes' if want == got else 'NO'}")
    print(f"{len(paths) - mismatches}/{len(paths)} exact")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
