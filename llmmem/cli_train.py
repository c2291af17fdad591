"""`python -m llmmem train MODEL --recipe full|mixed|lora|qlora ...`: fine-tuning memory per GPU.

A thin front end over resolve() and training.estimate_training(); errors become one line, exit 2.
"""

from __future__ import annotations

import argparse
import json

from .cli_common import Parser, add_hub_flags, guarded, token_from
from .errors import InputError
from .report import unit_line
from .request import UNITS
from .training import LORA_TARGETS, OPTIMIZERS, RECIPES, TrainingOptions, estimate_training

LIMITS = {"batch": (1, 65_536), "seq_len": (1, 2**24), "lora_rank": (1, 4096)}
TERM_LABELS = {
    "weights": "weights",
    "adapters": "LoRA adapters (fp32)",
    "gradients": "gradients",
    "optimizer_states": "optimizer states",
    "optimizer_step_temporaries": "optimizer step temporaries",
    "saved_activations": "saved activations (decoder layers)",
    "logits_and_loss": "logits and loss (fp32 copies)",
    "autocast_weight_copies": "autocast bf16 weight copies",
    "cublas_workspaces": "cuBLAS workspaces",
    "dequantised_weight": "dequantised 4-bit weight (bf16)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m llmmem train", description="Fine-tuning memory of a transformers causal LM: "
                     "PyTorch's allocated peak over a training step, term by term, and the GPUs it needs.")
    parser.add_argument("model", help="Hub ID or URL, catalog name, or a local config.json")
    parser.add_argument("--recipe", choices=RECIPES, default="full",
                        help="full: bf16 model and AdamW states; mixed: fp32 model under bf16 autocast; "
                             "lora: frozen bf16 model with adapters; qlora: nf4 base with adapters (default full)")
    parser.add_argument("--batch", type=int, default=1, help="sequences per step (default 1)")
    parser.add_argument("--seq-len", type=int, default=2048, help="tokens per sequence (default 2048)")
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing (non-reentrant, per layer)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw",
                        help="adamw (torch's default foreach), adamw-fused, adamw-8bit (bitsandbytes), sgd")
    parser.add_argument("--lora-rank", type=int, default=16, help="LoRA rank r (default 16)")
    parser.add_argument("--lora-targets", choices=LORA_TARGETS, default="all-linear")
    parser.add_argument("--gpu", default=None, help="GPU to size for (default: a list of common GPUs)")
    parser.add_argument("--unit", choices=tuple(UNITS), default="GB", help="unit of the table (default GB = 10^9 bytes)")
    parser.add_argument("--json", action="store_true", help="print the JSON object")
    add_hub_flags(parser)
    return parser


def _check_ranges(args: argparse.Namespace) -> None:
    for name, (low, high) in LIMITS.items():
        value = getattr(args, name)
        if not low <= value <= high:
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{flag} {value} is out of range: give a whole number from {low:,} to {high:,}")


def format_table(result: dict, unit: str) -> str:
    scale = UNITS[unit]
    lines = [
        f"{result['model']}: fine-tuning ({result['recipe']}, {result['optimizer']}), batch {result['batch']} x "
        f"{result['seq_len']:,} tokens, checkpointing {'on' if result['checkpointing'] else 'off'}",
        f"  parameters {result['parameters']:,}, trainable {result['trainable_parameters']:,}",
        "",
    ]
    for key, value in result["terms"].items():
        if value:
            lines.append(f"  {TERM_LABELS.get(key, key):38} {value / scale:10.2f} {unit}")
    lines.append(f"  {'peak (torch max_memory_allocated)':38} {result['peak_bytes'] / scale:10.2f} {unit}  "
                 f"at the {result['peak_moment']}")
    lines.append(f"  {'accelerate training (Adam) 4 x weights':38} {result['accelerate_training_bytes'] / scale:10.2f} {unit}")
    lines.append("")
    for row in result["gpus"]:
        if row["count"] == 1:
            verdict = "fits one GPU"
        elif row["count"]:
            verdict = f"needs {row['count']} GPUs sharding weights, gradients and states (FSDP / ZeRO-3)"
        else:
            verdict = "does not fit: activations alone exceed it (use checkpointing, a smaller batch or LoRA)"
        lines.append(f"  {row['gpu']:16} {row['memory_bytes'] / scale:8.2f} {unit}: {verdict}")
    lines.append(unit_line(unit))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    def run() -> str:
        from .gpus import get_gpu
        from .resolve import resolve

        _check_ranges(args)
        gpu = get_gpu(args.gpu) if args.gpu else None
        resolved = resolve(args.model, token=token_from(args), offline=args.offline, revision=args.revision)
        options = TrainingOptions(
            recipe=args.recipe, batch=args.batch, seq_len=args.seq_len, checkpointing=args.checkpointing,
            optimizer=args.optimizer, lora_rank=args.lora_rank, lora_targets=args.lora_targets, gpu=gpu,
        )
        result = estimate_training(resolved.spec, options).to_dict()
        result["notes"] = list(resolved.notes) + result["notes"]
        return json.dumps(result, indent=2) if args.json else format_table(result, args.unit)

    return guarded(run)
