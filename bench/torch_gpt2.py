#!/usr/bin/python3
"""PyTorch peer of bench/engine.bench.ts: GPT-2's forward written out in torch, fp32, CPU.

It reads the same Hugging Face checkpoint (config.json + model.safetensors) as the engine and
answers JSON-line requests on stdin, one JSON reply per line on stdout, so the bench can
interleave engine and torch measurements in one run (a loaded machine then slows both alike).

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-numpy); it needs nothing else.
Requests:
  {"cmd": "info"}                      torch version, threads, which BLAS is mapped, matmul speed
  {"cmd": "forward", "tokens": [...], "keep": bool}
                                       one forward (keeping all activations, TransformerLens's
                                       names, when keep): its time in ms and the peak RSS during it
  {"cmd": "logits", "tokens": [...], "path": "..."}
                                       writes the logits [pos, d_vocab] as raw float32 to path
  {"cmd": "generate", "tokens": [...], "max_new": N}
                                       greedy generation of N tokens with a key/value cache (as
                                       Hugging Face's generate with use_cache=True): ids and ms
  {"cmd": "process", "dump": [...], "dir": "..."}
                                       TransformerLens's from_pretrained processing of the loaded
                                       weights, in torch (tl_process): its time in s; the tensors
                                       named in dump ("3.W_Q", "W_U", ...) written to dir as raw
                                       float32 (KEY.f32). The peer's own weights are not changed
  {"cmd": "quit"}
"""
import gc
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    """name -> float32 torch tensor. Format: u64 LE header length, JSON header, raw data."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(os.fstat(f.fileno()).st_size - 8 - n)
        f.readinto(data)  # writable, so torch.from_numpy shares it without a warning or a copy
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        raw = np.frombuffer(data, dtype=DTYPES[meta["dtype"]], count=(end - start) // np.dtype(DTYPES[meta["dtype"]]).itemsize, offset=start)
        if meta["dtype"] == "BF16":
            # bfloat16 is the top half of a float32.
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(raw.astype(np.float32, copy=False).reshape(meta["shape"]))
    return out


class GPT2:
    """GPT-2 (GPT2LMHeadModel semantics) from HF weights; Conv1D weights are [in, out]."""

    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        w = read_safetensors(os.path.join(folder, "model.safetensors"))
        body = "transformer." if any(k.startswith("transformer.") for k in w) else ""
        g = lambda k: w[body + k]
        self.n_layer, self.n_head, self.d = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.wte, self.wpe = g("wte.weight"), g("wpe.weight")
        self.layers = []
        for l in range(self.n_layer):
            p = f"h.{l}."
            self.layers.append({k: g(p + k) for k in [
                "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"]})
        self.ln_f_w, self.ln_f_b = g("ln_f.weight"), g("ln_f.bias")
        # lm_head is nn.Linear [d_vocab, d_model]. As transformers does (and the engine's loader),
        # tie_word_embeddings (default true) ties it to wte and a stored lm_head.weight is ignored.
        tied = cfg.get("tie_word_embeddings", True) is not False
        self.lm_head = self.wte if tied else w["lm_head.weight"]
        del w

    def to_dtype(self, dtype):
        """Every weight in `dtype`, as TransformerLens's from_pretrained(dtype=...) stores them; the forward then computes in it."""
        tied = self.lm_head is self.wte
        self.wte, self.wpe = self.wte.to(dtype), self.wpe.to(dtype)
        self.layers = [{k: v.to(dtype) for k, v in p.items()} for p in self.layers]
        self.ln_f_w, self.ln_f_b = self.ln_f_w.to(dtype), self.ln_f_b.to(dtype)
        self.lm_head = self.wte if tied else self.lm_head.to(dtype)
        gc.collect()

    def _ln(self, x, weight, bias, cache, prefix):
        if cache is None:
            return F.layer_norm(x, (self.d,), weight, bias, self.eps)
        # TransformerLens's LayerNorm, so hook_scale exists to be kept.
        x = x - x.mean(-1, keepdim=True)
        scale = (x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()  # [batch, pos, 1]
        normalized = x / scale * weight + bias  # [batch, pos, d_model]
        cache[prefix + ".hook_scale"] = scale
        cache[prefix + ".hook_normalized"] = normalized
        return normalized

    def forward(self, tokens, cache=None):
        """tokens [1, pos] int64 -> logits [1, pos, d_vocab]; fills cache with TransformerLens hook names when given."""
        keep = (lambda k, v: cache.__setitem__(k, v)) if cache is not None else (lambda k, v: None)
        T = tokens.shape[1]
        H, E = self.n_head, self.d // self.n_head
        embed = self.wte[tokens]  # [1, pos, d_model]
        pos = self.wpe[:T].unsqueeze(0)  # [1, pos, d_model]
        keep("hook_embed", embed)
        keep("hook_pos_embed", pos)
        x = embed + pos
        mask = torch.ones(T, T, dtype=torch.bool).tril()  # [query_pos, key_pos]
        for l, p in enumerate(self.layers):
            b = f"blocks.{l}"
            keep(b + ".hook_resid_pre", x)
            h = self._ln(x, p["ln_1.weight"], p["ln_1.bias"], cache, b + ".ln1")
            qkv = torch.addmm(p["attn.c_attn.bias"], h.view(T, self.d), p["attn.c_attn.weight"])  # [pos, 3·d_model]
            q, k, v = (t.view(1, T, H, E) for t in qkv.split(self.d, dim=1))  # [1, pos, head, d_head]
            keep(b + ".attn.hook_q", q)
            keep(b + ".attn.hook_k", k)
            keep(b + ".attn.hook_v", v)
            scores = q.transpose(1, 2) @ k.permute(0, 2, 3, 1) / math.sqrt(E)  # [1, head, query_pos, key_pos]
            scores = scores.masked_fill(~mask, float("-inf"))
            keep(b + ".attn.hook_attn_scores", scores)
            pattern = scores.softmax(-1)
            keep(b + ".attn.hook_pattern", pattern)
            z = (pattern @ v.transpose(1, 2)).transpose(1, 2)  # [1, pos, head, d_head]
            keep(b + ".attn.hook_z", z)
            attn_out = torch.addmm(p["attn.c_proj.bias"], z.reshape(T, self.d), p["attn.c_proj.weight"]).view(1, T, self.d)
            keep(b + ".hook_attn_out", attn_out)
            x = x + attn_out
            keep(b + ".hook_resid_mid", x)
            h = self._ln(x, p["ln_2.weight"], p["ln_2.bias"], cache, b + ".ln2")
            pre = torch.addmm(p["mlp.c_fc.bias"], h.view(T, self.d), p["mlp.c_fc.weight"])  # [pos, d_mlp]
            post = F.gelu(pre, approximate="tanh")  # gelu_new
            keep(b + ".mlp.hook_pre", pre.view(1, T, -1))
            keep(b + ".mlp.hook_post", post.view(1, T, -1))
            mlp_out = torch.addmm(p["mlp.c_proj.bias"], post, p["mlp.c_proj.weight"]).view(1, T, self.d)
            keep(b + ".hook_mlp_out", mlp_out)
            x = x + mlp_out
            keep(b + ".hook_resid_post", x)
        h = self._ln(x, self.ln_f_w, self.ln_f_b, cache, "ln_final")
        return (h.view(T, self.d) @ self.lm_head.t()).view(1, T, -1)  # [1, pos, d_vocab]


    def forward_kv(self, tokens, past):
        """tokens [1, T] after `past` (per layer (k, v) [1, head, P, d_head], or None) ->
        (the last position's logits [d_vocab], the new past), as GPT2's forward with use_cache."""
        T = tokens.shape[1]
        P = 0 if past is None else past[0][0].shape[2]
        H, E = self.n_head, self.d // self.n_head
        x = self.wte[tokens] + self.wpe[P:P + T].unsqueeze(0)  # [1, T, d_model]
        present = []
        for l, p in enumerate(self.layers):
            h = F.layer_norm(x, (self.d,), p["ln_1.weight"], p["ln_1.bias"], self.eps)
            qkv = torch.addmm(p["attn.c_attn.bias"], h.view(T, self.d), p["attn.c_attn.weight"])
            q, k, v = (t.view(1, T, H, E).transpose(1, 2) for t in qkv.split(self.d, dim=1))  # [1, head, T, d_head]
            if past is not None:
                k = torch.cat([past[l][0], k], dim=2)
                v = torch.cat([past[l][1], v], dim=2)
            present.append((k, v))
            scores = q @ k.transpose(-1, -2) / math.sqrt(E)  # [1, head, T, P + T]
            if T > 1:
                scores = scores.masked_fill(~torch.ones(T, P + T, dtype=torch.bool).tril(P), float("-inf"))
            z = (scores.softmax(-1) @ v).transpose(1, 2).reshape(T, self.d)
            x = x + torch.addmm(p["attn.c_proj.bias"], z, p["attn.c_proj.weight"]).view(1, T, self.d)
            h = F.layer_norm(x, (self.d,), p["ln_2.weight"], p["ln_2.bias"], self.eps)
            post = F.gelu(torch.addmm(p["mlp.c_fc.bias"], h.view(T, self.d), p["mlp.c_fc.weight"]), approximate="tanh")
            x = x + torch.addmm(p["mlp.c_proj.bias"], post, p["mlp.c_proj.weight"]).view(1, T, self.d)
        h = F.layer_norm(x[0, -1], (self.d,), self.ln_f_w, self.ln_f_b, self.eps)
        return h @ self.lm_head.t(), present

    def generate_greedy(self, tokens, max_new):
        """Greedy continuation of `tokens` (list of ids) by `max_new` tokens on the key/value cache."""
        ids, past = [], None
        step = torch.tensor([tokens], dtype=torch.int64)
        for _ in range(max_new):
            logits, past = self.forward_kv(step, past)
            nxt = int(torch.argmax(logits))
            ids.append(nxt)
            step = torch.tensor([[nxt]], dtype=torch.int64)
        return ids


def tl_process(model):
    """What HookedTransformer.from_pretrained does to GPT-2's weights with its defaults, in torch, fp32:
    the HF -> TransformerLens layout (loading_from_pretrained.py, convert_gpt2_weights), then
    ProcessWeights' fold_layer_norm (fold_biases, center_weights), center_writing_weights,
    center_unembed and fold_value_biases (transformer_lens/weight_processing.py, 3.x), step by step
    as those functions write them (each step a tensor expression over the state dict). A lower
    bound on TransformerLens's cost: it also builds the HF model and copies into its own modules.
    The forward of this peer is not changed (the processed tensors are returned, not installed)."""
    d, H = model.d, model.n_head
    E = d // H
    sd = {}
    for l, p in enumerate(model.layers):
        W = p["attn.c_attn.weight"]  # [d_model, 3 * d_model]
        b = p["attn.c_attn.bias"]
        for i, x in enumerate("QKV"):
            sd[f"{l}.W_{x}"] = W[:, i * d:(i + 1) * d].reshape(d, H, E).permute(1, 0, 2)  # [head, d_model, d_head]
            sd[f"{l}.b_{x}"] = b[i * d:(i + 1) * d].reshape(H, E)
        sd[f"{l}.W_O"] = p["attn.c_proj.weight"].reshape(H, E, d)
        sd[f"{l}.b_O"] = p["attn.c_proj.bias"]
        sd[f"{l}.W_in"], sd[f"{l}.b_in"] = p["mlp.c_fc.weight"], p["mlp.c_fc.bias"]
        sd[f"{l}.W_out"], sd[f"{l}.b_out"] = p["mlp.c_proj.weight"], p["mlp.c_proj.bias"]
        sd[f"{l}.ln1.w"], sd[f"{l}.ln1.b"] = p["ln_1.weight"], p["ln_1.bias"]
        sd[f"{l}.ln2.w"], sd[f"{l}.ln2.b"] = p["ln_2.weight"], p["ln_2.bias"]
    sd["W_E"], sd["W_pos"] = model.wte, model.wpe
    sd["W_U"] = model.lm_head.T  # [d_model, d_vocab]
    sd["b_U"] = torch.zeros(model.lm_head.shape[0])
    # fold_layer_norm
    for l in range(model.n_layer):
        for x in "QKV":
            sd[f"{l}.b_{x}"] = sd[f"{l}.b_{x}"] + (sd[f"{l}.W_{x}"] * sd[f"{l}.ln1.b"][None, :, None]).sum(-2)
            sd[f"{l}.W_{x}"] = sd[f"{l}.W_{x}"] * sd[f"{l}.ln1.w"][None, :, None]
            sd[f"{l}.W_{x}"] = sd[f"{l}.W_{x}"] - sd[f"{l}.W_{x}"].mean(-2, keepdim=True)
        sd[f"{l}.b_in"] = sd[f"{l}.b_in"] + (sd[f"{l}.W_in"] * sd[f"{l}.ln2.b"][:, None]).sum(-2)
        sd[f"{l}.W_in"] = sd[f"{l}.W_in"] * sd[f"{l}.ln2.w"][:, None]
        sd[f"{l}.W_in"] = sd[f"{l}.W_in"] - sd[f"{l}.W_in"].mean(0, keepdim=True)
    sd["b_U"] = sd["b_U"] + (sd["W_U"] * model.ln_f_b[:, None]).sum(-2)
    sd["W_U"] = sd["W_U"] * model.ln_f_w[:, None]
    sd["W_U"] = sd["W_U"] - sd["W_U"].mean(0, keepdim=True)
    # center_writing_weights
    sd["W_E"] = sd["W_E"] - sd["W_E"].mean(-1, keepdim=True)
    sd["W_pos"] = sd["W_pos"] - sd["W_pos"].mean(-1, keepdim=True)
    for l in range(model.n_layer):
        for k in ("W_O", "W_out"):
            sd[f"{l}.{k}"] = sd[f"{l}.{k}"] - sd[f"{l}.{k}"].mean(-1, keepdim=True)
        for k in ("b_O", "b_out"):
            sd[f"{l}.{k}"] = sd[f"{l}.{k}"] - sd[f"{l}.{k}"].mean()
    # center_unembed
    sd["W_U"] = sd["W_U"] - sd["W_U"].mean(-1, keepdim=True)
    sd["b_U"] = sd["b_U"] - sd["b_U"].mean()
    # fold_value_biases
    for l in range(model.n_layer):
        sd[f"{l}.b_O"] = sd[f"{l}.b_O"] + (sd[f"{l}.b_V"][:, :, None] * sd[f"{l}.W_O"]).sum([0, 1])
        sd[f"{l}.b_V"] = torch.zeros_like(sd[f"{l}.b_V"])
    return sd


def rss_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak():
    """Resets VmHWM (Linux >= 4.0), so the peak read afterwards belongs to what ran since."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def blas_libraries():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if any(s in os.path.basename(path).lower() for s in ("blas", "mkl", "lapack")):
                libs.add(path)
    return sorted(libs)


def matmul_gflops(n=1024, reps=3):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / sorted(times)[len(times) // 2] / 1e9


def main():
    folder, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = GPT2(folder)
    load_s = time.perf_counter() - t0
    reply = lambda obj: (sys.stdout.write(json.dumps(obj) + "\n"), sys.stdout.flush())
    reply({"ready": True, "load_s": load_s})
    with torch.inference_mode():
        for line in sys.stdin:
            req = json.loads(line)
            cmd = req.get("cmd")
            try:
                if cmd == "info":
                    gf = matmul_gflops()
                    reply({"torch": torch.__version__, "threads": torch.get_num_threads(),
                           "blas": blas_libraries(), "matmul1024_gflops": gf,
                           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
                           "rss_mib": rss_mib("VmRSS"), "load_s": load_s})
                elif cmd == "forward":
                    tokens = torch.tensor([req["tokens"]], dtype=torch.int64)
                    cache = {} if req["keep"] else None
                    rss_before = rss_mib("VmRSS")
                    peak_ok = reset_peak()
                    t, c = time.perf_counter(), time.process_time()
                    model.forward(tokens, cache)
                    ms = (time.perf_counter() - t) * 1e3
                    cpu_ms = (time.process_time() - c) * 1e3  # every thread's CPU time, spin-waits included
                    reply({"ms": ms, "cpu_ms": cpu_ms, "rss_before_mib": rss_before,
                           "peak_rss_mib": rss_mib("VmHWM") if peak_ok else float("nan"),
                           "kept": len(cache) if cache is not None else 0})
                    del cache
                elif cmd == "logits":
                    tokens = torch.tensor([req["tokens"]], dtype=torch.int64)
                    logits = model.forward(tokens)[0].contiguous().numpy()  # [pos, d_vocab]
                    logits.astype(np.float32).tofile(req["path"])
                    reply({"dims": list(logits.shape)})
                elif cmd == "generate":
                    t = time.perf_counter()
                    ids = model.generate_greedy(req["tokens"], req["max_new"])
                    reply({"ms": (time.perf_counter() - t) * 1e3, "ids": ids})
                elif cmd == "process":
                    t = time.perf_counter()
                    processed = tl_process(model)
                    process_s = time.perf_counter() - t
                    written = []
                    for key in req.get("dump", []):  # raw float32, C order, one file per tensor
                        processed[key].contiguous().numpy().astype(np.float32).tofile(os.path.join(req["dir"], key + ".f32"))
                        written.append(key)
                    reply({"process_s": process_s, "tensors": len(processed), "written": written})
                    del processed
                elif cmd == "dtype":
                    t = time.perf_counter()
                    model.to_dtype({"float32": torch.float32, "bfloat16": torch.bfloat16}[req["dtype"]])
                    reply({"ms": (time.perf_counter() - t) * 1e3, "rss_mib": rss_mib("VmRSS")})
                elif cmd == "quit":
                    reply({"bye": True})
                    return
                else:
                    reply({"error": f"unknown cmd {cmd!r}"})
            except Exception as e:  # the bench shows the message instead of hanging on a dead peer
                reply({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
