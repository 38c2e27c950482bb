import numpy as np


def attention(q, k, v):
    """Scaled dot-product attention with a causal mask."""
    d_head = q.shape[-1]
    scores = q @ k.T / np.sqrt(d_head)
    mask = np.triu(np.ones_like(scores), k=1).astype(bool)
    scores[mask] = -np.inf
    pattern = np.exp(scores - scores.max(-1, keepdims=True))
    pattern /= pattern.sum(-1, keepdims=True)
    return pattern @ v
