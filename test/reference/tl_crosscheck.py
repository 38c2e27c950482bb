#!/usr/bin/env python3
"""Cross-check a Model Lens activation cache against TransformerLens itself.

Not run in CI (TransformerLens cannot be installed on the build machine); it is for users who
have Python and want to see, hook by hook, that Model Lens computes what TransformerLens does.

Usage:
    pip install transformer_lens safetensors
    python test/reference/tl_crosscheck.py --model DIR --cache CACHE.safetensors \
        [--tokens 50256,464,2068] [--no-processing] [--use-attn-result] [--split-qkv-input] \
        [--attn-in] [--hook-mlp-in]

DIR is a Hugging Face GPT-2 folder (config.json + model.safetensors), e.g. the generated tiny
model or a snapshot from ~/.cache/huggingface. CACHE is a cache Model Lens exported for the same
folder and tokens: a .safetensors file whose tensor names are TransformerLens hook names (and
optionally "logits"). The tokens come from --tokens, else from a "tokens" tensor in the cache,
else from a JSON list in the cache's metadata under "tokens".

The model is built the way HookedTransformer.from_pretrained builds "gpt2" (convert_gpt2_weights
on GPT2LMHeadModel, then fold_ln / center_writing_weights / center_unembed / fold_value_biases),
but from the folder's own config, so any GPT-2 shape works, including the tiny one.

For each hook it prints max|ModelLens - TL| / max|TL| (the metric of test/unit/parity.test.ts;
causally masked -inf scores must match exactly) and exits non-zero if any exceeds --tol (1e-4).
"""

import argparse
import json
import math
import sys

import torch
from safetensors import safe_open
from transformers import GPT2LMHeadModel
from transformer_lens import HookedTransformer, HookedTransformerConfig

try:  # TransformerLens 2.x
    from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights
except ImportError:  # 1.x
    from transformer_lens.loading_from_pretrained import convert_gpt2_weights


def build_model(model_dir, processing, flags):
    hf = GPT2LMHeadModel.from_pretrained(model_dir, torch_dtype=torch.float32)
    c = hf.config
    cfg = HookedTransformerConfig(
        n_layers=c.n_layer,
        d_model=c.n_embd,
        n_heads=c.n_head,
        d_head=c.n_embd // c.n_head,
        d_mlp=c.n_inner or 4 * c.n_embd,
        d_vocab=c.vocab_size,
        n_ctx=c.n_positions,
        eps=c.layer_norm_epsilon,
        act_fn="gelu_new",
        # from_pretrained switches to LNPre when it folds LayerNorm
        normalization_type="LNPre" if processing else "LN",
        original_architecture="GPT2LMHeadModel",
        default_prepend_bos=True,
        dtype=torch.float32,
    )
    model = HookedTransformer(cfg)
    state_dict = convert_gpt2_weights(hf, cfg)
    model.load_and_process_state_dict(
        state_dict,
        fold_ln=processing,
        center_writing_weights=processing,
        center_unembed=processing,
        fold_value_biases=processing,
    )
    model.set_use_attn_result(flags.use_attn_result)
    model.set_use_split_qkv_input(flags.split_qkv_input)
    model.set_use_attn_in(flags.attn_in)
    model.set_use_hook_mlp_in(flags.hook_mlp_in)
    model.eval()
    return model


def read_cache(path):
    tensors = {}
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        for key in f.keys():
            tensors[key] = f.get_tensor(key).to(torch.float64)
    return tensors, meta


def rel_err(ours, theirs):
    ours = ours.to(torch.float64).reshape(-1)
    theirs = theirs.to(torch.float64).reshape(-1)
    if ours.numel() != theirs.numel():
        return math.inf
    masked = torch.isneginf(theirs)
    if not torch.equal(torch.isneginf(ours), masked):
        return math.inf
    o, t = ours[~masked], theirs[~masked]
    if not (torch.isfinite(o).all() and torch.isfinite(t).all()):
        return math.inf
    if t.numel() == 0:
        return 0.0
    return ((o - t).abs().max() / t.abs().max().clamp_min(1e-30)).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face GPT-2 folder")
    ap.add_argument("--cache", required=True, help="Model Lens cache export (.safetensors)")
    ap.add_argument("--tokens", help="comma-separated token ids (default: from the cache)")
    ap.add_argument("--no-processing", action="store_true", help="compare with from_pretrained_no_processing")
    ap.add_argument("--use-attn-result", action="store_true")
    ap.add_argument("--split-qkv-input", action="store_true")
    ap.add_argument("--attn-in", action="store_true")
    ap.add_argument("--hook-mlp-in", action="store_true")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    ours, meta = read_cache(args.cache)
    if args.tokens:
        tokens = [int(t) for t in args.tokens.split(",")]
    elif "tokens" in ours:
        tokens = [int(t) for t in ours.pop("tokens").reshape(-1).tolist()]
    elif "tokens" in meta:
        tokens = [int(t) for t in json.loads(meta["tokens"])]
    else:
        sys.exit("no tokens: pass --tokens or export a cache that records them")

    model = build_model(args.model, not args.no_processing, args)
    with torch.no_grad():
        logits, cache = model.run_with_cache(torch.tensor([tokens]))

    theirs = dict(cache.items())
    theirs["logits"] = logits
    rows, worst = [], 0.0
    for name, tensor in ours.items():
        if name not in theirs:
            rows.append((name, None))
            continue
        err = rel_err(tensor, theirs[name])
        worst = max(worst, err)
        rows.append((name, err))
    missing = [n for n in theirs if n not in ours]

    width = max(len(n) for n, _ in rows) if rows else 10
    for name, err in rows:
        print(f"{name:<{width}}  {'not a TransformerLens hook here' if err is None else f'{err:.3e}'}")
    if missing:
        print(f"\n{len(missing)} TransformerLens hooks not in the cache (fine if the export was filtered): {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    print(f"\nworst relative error {worst:.3e} over {sum(e is not None for _, e in rows)} tensors (tolerance {args.tol:g})")
    sys.exit(0 if worst <= args.tol and all(e is not None for _, e in rows) else 1)


if __name__ == "__main__":
    main()
