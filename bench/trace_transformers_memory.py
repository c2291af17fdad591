"""Trace what transformers keeps alive, tensor by tensor, without a GPU: the evidence behind
llmmem/engines/transformers.py and llmmem/training.py.

Needs torch, transformers and peft (not llmmem dependencies; run it in
an environment that has them). No test imports it.

How: the model is built at full size on the meta device (shapes, no data, no compute) and run under a
TorchDispatchMode that sees every tensor an op returns; weak references tell when each storage dies,
so the live bytes and their peak follow Python's and autograd's references exactly as on a GPU
(without the caching allocator's rounding and without the cuBLAS workspace). Two stand-ins:
  - SDPA: on meta it decomposes into the math kernel, which a GPU never uses here, so attention is a
    registered function that keeps what the fused CUDA kernels keep for the backward (q, k, v, the
    output and the fp32 log-sum-exp) and returns an output laid out as theirs (B, T, heads, dim).
  - AdamW runs with foreach=True, its default on CUDA (on meta torch falls back to the for-loop).
Known gaps: autocast has no meta backend (mixed precision: `mixed-tiny` runs shrunken models on the CPU), the
MoE grouped_mm path differs on meta, dropout masks are bf16 here but bool on CUDA.

  python bench/trace_transformers_memory.py prefill CONFIG.json --tokens 2048 --batch 1
  python bench/trace_transformers_memory.py train CONFIG.json --recipe lora [--checkpointing]
  python bench/trace_transformers_memory.py saved CONFIG.json --recipe full     # one layer's saved tensors
  python bench/trace_transformers_memory.py families                           # fine-tuning: estimate vs trace
  python bench/trace_transformers_memory.py prefill-families --tokens 4096 --batch 2   # inference: the same
  python bench/trace_transformers_memory.py mixed-tiny                         # autocast, shrunken, on the CPU
"""

from __future__ import annotations

import argparse
import json
import sys
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONFIGS = ROOT / "llmmem" / "catalog" / "configs"
FAMILY_CONFIGS = [
    "Qwen__Qwen2.5-0.5B", "meta-llama__Llama-3.2-1B-Instruct", "HuggingFaceTB__SmolLM2-135M", "Qwen__Qwen3-0.6B",
    "google__gemma-2b", "google__gemma-3-1b-it", "mistralai__Mistral-7B-v0.1", "microsoft__Phi-3.5-mini-instruct",
    "allenai__OLMo-2-1124-7B", "bigcode__starcoder2-3b", "EleutherAI__pythia-1.4b", "microsoft__phi-1_5",
    "openai-community__gpt2", "facebook__opt-125m",
]


def _torch():
    import torch
    import transformers
    import transformers.masking_utils as masking_utils
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten
    from transformers import AttentionInterface

    transformers.logging.set_verbosity_error()
    # NOTE: with use_cache=False transformers looks for packed sequences with .item(), which meta
    # tensors cannot answer; the fixture's inputs are never packed.
    masking_utils.find_packed_sequence_indices = lambda *args, **kwargs: None

    class FusedAttention(torch.autograd.Function):
        @staticmethod
        def forward(ctx, q, k, v):
            b, h, t, d = q.shape  # NOTE: the CUDA kernels write (B, T, heads, dim), whatever q's layout
            out = torch.empty((b, t, h, d), dtype=q.dtype, device=q.device).transpose(1, 2)
            lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
            ctx.save_for_backward(q, k, v, out, lse)
            return out

        @staticmethod
        def backward(ctx, grad):
            q, k, v, _, _ = ctx.saved_tensors
            return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

    def fused_attention(module, query, key, value, attention_mask, **kwargs):
        device = query.device.type
        if device != "meta" and torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)
            query, key, value = query.to(dtype), key.to(dtype), value.to(dtype)
        return FusedAttention.apply(query, key, value).transpose(1, 2), None

    AttentionInterface.register("sdpa_fused_standin", fused_attention)

    class Live(TorchDispatchMode):
        """Live bytes of every storage an op returned, and their peak."""

        def __init__(self):
            super().__init__()
            self.storages: dict[int, list[int]] = {}
            self.live = self.peak = 0
            self.peak_op = ""

        def track(self, tensor) -> None:
            storage = tensor.untyped_storage()
            key = storage._cdata
            entry = self.storages.get(key)
            if entry is None:
                entry = self.storages[key] = [storage.nbytes(), 0]
                self.live += entry[0]
                if self.live > self.peak:
                    self.peak, self.peak_op = self.live, self.op
            entry[1] += 1
            weakref.finalize(tensor, self._release, key)

        def _release(self, key: int) -> None:
            entry = self.storages.get(key)
            if entry is not None:
                entry[1] -= 1
                if entry[1] == 0:
                    self.live -= entry[0]
                    del self.storages[key]

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.op = str(func)
            out = func(*args, **(kwargs or {}))
            for item in tree_flatten(out)[0]:
                if isinstance(item, torch.Tensor):
                    self.track(item)
            return out

    return torch, Live


def _config(path: Path, layers: int | None = None):
    from transformers import AutoConfig

    raw = json.loads(path.read_text())
    raw.pop("quantization_config", None)
    raw.pop("auto_map", None)
    if layers:
        for key in ("num_hidden_layers", "n_layer"):
            if key in raw:
                raw[key] = layers
        raw["num_hidden_layers"] = layers
        if isinstance(raw.get("layer_types"), list):
            raw["layer_types"] = raw["layer_types"][:layers]
    kwargs = dict(raw)
    return raw, AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)


def trace_prefill(path: Path, tokens: int, batch: int) -> tuple[int, str]:
    torch, Live = _torch()
    from transformers import AutoModelForCausalLM

    _, cfg = _config(path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.eval()
    ids = torch.zeros((batch, tokens), dtype=torch.long, device="meta")
    live = Live()
    with torch.inference_mode(), live:
        model(input_ids=ids, use_cache=True)
    return live.peak, live.peak_op


def trace_train(path: Path, recipe: str, checkpointing: bool, tokens: int, batch: int) -> tuple[int, int]:
    """Peak live bytes over two optimizer steps, and the trainable parameter count."""
    torch, Live = _torch()
    from transformers import AutoModelForCausalLM

    _, cfg = _config(path)
    live = Live()
    with live:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa_fused_standin")
        if recipe == "lora":
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0))
            for p in model.parameters():
                if p.requires_grad:
                    live.track(p)  # NOTE: peft builds adapters outside the mode's view
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            if recipe == "lora":
                model.enable_input_require_grads()
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-5, foreach=True)
    ids = torch.zeros((batch, tokens), dtype=torch.long, device="meta")
    with live:
        for _ in range(2):
            loss = model(input_ids=ids, labels=ids, use_cache=False).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            del loss
    return live.peak, sum(p.numel() for p in params)


def saved_tensors(path: Path, recipe: str, tokens: int) -> list[tuple]:
    """(bytes, shape, dtype, grad_fn) of every distinct storage one layer's forward saves for the backward."""
    torch, _ = _torch()
    from transformers import AutoModelForCausalLM

    _, cfg = _config(path, layers=1)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa_fused_standin")
    if recipe == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0))
    model.train()
    seen: dict[int, tuple] = {}

    def pack(t):
        if not isinstance(t, torch.nn.Parameter):
            key = t.untyped_storage()._cdata
            seen.setdefault(key, (t.untyped_storage().nbytes(), tuple(t.shape), str(t.dtype).replace("torch.", ""),
                                  type(t.grad_fn).__name__ if t.grad_fn is not None else "-"))
        return t

    ids = torch.zeros((1, tokens), dtype=torch.long, device="meta")
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids, use_cache=False).loss
    return list(seen.values())


def _spec(path: Path):
    from llmmem.architectures import spec_from_config

    return spec_from_config(json.loads(path.read_text()))


PREFILL_CONFIGS = [
    "EleutherAI__gpt-j-6b", "EleutherAI__pythia-1.4b", "HuggingFaceTB__SmolLM2-135M", "Qwen__Qwen2.5-1.5B",
    "Qwen__Qwen3-1.7B", "TinyLlama__TinyLlama-1.1B-Chat-v1.0", "allenai__OLMo-2-1124-7B", "bigcode__starcoder2-3b",
    "google__gemma-2b", "google__gemma-3-4b-it", "google__gemma-3-1b-it", "meta-llama__Llama-2-7b-hf",
    "microsoft__Phi-3.5-mini-instruct", "microsoft__Phi-4-mini-instruct", "microsoft__phi-1_5",
    "mistralai__Mistral-7B-v0.1", "mistralai__Mistral-Nemo-Base-2407", "openai-community__gpt2-medium",
]


def prefill_families(tokens: int = 2048, batch: int = 1) -> str:
    """Forward peak, estimate vs trace, for configs outside the measured rows (sdpa families only:
    the math kernel and grouped_mm run differently on meta)."""
    from llmmem.engines.transformers import estimate_transformers

    lines = ["| config | tokens x batch | trace (GB) | estimate (GB) | error | moment |", "|---|---|---|---|---|---|"]
    for name in PREFILL_CONFIGS:
        path = CONFIGS / f"{name}.json"
        spec = _spec(path)
        length = min(tokens, spec.max_position_embeddings or tokens)
        peak, _ = trace_prefill(path, length, batch)
        est = estimate_transformers(spec, batch=batch, tokens=length, first_forward=False)
        lines.append(f"| {name} | {length} x {batch} | {peak / 1e9:.4f} | {est.forward_peak_bytes / 1e9:.4f} | "
                     f"{(est.forward_peak_bytes - peak) / peak * 100:+.2f}% | {est.peak_moment} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


MIXED_CONFIGS = ["meta-llama__Llama-3.2-1B-Instruct", "Qwen__Qwen2.5-0.5B", "Qwen__Qwen3-0.6B", "google__gemma-3-1b-it", "google__gemma-2b"]


def mixed_tiny(tokens: int = 512, batch: int = 4) -> str:
    """Mixed precision (fp32 model under bf16 autocast) has no meta backend: run shrunken copies of
    each family on the CPU, for real, and compare the traced peak with the estimate for the same config."""
    torch, Live = _torch()
    from transformers import AutoConfig, AutoModelForCausalLM

    from llmmem.training import TrainingOptions, estimate_training

    shrink = dict(hidden_size=128, num_attention_heads=4, num_key_value_heads=2, head_dim=32, intermediate_size=384,
                  vocab_size=2048, num_hidden_layers=4, max_position_embeddings=4096)
    lines = ["| family (shrunk) | checkpointing | trace (MB) | estimate (MB) | error |", "|---|---|---|---|---|"]
    for name in MIXED_CONFIGS:
        raw = json.loads((CONFIGS / f"{name}.json").read_text())
        raw.pop("quantization_config", None)
        raw.update({k: v for k, v in shrink.items() if k in raw or k == "head_dim"})
        if isinstance(raw.get("layer_types"), list):
            raw["layer_types"] = raw["layer_types"][:4]
        if raw.get("sliding_window"):
            raw["sliding_window"] = 64
        kwargs = dict(raw)
        cfg = AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)
        for checkpointing in (False, True):
            live = Live()
            with live:
                model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="sdpa_fused_standin")
                if checkpointing:
                    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
                model.train()
                optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, foreach=True)
            ids = torch.randint(0, 2048, (batch, tokens))
            with live:
                for _ in range(2):
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    del loss
            options = TrainingOptions(recipe="mixed", batch=batch, seq_len=tokens, checkpointing=checkpointing, first_in_process=False)
            est = estimate_training(_spec_raw(raw), options).peak_bytes
            lines.append(f"| {name} | {'yes' if checkpointing else 'no'} | {live.peak / 1e6:.2f} | {est / 1e6:.2f} | "
                         f"{(est - live.peak) / live.peak * 100:+.2f}% |")
            print(lines[-1], flush=True)
    return "\n".join(lines)


def _spec_raw(raw: dict):
    from llmmem.architectures import spec_from_config

    return spec_from_config(raw)


def families(tokens: int = 1024) -> str:
    """Estimate vs trace for every family config, full bf16 and LoRA, with and without checkpointing."""
    from llmmem.training import TrainingOptions, estimate_training

    lines = ["| config | recipe | checkpointing | trace (GB) | estimate (GB) | error |", "|---|---|---|---|---|---|"]
    for name in FAMILY_CONFIGS:
        path = CONFIGS / f"{name}.json"
        for recipe in ("full", "lora"):
            for checkpointing in (False, True):
                peak, _ = trace_train(path, "lora" if recipe == "lora" else "full", checkpointing, tokens, 1)
                options = TrainingOptions(recipe=recipe, seq_len=tokens, checkpointing=checkpointing, first_in_process=False)
                est = estimate_training(_spec(path), options).peak_bytes
                lines.append(f"| {name} | {recipe} | {'yes' if checkpointing else 'no'} | {peak / 1e9:.3f} | "
                             f"{est / 1e9:.3f} | {(est - peak) / peak * 100:+.2f}% |")
                print(lines[-1], flush=True)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("prefill", "train", "saved", "families", "prefill-families", "mixed-tiny"))
    parser.add_argument("config", nargs="?", help="a config.json (default folder: llmmem/catalog/configs)")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--recipe", choices=("full", "lora"), default="full")
    parser.add_argument("--checkpointing", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "families":
        print(families(args.tokens))
        return 0
    if args.mode == "mixed-tiny":
        print(mixed_tiny())
        return 0
    if args.mode == "prefill-families":
        print(prefill_families(args.tokens, args.batch))
        return 0
    if not args.config:
        parser.error("give a config.json")
    path = Path(args.config)
    if not path.exists():
        path = CONFIGS / (args.config if args.config.endswith(".json") else args.config + ".json")
    if args.mode == "prefill":
        from llmmem.engines.transformers import estimate_transformers

        peak, op = trace_prefill(path, args.tokens, args.batch)
        est = estimate_transformers(_spec(path), batch=args.batch, tokens=args.tokens, first_forward=False)
        print(f"trace {peak:,} bytes (at {op}); estimate {est.forward_peak_bytes:,} ({est.peak_moment})")
    elif args.mode == "train":
        from llmmem.training import TrainingOptions, estimate_training

        peak, trainable = trace_train(path, args.recipe, args.checkpointing, args.tokens, args.batch)
        options = TrainingOptions(recipe=args.recipe, batch=args.batch, seq_len=args.tokens,
                                  checkpointing=args.checkpointing, first_in_process=False)
        est = estimate_training(_spec(path), options)
        print(f"trace {peak:,} bytes, {trainable:,} trainable; estimate {est.peak_bytes:,} ({est.peak_moment}), "
              f"{est.trainable_parameters:,} trainable")
    else:
        total = 0
        for nbytes, shape, dtype, grad_fn in saved_tensors(path, args.recipe, args.tokens):
            print(f"{nbytes:>15,}  {shape}  {dtype}  {grad_fn}")
            total += nbytes
        print(f"{total:>15,}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
