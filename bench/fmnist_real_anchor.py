#!/usr/bin/env python3
"""Real-data anchors of FID-FMNIST and IS-FMNIST in a classifier's feature space.

What a perfect generator would score in the feature space of a `gantry eval
train-classifier` network: FID-FMNIST of the 10,000 t10k images against the
60,000 training images, and IS-FMNIST of the t10k images (10 splits). Computed
here in Python, independently of gantry's C++ metrics: the idx files read with
numpy (not gantry's packer), the TorchScript classifier called through
torch.jit.load, FID with scipy-free float64 linear algebra (the matrix square
root from the eigendecomposition of Σ_r^½ Σ_g Σ_r^½). Prints one JSON line.

  python3 bench/fmnist_real_anchor.py --classifier runs/data/fmnist-classifier.pt
"""
import argparse
import gzip
import json

import numpy as np
import torch


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    x = np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, h, w)
    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0)  # gantry's image range [-1, 1]


def features(net, x, batch=500):
    fs, ps = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            f, logits = net(x[i:i + batch])
            fs.append(f.double())
            ps.append(torch.softmax(logits.double(), 1))
    return torch.cat(fs).numpy(), torch.cat(ps).numpy()


def sqrtm_psd(a):
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def fid(f1, f2):
    m1, m2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    r1 = sqrtm_psd(s1)
    cross = sqrtm_psd(r1 @ s2 @ r1)  # Tr((Σ1 Σ2)^½) = Tr((Σ1^½ Σ2 Σ1^½)^½)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def inception_score(p, splits=10):
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(np.clip(part, 1e-30, None)) - np.log(np.clip(py, 1e-30, None)))).sum(1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--idx-dir", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    torch.set_num_threads(2)
    net = torch.jit.load(args.classifier).eval()
    train = read_idx_images(f"{args.idx_dir}/train-images-idx3-ubyte.gz")
    test = read_idx_images(f"{args.idx_dir}/t10k-images-idx3-ubyte.gz")
    f_train, _ = features(net, train)
    f_test, p_test = features(net, test)
    is_mean, is_std = inception_score(p_test)
    print(json.dumps({"classifier": args.classifier, "fid_t10k_vs_train": fid(f_test, f_train),
                      "is_t10k": {"mean": is_mean, "std": is_std}, "train_images": len(train),
                      "test_images": len(test)}))


if __name__ == "__main__":
    main()
