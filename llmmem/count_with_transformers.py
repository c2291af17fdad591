"""Count a model_type llmmem has no family row for, by letting transformers build it (optional extra).

    pip install 'llmmem[transformers]'

Only when torch and transformers are importable. The class the config's `architectures[0]` names (else
the causal LM, else the base model) is built on the meta device from the config alone: no weights, no
download, never remote code. It runs in a child process with a time limit, so torch is never imported
into the caller's process (nothing else in llmmem imports torch) and a slow or hanging build is killed.

The count is exact for that class (tied tensors once, buffers not counted); the breakdown groups the
parameters by their names (spec.BREAKDOWN_KEYS) so the serving estimate can split them, and anything
it cannot place goes to "other". The spec says so: counted_by "transformers".
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

from llmmem.config_check import config_dtype
from llmmem.errors import ConfigError
from llmmem.spec import BREAKDOWN_KEYS, COUNTED_BY_TRANSFORMERS, ModelSpec

TIME_LIMIT_S = 60.0  # NOTE: importing torch + transformers cold takes ~5-15 s; building on meta, well under 1 s
EXTRA_HINT = "pip install 'llmmem[transformers]'"
# NOTE: a deployment can switch the path off even where torch is installed (a public app should: each
# count costs a child process of ~400 MiB and ~10 s of CPU).
DISABLE_ENV = "LLMMEM_COUNT_WITH_TRANSFORMERS"
# One child at a time: concurrent requests queue (within their time limit) instead of each starting torch.
_ONE_CHILD = threading.BoundedSemaphore(1)


class TransformersCountError(ConfigError):
    """transformers is missing, does not know the model_type, failed, or ran past the time limit."""


def available() -> bool:
    """True when torch and transformers can be imported (checked without importing them) and the
    deployment has not switched this path off (LLMMEM_COUNT_WITH_TRANSFORMERS=0)."""
    if os.environ.get(DISABLE_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


@dataclass(frozen=True)
class TransformersCount:
    parameters: int
    class_name: str
    version: str
    groups: Mapping[str, int]  # spec.BREAKDOWN_KEYS -> parameters, adding up to `parameters`


def count(config: Mapping, *, timeout: float = TIME_LIMIT_S) -> TransformersCount:
    """Build the model on the meta device in a child process; raise TransformersCountError when that fails."""
    if not available():
        raise TransformersCountError(f"torch and transformers are not installed: {EXTRA_HINT} to count this model exactly")
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    if not _ONE_CHILD.acquire(timeout=timeout):
        raise TransformersCountError(f"transformers is busy counting another model for longer than {timeout:g} s: give a parameter count like 70B")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "llmmem.count_with_transformers"],
            input=json.dumps(dict(config)),
            capture_output=True,
            text=True,
            timeout=max(0.1, timeout - (time.monotonic() - started)),
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise TransformersCountError(f"transformers took longer than {timeout:g} s to build the model: give a parameter count like 70B") from None
    finally:
        _ONE_CHILD.release()
    return parse_child_output(done.returncode, done.stdout, done.stderr)


def parse_child_output(returncode: int, stdout: str, stderr: str) -> TransformersCount:
    """The child's one JSON line -> TransformersCount, or its one-line reason -> TransformersCountError."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if returncode != 0 or "parameters" not in answer:
        reason = answer.get("error") or (stderr.strip().splitlines() or ["no output"])[-1]
        raise TransformersCountError(f"transformers could not build this model ({reason[:300]}): give a parameter count like 70B")
    groups = {key: int(value) for key, value in answer["groups"].items() if key in BREAKDOWN_KEYS and value}
    parameters = int(answer["parameters"])
    if sum(groups.values()) != parameters:
        raise TransformersCountError("transformers' parameter groups do not add up: give a parameter count like 70B")
    return TransformersCount(parameters, str(answer["class"]), str(answer["version"]), groups)


def spec_from_transformers(config: Mapping, name: str | None = None, *, timeout: float = TIME_LIMIT_S) -> ModelSpec:
    """A ModelSpec whose count transformers made, with the shape fields the config gives plainly."""
    counted = count(config, timeout=timeout)
    text = config.get("text_config") if isinstance(config.get("text_config"), Mapping) else config
    return ModelSpec(
        name=name or config.get("_name_or_path") or str(config.get("model_type") or "unknown model"),
        parameters=counted.parameters,
        model_type=config.get("model_type"),
        breakdown=counted.groups,
        num_layers=_int(text, "num_hidden_layers", "n_layer", "num_layers"),
        hidden_size=_int(text, "hidden_size", "n_embd", "d_model"),
        vocab_size=_int(text, "vocab_size"),
        num_attention_heads=_int(text, "num_attention_heads", "n_head"),
        num_kv_heads=_int(text, "num_key_value_heads") or _int(text, "num_attention_heads", "n_head"),
        head_dim=_int(text, "head_dim"),
        intermediate_size=_int(text, "intermediate_size"),
        max_position_embeddings=_int(text, "max_position_embeddings"),
        tie_word_embeddings=config.get("tie_word_embeddings") is True,
        torch_dtype=config_dtype(config),
        quantization=config.get("quantization_config"),
        counted_by=COUNTED_BY_TRANSFORMERS,
        notes=(
            f"counted by transformers {counted.version}: {counted.class_name} built on the meta device from the config"
            " (no weights, no remote code); the breakdown groups its parameters by name",
        ),
    )


def _int(config: Mapping, *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


# ----------------------------------------------------------------------------- parameter names -> groups

# First match wins; matched against the parameter's full dotted name, lower case.
_GROUP_RULES: tuple[tuple[str, str], ...] = (
    (r"(multi_modal_projector|mm_projector|projector|\.merger\.|connector)", "projector"),
    (r"(^|\.)(vision|visual|vision_tower|vision_model|image_encoder|audio_tower)\.", "vision"),
    (r"(^|\.)lm_head\.", "lm_head"),
    (r"(position_embedding|pos_embed|(^|\.)wpe\.|embed_positions)", "position_embedding"),
    (r"(embed_tokens|word_embeddings|(^|\.)wte\.|(^|\.)embeddings?\.weight$|(^|\.)shared\.weight$)", "embedding"),
    (r"(norm|(^|\.)ln_?\w*\.|layernorm|layer_norm)", "norms"),
    (r"shared_expert", "shared_experts"),
    (r"\.experts\.", "experts"),
    (r"(\.router\.|\.gate\.weight$|\.gate\.e_score|\.wg\.)", "router"),
    (r"(mixer|mamba|ssm|linear_attn|\.conv\.|conv1d|short_conv)\.\w*proj", "ssm_proj"),
    (r"(mixer|mamba|ssm|linear_attn|\.conv\.|conv1d|a_log|dt_bias)", "ssm_other"),
    (r"(q_proj|o_proj|\.query\.|attn\.out_proj|attention\.output\.dense|attention\.dense|attn\.c_proj|attention\.[qo]\.|qkv)", "attention_qo"),
    (r"(k_proj|v_proj|\.key\.|\.value\.|kv_proj|attention\.[kv]\.)", "attention_kv"),
    (r"(mlp|ffn|feed_forward|densereludense|fc1|fc2|up_proj|down_proj|gate_proj|intermediate\.dense|output\.dense)", "mlp"),
)


def group_of(name: str) -> str:
    """The breakdown key a parameter name belongs to ("other" when no rule places it)."""
    lowered = name.lower()
    for pattern, key in _GROUP_RULES:
        if re.search(pattern, lowered):
            return key
    return "other"


# ----------------------------------------------------------------------------- the child process


def _build_and_count(config: dict[str, Any]) -> dict[str, Any]:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    model_type = config.pop("model_type", None)
    if not model_type:
        return {"error": "the config has no model_type"}
    config.pop("auto_map", None)  # NOTE: never remote code, whatever the config points to
    try:
        conf = AutoConfig.for_model(model_type, **config)
    except (KeyError, ValueError):
        return {"error": f"transformers {transformers.__version__} does not know model_type {model_type!r}"}
    arch = (config.get("architectures") or [None])[0]
    named = getattr(transformers, arch, None) if isinstance(arch, str) else None
    builders = [named._from_config] if named is not None and hasattr(named, "_from_config") else []
    builders += [AutoModelForCausalLM.from_config, AutoModel.from_config]
    last_error = "no model class for this config"
    for build in builders:
        try:
            with torch.device("meta"):
                model = build(conf)
            break
        except Exception as error:  # noqa: BLE001 (try the next class)
            last_error = f"{type(error).__name__}: {error}".splitlines()[0]
    else:
        return {"error": last_error}
    groups: dict[str, int] = {}
    for name, parameter in model.named_parameters():  # tied tensors once
        key = group_of(name)
        groups[key] = groups.get(key, 0) + parameter.numel()
    total = sum(p.numel() for p in model.parameters())
    return {"parameters": total, "class": type(model).__name__, "version": transformers.__version__, "groups": groups}


def _main() -> int:
    try:
        config = json.loads(sys.stdin.read())
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        print(json.dumps({"error": f"bad config: {error}"}))
        return 2
    answer = _build_and_count(config)
    print(json.dumps(answer))
    return 0 if "parameters" in answer else 1


if __name__ == "__main__":
    sys.exit(_main())
