"""Loss landscapes around one input (paper A, Yang et al. ICML 2020, Fig. 2).

Two directions in input space, both in units of 1/255 per pixel:

    d₁ = sign(∇ₓ L(x, y))                       (the FGSM direction: an L∞ step of 1/255)
    d₂ = r − (⟨r, d₁⟩ / ⟨d₁, d₁⟩) d₁, rescaled to ‖d₂‖₂ = ‖d₁‖₂ (r a random ±1 pattern)

and the grid x(a, b) = x + (a·d₁ + b·d₂)/255 for a, b ∈ {−R, …, 0, …, R} (n points, n odd, so the
grid's centre is x itself and its loss is the model's loss at the input). Points are not clipped
to [0, 1] unless asked: the surface is a property of the function around x. Each grid point gets
the cross-entropy L(x(a, b), y) and the predicted class. The input may be clean or corrupted
(CIFAR-10-C noise via :func:`stablenets.data.corrupt`); two models are compared on the same input
and the same random pattern r, each along its own FGSM direction.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stablenets.analysis._io import pyplot, save_figure
from stablenets.attacks.base import Loss, attack_mode, input_gradient

__all__ = ["landscape_directions", "loss_landscape", "compare_landscapes", "plot_landscapes"]


def landscape_directions(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int = 0):
    """(d₁, d₂): the FGSM sign direction and a random direction orthogonal to it with the same L2 norm."""
    grad, _ = input_gradient(model, x, y, Loss.CE)
    d1 = grad.sign()
    g = torch.Generator(device=x.device).manual_seed(int(seed))
    r = torch.randint(0, 2, x.shape, generator=g, device=x.device).to(x.dtype) * 2 - 1
    norm1 = d1.flatten().norm()
    if float(norm1) == 0.0:  # a flat point: any two orthogonal directions will do
        d1 = r
        r = torch.randint(0, 2, x.shape, generator=g, device=x.device).to(x.dtype) * 2 - 1
        norm1 = d1.flatten().norm()
    d2 = r - (r.flatten() @ d1.flatten()) / norm1**2 * d1
    d2 = d2 * (norm1 / d2.flatten().norm().clamp_min(1e-12))
    return d1, d2


def loss_landscape(model: nn.Module, x: torch.Tensor, y: torch.Tensor, radius: float = 8.0, n: int = 21,
                   seed: int = 0, clip: bool = False, batch_size: int = 256) -> dict:
    """Loss and predicted class on the (n × n) grid around one input ``x`` (1, …) with label ``y`` (1,).

    Returns {"coords": (n,) offsets in units of 1/255, "loss": (n, n), "pred": (n, n) indexed
    [FGSM offset, random offset], "label", "center_loss" (= loss[n//2, n//2]), "input_loss" (the
    model's loss at x, computed directly), "input_pred"}.
    """
    if n < 3 or n % 2 == 0:
        raise ValueError(f"n must be odd and ≥ 3 so that the grid's centre is the input, got {n}")
    if x.shape[0] != 1 or y.shape != (1,):
        raise ValueError(f"pass one input x of shape (1, …) and its label y of shape (1,), got {tuple(x.shape)}, "
                         f"{tuple(y.shape)}")
    if radius <= 0:
        raise ValueError(f"radius must be positive (units of 1/255), got {radius}")
    x = x.detach()
    half = n // 2
    coords = radius * np.arange(-half, half + 1) / half
    with attack_mode(model):
        d1, d2 = landscape_directions(model, x, y, seed)
        a = torch.as_tensor(coords, dtype=x.dtype, device=x.device)
        aa, bb = torch.meshgrid(a, a, indexing="ij")
        offsets = (aa.reshape(-1, *[1] * (x.dim() - 1)) * d1 + bb.reshape(-1, *[1] * (x.dim() - 1)) * d2) / 255.0
        losses, preds = [], []
        with torch.no_grad():
            input_loss = F.cross_entropy(model(x), y)
            for chunk in offsets.split(batch_size):
                points = x + chunk
                if clip:
                    points = points.clamp(0.0, 1.0)
                logits = model(points)
                losses.append(F.cross_entropy(logits, y.expand(points.shape[0]), reduction="none"))
                preds.append(logits.argmax(1))
    loss = torch.cat(losses).reshape(n, n).cpu().numpy()
    pred = torch.cat(preds).reshape(n, n).cpu().numpy()
    return {"coords": coords, "loss": loss, "pred": pred, "label": int(y[0]), "center_loss": float(loss[half, half]),
            "input_loss": float(input_loss), "input_pred": int(pred[half, half]), "radius": radius, "clip": clip}


def compare_landscapes(models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor,
                       corruption: str | None = None, severity: int = 3, **kwargs) -> dict:
    """Landscapes of several models on the same input (optionally noise-corrupted) and random pattern.

    Returns {"input": "clean" or "<corruption>-<severity>", "models": {name: loss_landscape(...)}}.
    """
    if corruption is not None:
        from stablenets.data import corrupt

        x = corrupt(x, corruption, severity)
    return {"input": "clean" if corruption is None else f"{corruption}-{severity}",
            "models": {name: loss_landscape(model, x, y, **kwargs) for name, model in models.items()}}


def plot_landscapes(data: dict, path, class_names=None):
    """One row per model: the loss surface (3-D) and the grid of predicted classes."""
    plt = pyplot()
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    models = data["models"]
    fig = plt.figure(figsize=(8, 3.4 * len(models)))
    n_classes = 1 + max(max(int(np.max(m["pred"])), m["label"]) for m in models.values())
    cmap = ListedColormap(plt.get_cmap("tab10" if n_classes <= 10 else "tab20").colors[: max(n_classes, 2)])
    norm = BoundaryNorm(np.arange(-0.5, max(n_classes, 2) + 0.5), cmap.N)
    for row, (name, m) in enumerate(models.items()):
        c = np.asarray(m["coords"])
        aa, bb = np.meshgrid(c, c, indexing="ij")
        ax = fig.add_subplot(len(models), 2, 2 * row + 1, projection="3d")
        ax.plot_surface(aa, bb, np.asarray(m["loss"]), cmap="viridis", linewidth=0, antialiased=True)
        ax.set_xlabel("FGSM (1/255)", fontsize=7)
        ax.set_ylabel("random (1/255)", fontsize=7)
        ax.set_zlabel("loss", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(f"{name}: loss ({data.get('input', 'clean')} input)", fontsize=9)
        ax2 = fig.add_subplot(len(models), 2, 2 * row + 2)
        ext = [c[0], c[-1], c[0], c[-1]]
        ax2.imshow(np.asarray(m["pred"]).T, origin="lower", extent=ext, cmap=cmap, norm=norm, interpolation="nearest")
        ax2.plot(0, 0, marker="*", color="k", ms=9)
        present = sorted(set(np.asarray(m["pred"]).ravel().tolist()))
        ax2.legend(handles=[Patch(color=cmap(c), label=class_names[c] if class_names else str(c)) for c in present],
                   fontsize=7, title="class", title_fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
        label = class_names[m["label"]] if class_names else m["label"]
        ax2.set_title(f"predicted class (true: {label})", fontsize=9)
        ax2.set_xlabel("FGSM direction (1/255)", fontsize=8)
        ax2.set_ylabel("random direction (1/255)", fontsize=8)
    fig.subplots_adjust(hspace=0.4, wspace=0.3)
    return save_figure(fig, path)
