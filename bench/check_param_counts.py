"""Check llmmem's parameter counts against what transformers allocates (not a test; needs torch + transformers).

    python bench/check_param_counts.py [CONFIG.json | FOLDER ...] [--markdown docs/ACCURACY.md]

Without arguments it checks every config in llmmem/catalog/configs and tests/fixtures/{extra_configs,
configs_new}. Each model is built on the meta device (no memory, no download, no remote code):
- "whole": the class the config's `architectures[0]` names (vision tower and projector included); a
  model_type transformers does not know (kimi_k2) is built as that class's own config type;
- "text": for a config with a text_config, the causal LM built from text_config alone.
llmmem's count must equal "whole"; its text part (spec.part_totals["text"]) must equal "text". When the
multimodal module is not there, a wrapper's count is its text model and is compared with "text".
Verified with transformers 5.24.0 and torch 2.13.0 (CPU). Prints a table; exits 1 on any mismatch.
--markdown FILE writes (or replaces) the section SECTION_TITLE of FILE with a per-family summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmmem.architectures import spec_from_config  # noqa: E402
from llmmem.multimodal import WRAPPERS  # noqa: E402

FLAG_VARIANTS = "tests/fixtures/flag_variants.json"
SECTION_TITLE = "## Parameter counts against transformers (bench/check_param_counts.py)"
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
    wrapper = WRAPPERS.get(config["model_type"])
    text.setdefault("model_type", wrapper.text_type if wrapper else None)
    model_type = text.pop("model_type")
    try:
        with torch.device("meta"):
            return _count(AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **text)))
    except ValueError:
        return None  # NOTE: a text config with no causal-LM class of its own (qwen3_vl_text)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def configs(paths: list[str]) -> list[tuple[str, dict]]:
    """(name, config) for every config file given (folders: their *.json); a table like
    tests/fixtures/flag_variants.json ({name: {"config": ...}}) gives one config per entry."""
    found: list[tuple[str, dict]] = []
    items = paths or [str(ROOT / folder) for folder in DEFAULT_FOLDERS] + [str(ROOT / FLAG_VARIANTS)]
    for item in items:
        path = Path(item)
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            data = json.loads(file.read_text())
            if all(isinstance(v, dict) and "config" in v for v in data.values()) and data:
                found.extend((f"{file.name}:{name}", entry["config"]) for name, entry in sorted(data.items()))
            else:
                found.append((file.name, data))
    return found


def markdown_section(results: list[tuple[str, str, int | None, int | None, int, str, bool]], version: str) -> list[str]:
    """Per family: configs checked, exact ones, and the largest; then the configs_new rows one by one."""
    by_family: dict[str, list] = {}
    for row in results:
        by_family.setdefault(row[1], []).append(row)
    lines = [
        SECTION_TITLE,
        "",
        f"Every config in llmmem/catalog/configs, tests/fixtures/extra_configs, tests/fixtures/configs_new and"
        f" {FLAG_VARIANTS}, built with"
        f" transformers {version} on the meta device (the class `architectures[0]` names; a wrapper's text model"
        " separately) and compared with llmmem's count to the unit. Reproduce: `python bench/check_param_counts.py"
        " --markdown docs/ACCURACY.md` in an environment with torch and transformers.",
        "",
        "| model_type | configs | exact | largest (transformers) | counted by |",
        "|---|---:|---:|---:|---|",
    ]
    for family, rows in sorted(by_family.items()):
        largest = max((r[2] or r[4]) for r in rows)
        lines.append(f"| {family} | {len(rows)} | {sum(r[6] for r in rows)} | {largest:,} | {', '.join(sorted({r[5] for r in rows}))} |")
    total = len(results)
    lines += ["", f"{sum(r[6] for r in results)} of {total} configs exact.", ""]
    return lines


def write_section(path: Path, section: list[str]) -> None:
    """Replace this script's section of the doc (or append it), keeping every other section."""
    old = path.read_text().splitlines() if path.exists() else []
    out, skipping = [], False
    for line in old:
        if line.startswith("## "):
            skipping = line == SECTION_TITLE
        if not skipping:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    path.write_text("\n".join(out + [""] + section) + "\n")


def main(paths: list[str]) -> int:
    markdown = None
    if "--markdown" in paths:
        at = paths.index("--markdown")
        markdown, paths = Path(paths[at + 1]), paths[:at] + paths[at + 2:]
    results = []
    try:
        import torch  # noqa: F401
        import transformers
    except ImportError:
        print("torch and transformers are not installed: run this with a python that has them (pip install torch transformers)")
        return 0
    transformers.logging.set_verbosity_error()
    print(f"transformers {transformers.__version__}")
    print(f"{'config':<58} {'whole':>16} {'text':>16} {'llmmem':>16} {'llmmem text':>16}  match  counted by")
    mismatches = checked = 0
    for name, config in configs(paths):
        try:
            whole, text = whole_count(config), text_count(config)
        except Exception as error:  # noqa: BLE001 (a bench: print and go on)
            print(f"{name:<58} transformers cannot build it: {type(error).__name__}: {error}")
            continue
        try:
            spec = spec_from_config(config)
        except Exception as error:  # noqa: BLE001 (a bench: print and go on)
            print(f"{name:<58} {_n(whole):>16} {_n(text):>16}  llmmem refused: {error}")
            continue
        own_text = spec.part_totals["text"]
        has_parts = spec.parameters != own_text
        want = whole if (has_parts or text is None) else text
        ok = (want is None or spec.parameters == want) and (text is None or own_text == text)
        checked += 1
        mismatches += not ok
        results.append((name, str(spec.model_type), whole, text, spec.parameters, spec.counted_by, ok))
        print(
            f"{name:<58} {_n(whole):>16} {_n(text):>16} {_n(spec.parameters):>16} {_n(own_text):>16}"
            f"  {'yes' if ok else 'NO':<5}  {spec.counted_by}"
        )
    print(f"{checked - mismatches}/{checked} exact")
    if markdown is not None:
        write_section(markdown, markdown_section(results, transformers.__version__))
        print(f"wrote the section {SECTION_TITLE!r} of {markdown}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
