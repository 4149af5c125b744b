#!/usr/bin/env python3
"""Why configs/improved_techniques.toml with BN in G gives a step-1 G gradient
norm that differs between 1 and N ranks by up to ~1e-4 (relative), where
other configs differ by ~1e-7 (docs/TECHNIQUES.md, "World-size invariance").

Minibatch discrimination (Salimans et al. 2016, eq. in sec. 3.2) uses L1
distances |M_i,b,k − M_j,b,k|; the gradient of |·| is sign(·). Among
n²·B·K ≈ 2 million differences a few are within float32 rounding of zero,
and their sign, hence a whole term c_ij·(∂M) of the gradient, flips with any
last-bit change in M. A world size changes M's last bits when G has
synchronized BN (its statistics are summed in another order), so a few
terms jump: a discrete change, not an accumulation of rounding. Neither
result is the wrong one; float64 decides the signs, and float32 agrees with
it or not by chance. With VBN in G the fakes (and M) are bitwise equal on
every world size and the difference stays at rounding level (~1e-7).

This script shows the mechanism without gantry: the gradient of the
non-saturating G loss with respect to the input of a BN layer followed by a
linear layer, MBD (100 kernels x 5, as the config) and a linear head, in
float64 and in float32 over the batch in its order and in permuted orders
(same mathematics, another summation and GEMM order), with the number of
sign flips of the L1 differences against float64.

  python bench/rounding_demo.py     # JSON on stdout
"""
import json

import torch


def forward_grad(x, w_feat, t, w_head, mbd, order):
    """(gradient w.r.t. x in the original order, MBD's M in the original order)."""
    x = x[order].clone().requires_grad_(True)
    h = torch.relu((x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5) @ w_feat)
    feats, m = [h], None
    if mbd:
        n = h.shape[0]
        m = (h @ t).view(n, 100, 5)
        c = torch.exp(-(m.unsqueeze(1) - m.unsqueeze(0)).abs().sum(3))
        c = c.masked_fill(torch.eye(n, dtype=torch.bool).unsqueeze(2), 0.0)  # not the sample itself
        feats.append(c.sum(1))
    logits = torch.cat(feats, 1) @ w_head[: sum(f.shape[1] for f in feats)]
    (g,) = torch.autograd.grad(torch.nn.functional.softplus(-logits).mean(), x)  # non-saturating G loss
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return g[inverse].double(), (m.detach()[inverse] if mbd else None)


def sign_flips(m, ref):
    n = m.shape[0]
    off = ~torch.eye(n, dtype=torch.bool)[:, :, None, None]
    s = torch.sign(m.unsqueeze(1) - m.unsqueeze(0))
    s_ref = torch.sign(ref.unsqueeze(1) - ref.unsqueeze(0))
    return int(((s != s_ref) & off).sum()) // 2  # each pair counted as (i, j) and (j, i)


def main():
    torch.manual_seed(0)
    n, d, f = 64, 256, 128
    x = torch.randn(n, d, dtype=torch.float64) * 0.5 + 0.1
    w_feat = torch.randn(d, f, dtype=torch.float64) / d ** 0.5
    t = torch.randn(f, 500, dtype=torch.float64) * 0.05
    w_head = torch.randn(f + 100, 1, dtype=torch.float64) * 0.02
    orders = [torch.arange(n)] + [torch.randperm(n) for _ in range(4)]
    out = {}
    for mbd in (True, False):
        ref, m_ref = forward_grad(x, w_feat, t, w_head, mbd, orders[0])
        rows = []
        for order in orders:
            g, m = forward_grad(*(a.float() for a in (x, w_feat, t, w_head)), mbd, order)
            row = {"rel_error_vs_float64": (g - ref).norm().item() / ref.norm().item()}
            if mbd:
                row["l1_sign_flips_vs_float64"] = sign_flips(m.double(), m_ref)
            rows.append(row)
        out["with_mbd" if mbd else "without_mbd"] = {"float32_orders": rows}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
