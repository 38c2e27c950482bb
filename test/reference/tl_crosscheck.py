#!/usr/bin/env python3
"""Cross-check Model Lens's CLI against TransformerLens itself, hook by hook, in both modes.

Not run in CI (TransformerLens cannot be installed on the build machine); it is for anyone with
Python who wants to see that Model Lens computes what TransformerLens does. docs/TESTING.md says
how to run it.

Usage (from the repository root, after `npm run build`):
    pip install transformer_lens safetensors
    python3 test/reference/tl_crosscheck.py --model DIR [--tl-name gpt2] [--tokens 50256,464,2068]
        [--modes processed,raw] [--tol 1e-4] [--cli "node dist/cli.js"] [--tl-version 3]

For each mode it
  1. runs `model-lens run --model DIR --tokens ... --attn-result --out TMP.safetensors
     --tl-version V` (plus --no-processing for "raw"), which writes every hook point plus "logits";
  2. builds TransformerLens's model for the same folder:
       processed = HookedTransformer.from_pretrained (fold_ln, center_writing_weights,
                   center_unembed, fold_value_biases), raw = from_pretrained_no_processing;
     with --tl-name NAME (an official name such as gpt2, for a folder holding that checkpoint)
     through those functions themselves (hf_model= the folder's GPT2LMHeadModel); otherwise from
     the folder's own config the way from_pretrained does it (convert_gpt2_weights, then
     load_and_process_state_dict), so any GPT-2 shape works, including the generated tiny one;
  3. runs run_with_cache with use_attn_result on and compares every tensor: the two sets of
     names must be equal (so a hook present in one release and not the other is caught), and
     max|ModelLens - TL| / max|TL| must be within --tol for each (causally masked -inf scores
     must match exactly).

V defaults to the major version of the installed transformer_lens, so the CLI follows the same
hook meanings (docs/HOOKS.md: 3.x hooks LayerNorm's hook_normalized before its gain and bias and
has unembed.hook_in/hook_out; 2.x does not). Exit status 0 only if every mode passes.

--cache FILE compares one existing export (from the CLI or the activation panel) instead of
running the CLI; then --modes must name the single mode it was made in.
"""

import argparse
import importlib.metadata
import math
import os
import shlex
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from transformers import GPT2LMHeadModel
from transformer_lens import HookedTransformer, HookedTransformerConfig

try:  # TransformerLens 2.x and 3.x
    from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights
except ImportError:  # 1.x
    from transformer_lens.loading_from_pretrained import convert_gpt2_weights

PROCESSING = ("fold_ln", "center_writing_weights", "center_unembed", "fold_value_biases")


def installed_tl_major():
    try:
        return int(importlib.metadata.version("transformer_lens").split(".")[0])
    except Exception:  # an editable checkout without metadata: assume the current release
        return 3


def build_model(model_dir, processed, tl_name):
    hf = GPT2LMHeadModel.from_pretrained(model_dir, torch_dtype=torch.float32)
    switches = {k: processed for k in PROCESSING}
    if tl_name:
        load = HookedTransformer.from_pretrained if processed else HookedTransformer.from_pretrained_no_processing
        model = load(tl_name, hf_model=hf, device="cpu", dtype=torch.float32, **switches)
    else:
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
            normalization_type="LNPre" if processed else "LN",
            original_architecture="GPT2LMHeadModel",
            default_prepend_bos=True,
            dtype=torch.float32,
        )
        model = HookedTransformer(cfg)
        model.load_and_process_state_dict(convert_gpt2_weights(hf, cfg), **switches)
    model.set_use_attn_result(True)
    model.eval()
    return model


def run_cli(cli, model_dir, tokens, processed, tl_major, out):
    cmd = shlex.split(cli) + [
        "run", "--model", model_dir, "--tokens", ",".join(map(str, tokens)),
        "--attn-result", "--out", out, "--tl-version", str(tl_major),
    ]
    if not processed:
        cmd.append("--no-processing")
    print("$", " ".join(shlex.quote(c) for c in cmd))
    subprocess.run(cmd, check=True)


def read_cache(path):
    tensors = {}
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        for key in f.keys():
            tensors[key] = f.get_tensor(key).to(torch.float64)
    return tensors, meta


def tokens_from(meta):
    # the CLI writes "50256,464,…"; accept a JSON list too
    raw = meta.get("tokens", "").strip().strip("[]")
    return [int(t) for t in raw.split(",") if t.strip()] if raw else None


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


def compare(mode, ours, theirs, tol, strict):
    """Prints one line per tensor; True when every error is within tol and (strict) the names match."""
    names = list(theirs)
    only_ours = [n for n in ours if n not in theirs]
    only_theirs = [n for n in theirs if n not in ours]
    width = max(len(n) for n in names)
    worst, over = 0.0, []
    print(f"\n== {mode}: {len(ours)} tensors from Model Lens, {len(theirs)} from TransformerLens")
    for name in names:
        if name not in ours:
            continue
        err = rel_err(ours[name], theirs[name])
        worst = max(worst, err)
        if err > tol:
            over.append(name)
        print(f"{name:<{width}}  {err:.3e}{'  OVER' if err > tol else ''}")
    for label, extra in (("only in Model Lens's export", only_ours), ("only in TransformerLens's cache", only_theirs)):
        if extra:
            print(f"{label}: {', '.join(extra)}")
    # a given export may be filtered (--names) or lack logits; a CLI run here must have everything
    ok = not over and not only_ours and (not only_theirs or not strict)
    print(f"{mode}: worst relative error {worst:.3e} (tolerance {tol:g}); {'PASS' if ok else 'FAIL'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face GPT-2 folder (config.json + model.safetensors)")
    ap.add_argument("--tl-name", help="official TransformerLens name of this checkpoint (gpt2, gpt2-medium, ...)")
    ap.add_argument("--tokens", default="50256,464,2068,7586,21831,18045,625,262,16931,3290,13")
    ap.add_argument("--modes", default="processed,raw", help="processed, raw, or both (comma-separated)")
    ap.add_argument("--cli", default="node dist/cli.js", help="how to start model-lens")
    ap.add_argument("--cache", help="compare this export instead of running the CLI (one mode)")
    ap.add_argument("--tl-version", type=int, choices=(2, 3), help="hook meanings the CLI follows (default: installed transformer_lens)")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in ("processed", "raw") for m in modes):
        sys.exit("--modes takes processed, raw or both")
    if args.cache and len(modes) != 1:
        sys.exit("--cache holds one mode's run: pass --modes processed or --modes raw")
    tl_major = args.tl_version or installed_tl_major()
    print(f"transformer_lens {importlib.metadata.version('transformer_lens')}; Model Lens follows its {tl_major}.x hook meanings")

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            processed = mode == "processed"
            tokens = [int(t) for t in args.tokens.split(",")]
            if args.cache:
                ours, meta = read_cache(args.cache)
                tokens = tokens_from(meta) or tokens
                if meta.get("transformer_lens_version") not in (None, f"{tl_major}.x"):
                    print(f"note: the export follows TransformerLens {meta['transformer_lens_version']}, the comparison {tl_major}.x")
            else:
                out = os.path.join(tmp, f"{mode}.safetensors")
                run_cli(args.cli, args.model, tokens, processed, tl_major, out)
                ours, _ = read_cache(out)
            model = build_model(args.model, processed, args.tl_name)
            with torch.no_grad():
                logits, cache = model.run_with_cache(torch.tensor([tokens]))
            theirs = dict(cache.items())
            theirs["logits"] = logits
            ok = compare(mode, ours, theirs, args.tol, strict=not args.cache) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
