"""Independent Python-torch computations of gantry's techniques, for the C++ tests.

  reference.py CASE IN.pt OUT.pt

IN holds the inputs the C++ test drew (a dict of tensors); OUT receives the
expected outputs and gradients. Every formula here is written from
docs/TECHNIQUES.md (or uses torch's own implementation where one exists:
spectral_norm, weight_norm, BatchNorm2d), never by calling gantry.
"""
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def grads(out, tensors):
    return torch.autograd.grad(out, tensors, allow_unused=True)


def direal(i):
    w = i["w"].clone().requires_grad_(True)
    tau = float(i["tau"])
    n = w.shape[0]
    total = 0.0
    for a in range(n):  # explicit double loop over ordered pairs
        for b in range(n):
            if a == b:
                continue
            s = (w[a] @ w[b]) / (w[a].norm() * w[b].norm())
            if abs(s.item()) > tau:
                total = total + s * s
    (gw,) = grads(total, [w])
    return {"value": total.detach().reshape(()), "grad_w": gw}


def critic(i, x):
    """The test's D: f(x) = w2 · leaky_relu(W1 x_flat + b1), no cross-sample coupling."""
    h = F.leaky_relu(x.reshape(x.shape[0], -1) @ i["W1"].t() + i["b1"], 0.2)
    return h @ i["w2"]


def grad_norm_case(i, pgn):
    W1, b1, w2, A = (i[k].clone().requires_grad_(True) for k in ("W1", "b1", "w2", "A"))
    p = {"W1": W1, "b1": b1, "w2": w2}
    x = (i["z"] @ A.t()).reshape(i["x_shape"].tolist())  # "G": x = A z, so grads reach G's A
    out = []
    for b in range(x.shape[0]):  # per sample, one autograd call each
        xb = x[b : b + 1]
        f = critic(p, xb)[0]
        (g,) = torch.autograd.grad(f, xb, create_graph=True)
        g = g.reshape(-1)
        if pgn:
            out.append((1 - f) / ((1 - g).norm() + (1 - f).abs()))
        else:
            out.append(f / (g.norm() + f.abs()))
    fhat = torch.stack(out)
    loss = (fhat * i["coef"]).sum()
    gW1, gb1, gw2, gA = grads(loss, [W1, b1, w2, A])
    return {"fhat": fhat.detach(), "grad_W1": gW1, "grad_b1": gb1, "grad_w2": gw2, "grad_A": gA}


def gn(i):
    return grad_norm_case(i, pgn=False)


def pgn(i):
    return grad_norm_case(i, pgn=True)


def penalties(i):
    W1, b1, w2 = (i[k].clone().requires_grad_(True) for k in ("W1", "b1", "w2"))
    p = {"W1": W1, "b1": b1, "w2": w2}
    real, fake, eps = i["real"], i["fake"], i["eps"]
    gp_terms = []
    r1_terms = []
    for b in range(real.shape[0]):
        xh = (eps[b] * real[b] + (1 - eps[b]) * fake[b]).unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(p, xh)[0], xh, create_graph=True)
        gp_terms.append((g.norm() - 1) ** 2)
        xr = real[b : b + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(p, xr)[0], xr, create_graph=True)
        r1_terms.append((g**2).sum())
    gp = 10.0 * torch.stack(gp_terms).mean()
    r1 = (float(i["gamma"]) / 2) * torch.stack(r1_terms).mean() * float(i["interval"])
    out = {"gp": gp.detach(), "r1": r1.detach()}
    for name, v in (("gp", gp), ("r1", r1)):
        for k, g in zip(("W1", "b1", "w2"), grads(v, [W1, b1, w2])):
            out[f"{name}_grad_{k}"] = g
    return out


def vbn(i):
    x = i["x"].clone().requires_grad_(True)
    gamma = i["gamma"].clone().requires_grad_(True)
    beta = i["beta"].clone().requires_grad_(True)
    n_ref = int(i["n_ref"])
    ref = x[:n_ref]
    mu_ref = ref.mean(dim=(0, 2, 3))
    q_ref = (ref**2).mean(dim=(0, 2, 3))
    c = 1.0 / (n_ref + 1)
    rows = []
    for b in range(x.shape[0]):
        xb = x[b]
        if b < n_ref:
            mu, q = mu_ref, q_ref
        else:
            mu = c * xb.mean(dim=(1, 2)) + (1 - c) * mu_ref
            q = c * (xb**2).mean(dim=(1, 2)) + (1 - c) * q_ref
        sigma = torch.sqrt(q - mu**2 + 1e-5)
        rows.append(gamma[:, None, None] * (xb - mu[:, None, None]) / sigma[:, None, None] + beta[:, None, None])
    y = torch.stack(rows)
    gx, gg, gb = grads((y * i["coef"]).sum(), [x, gamma, beta])
    return {"y": y.detach(), "grad_x": gx, "grad_gamma": gg, "grad_beta": gb}


def mbd(i):
    h = i["h"].clone().requires_grad_(True)
    T = i["T"].clone().requires_grad_(True)
    B, C = int(i["kernels"]), int(i["kernel_dim"])
    n = h.shape[0]
    M = (h @ T).reshape(n, B, C)
    o = []
    for a in range(n):
        acc = torch.zeros(B)
        for b in range(n):
            if a != b:  # self excluded
                acc = acc + torch.exp(-(M[a] - M[b]).abs().sum(dim=1))
        o.append(acc)
    y = torch.cat([h, torch.stack(o)], dim=1)
    gh, gT = grads((y * i["coef"]).sum(), [h, T])
    return {"y": y.detach(), "grad_h": gh, "grad_T": gT}


def spectral_norm(i):
    """torch's own spectral_norm (one power iteration per training forward)."""
    kind = int(i["kind"])  # 0 conv, 1 deconv, 2 linear
    w = i["w"]
    if kind == 0:
        m = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride=1, padding=1, bias=False)
    elif kind == 1:
        m = torch.nn.ConvTranspose2d(w.shape[0], w.shape[1], w.shape[2], stride=2, padding=1, bias=False)
    else:
        m = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        m.weight.copy_(w)
    m = torch.nn.utils.spectral_norm(m)
    with torch.no_grad():
        m.weight_u.copy_(i["u"])
        m.weight_v.copy_(i["v"])
    x = i["x"].clone().requires_grad_(True)
    out = {}
    for step in range(2):  # two training forwards: the power iteration advances
        y = m(x)
        gx, gw = grads((y * i["coef"]).sum(), [x, m.weight_orig])
        out.update({f"y{step}": y.detach(), f"grad_x{step}": gx, f"grad_w{step}": gw,
                    f"u{step}": m.weight_u.clone(), f"v{step}": m.weight_v.clone()})
    m.eval()
    out["y_eval"] = m(x).detach()
    return out


def weight_norm(i):
    kind = int(i["kind"])
    w = i["w"]
    if kind == 0:
        m = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=1, bias=False)
        dim = 0
    else:
        m = torch.nn.ConvTranspose2d(w.shape[0], w.shape[1], w.shape[2], stride=2, padding=1, bias=False)
        dim = 1  # per output filter
    with torch.no_grad():
        m.weight.copy_(w)
    m = torch.nn.utils.weight_norm(m, dim=dim)
    with torch.no_grad():
        m.weight_g.mul_(i["g_scale"].reshape(m.weight_g.shape))
    x = i["x"].clone().requires_grad_(True)
    y = m(x)
    gx, gv, gg = grads((y * i["coef"]).sum(), [x, m.weight_v, m.weight_g])
    return {"y": y.detach(), "grad_x": gx, "grad_v": gv, "grad_g": gg.reshape(-1)}


def batch_norm(i):
    x = i["x"].clone().requires_grad_(True)
    bn = torch.nn.BatchNorm2d(x.shape[1], eps=1e-5, momentum=0.1)
    with torch.no_grad():
        bn.weight.copy_(i["gamma"])
        bn.bias.copy_(i["beta"])
    y = bn(x)
    gx, gg, gb = grads((y * i["coef"]).sum(), [x, bn.weight, bn.bias])
    return {"y": y.detach(), "grad_x": gx, "grad_gamma": gg, "grad_beta": gb,
            "running_mean": bn.running_mean, "running_var": bn.running_var}


def feature_matching(i):
    real = i["real"]
    fake = i["fake"].clone().requires_grad_(True)
    d = real.mean(0) - fake.mean(0)
    l2 = (d**2).sum()
    l1 = d.abs().mean()
    (g2,) = grads(l2, [fake])
    (g1,) = grads(l1, [fake])
    return {"l2": l2.detach(), "grad_l2": g2, "l1": l1.detach(), "grad_l1": g1}


def split_loss(i):
    maps = [i[f"m{k}"].clone().requires_grad_(True) for k in range(int(i["n"]))]
    weights = i["weights"].tolist()
    total = 0.0
    for m, w in zip(maps, weights):
        b = m.shape[0]
        s = 0.0
        for k in range(b):
            for j in range(k + 1, b):
                f = torch.tanh(((m[k] - m[j]) / 25.0) ** 4).mean()
                s = s + torch.log(f + 1e-8)
        total = total + 2 * w / (b * (b - 1)) * s
    loss = -total  # TECHNIQUES.md decision: minimise −L_split
    gs = grads(loss, maps)
    out = {"loss": loss.detach().reshape(())}
    for k, g in enumerate(gs):
        out[f"grad_m{k}"] = g
    return out


CASES = {f.__name__: f for f in (direal, gn, pgn, penalties, vbn, mbd, spectral_norm, weight_norm, batch_norm,
                                 feature_matching, split_loss)}

if __name__ == "__main__":
    case, src, dst = sys.argv[1:4]
    inputs = torch.load(src, weights_only=False)
    inputs = {k: (v.double() if v.is_floating_point() else v) for k, v in inputs.items()}
    result = CASES[case](inputs)
    torch.save({k: v.contiguous() for k, v in result.items() if v is not None}, dst)
