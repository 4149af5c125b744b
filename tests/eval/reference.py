"""Independent Python-torch computations of gantry's metrics, for the C++ tests.

  reference.py CASE IN.pt OUT.pt       (tensor cases, as tests/models/reference.py)
  reference.py modules DIR             (writes TorchScript feature networks)

Formulas from docs/EVALUATION.md (Formulas), written independently of gantry:
FID's trace term through the symmetric form Tr((S1^1/2 S2 S1^1/2)^1/2) with
eigh (not gantry's eigendecomposition of S1 S2), IS with explicit loops.
"""
import math
import os
import sys

import torch

torch.set_default_dtype(torch.float64)


def psd_sqrt(s):
    w, v = torch.linalg.eigh(s)
    return v @ torch.diag(w.clamp(min=0).sqrt()) @ v.T


def fid(i):
    m1, m2, s1, s2 = i["m1"], i["m2"], i["s1"], i["s2"]
    r1 = psd_sqrt(s1)
    inner = psd_sqrt(r1 @ s2 @ r1)
    value = ((m1 - m2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * torch.trace(inner)
    return {"fid": value.reshape(())}


def stats(i):
    x = i["x"]
    return {"mean": x.mean(0), "cov": torch.cov(x.T)}  # torch.cov: unbiased (n - 1)


def inception_score(i):
    p = i["probs"]
    splits = int(i["splits"])
    n = p.shape[0]
    scores = []
    for s in range(splits):
        part = p[s * n // splits:(s + 1) * n // splits]
        py = part.mean(0)
        kl = 0.0
        for row in part:
            for k in range(p.shape[1]):
                if row[k] > 0:
                    kl += float(row[k]) * math.log(float(row[k]) / float(py[k]))
        scores.append(math.exp(kl / part.shape[0]))
    t = torch.tensor(scores)
    return {"mean": t.mean().reshape(()), "std": t.std(unbiased=False).reshape(())}


class Generic(torch.nn.Module):
    """Features only: per-channel means and maxima of x (C*2 features)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], 1)


class Classifying(torch.nn.Module):
    """(features, logits): features as Generic, logits = features @ W."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.arange(12, dtype=torch.float32).reshape(2, 6) / 10)
        self.feature_space = "TOY"

    def forward(self, x: torch.Tensor):
        f = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], 1)
        return f, f @ self.w.T.contiguous()


class StyleGanLike(torch.nn.Module):
    """The calling convention of StyleGAN's TorchScript Inception: uint8 RGB in, kwargs select the output."""

    def forward(self, img: torch.Tensor, return_features: bool = False, use_fp16: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        assert img.dtype == torch.uint8 and img.shape[1] == 3
        x = img.to(torch.float32)
        f = x.mean(dim=(2, 3))  # [N, 3] in [0, 255]
        if return_features:
            return f
        return torch.softmax(f / 255.0, dim=1)


def modules(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.set_default_dtype(torch.float32)
    torch.jit.script(Generic()).save(os.path.join(out_dir, "generic.pt"))
    torch.jit.script(Classifying()).save(os.path.join(out_dir, "classifying.pt"))
    torch.jit.script(StyleGanLike()).save(os.path.join(out_dir, "stylegan.pt"))


CASES = {f.__name__: f for f in (fid, stats, inception_score)}

if __name__ == "__main__":
    if sys.argv[1] == "modules":
        modules(sys.argv[2])
        sys.exit(0)
    case, src, dst = sys.argv[1:4]
    inputs = torch.load(src, weights_only=False)
    inputs = {k: (v.double() if v.is_floating_point() else v) for k, v in inputs.items()}
    result = CASES[case](inputs)
    torch.save({k: v.contiguous() for k, v in result.items() if v is not None}, dst)
