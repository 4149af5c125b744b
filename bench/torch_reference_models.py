"""The networks of gantry's dcgan, sngan_cnn and resnet architectures, rebuilt
in plain PyTorch for the peer benchmark (bench/torch_reference.py).

Written from src/models/*.cpp (read, not translated line by line): the same
layer types, widths, kernels, strides, norms, activations, heads, init, and
the same module names, so `named_parameters()` here equals the tensor names in
a gantry checkpoint ("up0.weight", "norm1.bn.weight", "head.out.bias", ...),
which bench/peer_check_shapes.py compares. The layers themselves are torch's
own (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d, nn.GroupNorm,
torch.nn.utils.parametrizations.spectral_norm): what a PyTorch user writes.
The one home-made layer is the CPU synchronized batch norm (SyncBatchNormCPU),
because nn.SyncBatchNorm runs on CUDA only.
"""
import math

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

# --------------------------------------------------------------------------
# Layers


def cancels_bias(norm):
    # gantry gives no bias to a layer followed by batch norm (the norm removes
    # any per-channel constant; blocks.h). The parameter lists must match.
    return norm == "bn"


def weight_layer(kind, cin, cout, kernel=1, stride=1, padding=0, wnorm="none", init="normal002", bias=True):
    """conv / deconv / linear with gantry's init (N(0, 0.02²) or Kaiming normal
    with fan-in = in·k·k, biases 0) and optional spectral norm (one power
    iteration per training forward, as gantry's WeightLayer)."""
    if kind == "conv":
        layer = nn.Conv2d(cin, cout, kernel, stride, padding, bias=bias)
        fan_in = cin * kernel * kernel
    elif kind == "deconv":
        layer = nn.ConvTranspose2d(cin, cout, kernel, stride, padding, bias=bias)
        fan_in = cin * kernel * kernel  # gantry's fan-in for deconv (weight (in, out, k, k))
    else:
        layer = nn.Linear(cin, cout, bias=bias)
        fan_in = cin
    with torch.no_grad():
        std = 0.02 if init == "normal002" else math.sqrt(2.0 / fan_in)
        layer.weight.normal_(0, std)
        if bias:
            layer.bias.zero_()
    if wnorm == "sn":
        # torch's SN uses the output dimension as rows (dim 1 for ConvTranspose2d), like gantry's filter matrix.
        layer = spectral_norm(layer, eps=1e-12)
    return layer


class _SyncBNFunction(torch.autograd.Function):
    """Batch norm over the GLOBAL batch on CPU (gloo): forward all-reduces the
    per-channel Σx, Σx² and the count in one collective; backward all-reduces
    Σdy and Σdy·x̂ in one collective. This is what nn.SyncBatchNorm does on
    CUDA. Gradient convention (same as gantry's, batch_norm.h): each rank's
    loss is a local mean and DDP averages parameter gradients, so dx is
    computed from the SUM of the ranks' dy statistics and the weight/bias
    gradients stay local (DDP's average makes them global)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps, momentum, group, training):
        c = x.shape[1]
        dims = [0, 2, 3]
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), x.new_tensor([x.numel() / c])])
        dist.all_reduce(stats, group=group)
        n = stats[-1].item()
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0)
        invstd = torch.rsqrt(var + eps)
        xhat = (x - mean.view(1, c, 1, 1)) * invstd.view(1, c, 1, 1)
        if training:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
                running_var.mul_(1 - momentum).add_(var * (n / (n - 1)), alpha=momentum)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.n, ctx.group = n, group
        return xhat * weight.view(1, c, 1, 1) + bias.view(1, c, 1, 1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):
        xhat, invstd, weight = ctx.saved_tensors
        c = dy.shape[1]
        dims = [0, 2, 3]
        local = torch.cat([dy.sum(dims), (dy * xhat).sum(dims)])
        sums = local.clone()
        dist.all_reduce(sums, group=ctx.group)
        mean_dy = (sums[:c] / ctx.n).view(1, c, 1, 1)
        mean_dy_xhat = (sums[c:] / ctx.n).view(1, c, 1, 1)
        dx = (weight * invstd).view(1, c, 1, 1) * (dy - mean_dy - xhat * mean_dy_xhat)
        return dx, local[c:], local[:c], None, None, None, None, None, None


class BatchNorm(nn.BatchNorm2d):
    """nn.BatchNorm2d (torch's fused kernel) per rank, or over the global batch
    when `sync_group` is set (more than one rank and model.sync_batch_norm)."""

    def __init__(self, channels, sync_group=None):
        super().__init__(channels, eps=1e-5, momentum=0.1)
        self.sync_group = sync_group

    def forward(self, x):
        if self.sync_group is None or not self.training:
            return super().forward(x)
        return _SyncBNFunction.apply(x, self.weight, self.bias, self.running_mean, self.running_var, self.eps,
                                     self.momentum, self.sync_group, self.training)


class Norm(nn.Module):
    """gantry's NormLayer: none, "bn" (child `bn`) or "ln" (child `ln`:
    GroupNorm with one group = per-sample over C, H, W, per-channel affine)."""

    def __init__(self, kind, channels, sync_group=None):
        super().__init__()
        if kind == "bn":
            self.bn = BatchNorm(channels, sync_group)
        elif kind == "ln":
            self.ln = nn.GroupNorm(1, channels)
        self.kind = kind

    def forward(self, x):
        if self.kind == "bn":
            return self.bn(x)
        if self.kind == "ln":
            return self.ln(x)
        return x


class DHead(nn.Module):
    """D's last layer: penultimate features → linear → logits (B)."""

    def __init__(self, features, wnorm, init):
        super().__init__()
        self.out = weight_layer("linear", features, 1, wnorm=wnorm, init=init)

    def forward(self, h):
        return self.out(h).reshape(-1)


# --------------------------------------------------------------------------
# DCGAN and SNGAN standard CNN (src/models/dcgan.cpp, sngan_cnn.cpp)


def _dcgan_start(res):
    return 7 if res == 28 else 4


def _dcgan_upsamplings(res):
    return round(math.log2(res / _dcgan_start(res)))


class DcganGenerator(nn.Module):
    # z → linear → (c0, s0, s0), norm, ReLU → n_up × [deconv 4×4 s2, norm, ReLU];
    # the last deconv writes the image (no norm, tanh).
    def __init__(self, m, sync):
        super().__init__()
        w = m["g_width"] or 64
        self.s0 = _dcgan_start(m["resolution"])
        n_up = _dcgan_upsamplings(m["resolution"])
        self.c0 = w << (n_up - 1)
        gn, wn = m["g_norm"], m["g_weight_norm"]
        self.project = weight_layer("linear", m["z_dim"], self.c0 * self.s0 ** 2, wnorm=wn, bias=not cancels_bias(gn))
        self.norm0 = Norm(gn, self.c0, sync)
        self.n_up = n_up
        ch = self.c0
        for i in range(n_up):
            last = i == n_up - 1
            out = m["channels"] if last else max(ch // 2, w // 2)
            normed = not last
            bias = not (normed and cancels_bias(gn))
            setattr(self, f"up{i}", weight_layer("deconv", ch, out, 4, 2, 1, wn, bias=bias))
            if normed:
                setattr(self, f"norm{i + 1}", Norm(gn, out, sync))
            ch = out

    def forward(self, z):
        x = torch.relu(self.norm0(self.project(z).view(z.shape[0], self.c0, self.s0, self.s0)))
        for i in range(self.n_up):
            x = getattr(self, f"up{i}")(x)
            if i < self.n_up - 1:
                x = torch.relu(getattr(self, f"norm{i + 1}")(x))
        return torch.tanh(x)


class SnganCnnGenerator(nn.Module):
    # z → linear → (8w, s0, s0), norm, ReLU → 3 × [deconv 4×4 s2 halving, norm, ReLU] → conv 3×3 → tanh.
    def __init__(self, m, sync):
        super().__init__()
        w = m["g_width"] or 64
        self.s0, self.c0 = m["resolution"] // 8, 8 * w
        gn, wn = m["g_norm"], m["g_weight_norm"]
        self.project = weight_layer("linear", m["z_dim"], self.c0 * self.s0 ** 2, wnorm=wn, bias=not cancels_bias(gn))
        self.norm0 = Norm(gn, self.c0, sync)
        ch = self.c0
        for i in range(3):
            setattr(self, f"up{i}", weight_layer("deconv", ch, ch // 2, 4, 2, 1, wn, bias=not cancels_bias(gn)))
            setattr(self, f"norm{i + 1}", Norm(gn, ch // 2, sync))
            ch //= 2
        self.to_image = weight_layer("conv", ch, m["channels"], 3, 1, 1, wn)

    def forward(self, z):
        x = torch.relu(self.norm0(self.project(z).view(z.shape[0], self.c0, self.s0, self.s0)))
        for i in range(3):
            x = torch.relu(getattr(self, f"norm{i + 1}")(getattr(self, f"up{i}")(x)))
        return torch.tanh(self.to_image(x))


class ConvStackDiscriminator(nn.Module):
    # conv{i} + norm{i} (none after the first), LeakyReLU after each; flatten; head
    # (src/models/conv_stack_discriminator.cpp).
    def __init__(self, m, specs, final_size, slope, sync):
        super().__init__()
        self.slope, self.n = slope, len(specs)
        dn, wn = m["d_norm"], m["d_weight_norm"]
        ch = m["channels"]
        for i, (out, k, s, p) in enumerate(specs):
            setattr(self, f"conv{i}", weight_layer("conv", ch, out, k, s, p, wn, bias=not (i > 0 and cancels_bias(dn))))
            setattr(self, f"norm{i}", Norm("none" if i == 0 else dn, out, sync))
            ch = out
        self.head = DHead(ch * final_size * final_size, wn, "normal002")

    def forward(self, x):
        h = x
        for i in range(self.n):
            h = F.leaky_relu(getattr(self, f"norm{i}")(getattr(self, f"conv{i}")(h)), self.slope)
        return self.head(h.flatten(1))


def dcgan_discriminator(m, sync):
    w = m["d_width"] or 64
    res = m["resolution"]
    specs = [(w << i, 4, 2, 1) for i in range(_dcgan_upsamplings(res))]
    return ConvStackDiscriminator(m, specs, _dcgan_start(res), 0.2, sync)


def sngan_cnn_discriminator(m, sync):
    w = m["d_width"] or 64
    specs = [(w, 3, 1, 1), (w, 4, 2, 1), (2 * w, 3, 1, 1), (2 * w, 4, 2, 1), (4 * w, 3, 1, 1), (4 * w, 4, 2, 1),
             (8 * w, 3, 1, 1)]
    return ConvStackDiscriminator(m, specs, m["resolution"] // 8, 0.1, sync)


# --------------------------------------------------------------------------
# SNGAN / GN-GAN ResNets (src/models/resnet.cpp)


def _resnet_tables(res, gw, dw):
    """(start size, G channels, D channels, D downsamples) per resolution."""
    if res == 32:
        return 4, [4 * gw] * 4, [2 * dw] * 4, [True, True, False, False]
    if res == 48:
        return 6, [8 * gw, 4 * gw, 2 * gw, gw], [dw, 2 * dw, 4 * dw, 8 * dw, 16 * dw], [True] * 4 + [False]
    if res == 128:
        return 4, [16 * gw, 16 * gw, 8 * gw, 4 * gw, 2 * gw, gw], [dw, 2 * dw, 4 * dw, 8 * dw, 16 * dw, 16 * dw], \
            [True] * 5 + [False]
    return 4, [16 * gw, 16 * gw, 8 * gw, 8 * gw, 4 * gw, 2 * gw, gw], \
        [dw, 2 * dw, 4 * dw, 8 * dw, 8 * dw, 16 * dw, 16 * dw], [True] * 6 + [False]


def _up2(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    # norm, ReLU, up ×2, conv3, norm, ReLU, conv3; shortcut up + conv1.
    def __init__(self, cin, cout, m, sync):
        super().__init__()
        gn, wn = m["g_norm"], m["g_weight_norm"]
        b = not cancels_bias(gn)
        self.norm1 = Norm(gn, cin, sync)
        self.conv1 = weight_layer("conv", cin, cout, 3, 1, 1, wn, "kaiming", b)
        self.norm2 = Norm(gn, cout, sync)
        self.conv2 = weight_layer("conv", cout, cout, 3, 1, 1, wn, "kaiming", b)
        self.shortcut = weight_layer("conv", cin, cout, 1, 1, 0, wn, "kaiming", b)

    def forward(self, x):
        h = self.conv1(_up2(torch.relu(self.norm1(x))))
        h = self.conv2(torch.relu(self.norm2(h)))
        return h + self.shortcut(_up2(x))


class ResnetGenerator(nn.Module):
    def __init__(self, m, sync):
        super().__init__()
        self.start, g, _, _ = _resnet_tables(m["resolution"], m["g_width"] or 64, 64)
        self.c0 = g[0]
        gn, wn = m["g_norm"], m["g_weight_norm"]
        self.project = weight_layer("linear", m["z_dim"], g[0] * self.start ** 2, wnorm=wn, init="kaiming",
                                    bias=not cancels_bias(gn))
        self.n_blocks = len(g) - 1
        for i in range(self.n_blocks):
            setattr(self, f"block{i}", GBlock(g[i], g[i + 1], m, sync))
        self.out_norm = Norm(gn, g[-1], sync)
        self.to_image = weight_layer("conv", g[-1], m["channels"], 3, 1, 1, wn, "kaiming")

    def forward(self, z):
        x = self.project(z).view(z.shape[0], self.c0, self.start, self.start)
        for i in range(self.n_blocks):
            x = getattr(self, f"block{i}")(x)
        return torch.tanh(self.to_image(torch.relu(self.out_norm(x))))


class DBlock(nn.Module):
    # ReLU, conv3, [norm], ReLU, conv3, [norm], [avgpool]; shortcut conv1 + [avgpool] when needed.
    # The first ("optimized") block: no leading ReLU, shortcut avgpool then conv1.
    def __init__(self, cin, cout, down, first, m, sync):
        super().__init__()
        dn, wn = m["d_norm"], m["d_weight_norm"]
        self.down, self.first = down, first
        self.conv1 = weight_layer("conv", cin, cout, 3, 1, 1, wn, "kaiming", not cancels_bias(dn))
        self.conv2 = weight_layer("conv", cout, cout, 3, 1, 1, wn, "kaiming", not cancels_bias(dn))
        self.norm1 = Norm(dn, cout, sync)
        self.norm2 = Norm(dn, cout, sync)
        self.shortcut = None
        if first or down or cin != cout:
            self.shortcut = weight_layer("conv", cin, cout, 1, 1, 0, wn, "kaiming")

    def forward(self, x):
        h = x if self.first else torch.relu(x)
        h = torch.relu(self.norm1(self.conv1(h)))
        h = self.norm2(self.conv2(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.first:
            s = self.shortcut(F.avg_pool2d(x, 2))
        elif self.shortcut is not None:
            s = self.shortcut(x)
            s = F.avg_pool2d(s, 2) if self.down else s
        else:
            s = x
        return h + s


class ResnetDiscriminator(nn.Module):
    def __init__(self, m, sync):
        super().__init__()
        _, _, d, down = _resnet_tables(m["resolution"], 64, m["d_width"] or 64)
        ch = m["channels"]
        self.n_blocks = len(d)
        for i in range(len(d)):
            setattr(self, f"block{i}", DBlock(ch, d[i], down[i], i == 0, m, sync))
            ch = d[i]
        self.head = DHead(ch, m["d_weight_norm"], "kaiming")

    def forward(self, x):
        h = x
        for i in range(self.n_blocks):
            h = getattr(self, f"block{i}")(h)
        return self.head(torch.relu(h).sum((2, 3)))


# --------------------------------------------------------------------------

RESOLUTIONS = {"dcgan": (28, 32, 64), "sngan_cnn": (32, 48), "resnet": (32, 48, 128, 256)}


def build(m, sync_group=None):
    """(G, D) for the model section `m` (already checked by the caller).
    sync_group: the process group of synchronized batch norm, or None."""
    arch = m["arch"]
    if arch == "dcgan":
        return DcganGenerator(m, sync_group), dcgan_discriminator(m, sync_group)
    if arch == "sngan_cnn":
        return SnganCnnGenerator(m, sync_group), sngan_cnn_discriminator(m, sync_group)
    return ResnetGenerator(m, sync_group), ResnetDiscriminator(m, sync_group)


def normalize_output(kind, f, x):
    """GN / PGN of D's output, per sample (src/reg/gradient_normalization.cpp):
      gn:  f / (‖∇ₓf‖ + |f|)      pgn: (1 − f) / (‖1 − ∇ₓf‖ + |1 − f|)
    ∇ from one autograd call on Σ f with create_graph (D couples no samples,
    so that equals the per-sample gradients); differentiable twice."""
    if kind == "none":
        return f
    flat = f.reshape(f.shape[0])
    (grad,) = torch.autograd.grad(flat.sum(), x, create_graph=True)
    g = grad.reshape(grad.shape[0], -1)
    if kind == "gn":
        return flat / (g.norm(2, 1) + flat.abs())
    one_minus_f = 1 - flat
    return one_minus_f / ((1 - g).norm(2, 1) + one_minus_f.abs())


def d_loss(loss, real, fake, real_target=1.0):
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target)) + \
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if loss == "hinge":
        return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    return fake.mean() - real.mean()


def g_loss(loss, fake):
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    return -fake.mean()


def named_shapes(net):
    """{"params": {name: shape}, "buffers": {name: shape}} under gantry's names:
    torch's SN parametrization ("X.parametrizations.weight.original", its
    "..._u"/"..._v") maps to gantry's X.weight / X.sn_u / X.sn_v; BN's
    num_batches_tracked (gantry has no such buffer) is left out."""
    def rename(name):
        name = name.replace(".parametrizations.weight.original", ".weight")
        name = name.replace(".parametrizations.weight.0._u", ".sn_u").replace(".parametrizations.weight.0._v", ".sn_v")
        return name

    params = {rename(n): list(p.shape) for n, p in net.named_parameters()}
    buffers = {rename(n): list(b.shape) for n, b in net.named_buffers() if not n.endswith("num_batches_tracked")}
    return {"params": params, "buffers": buffers}
