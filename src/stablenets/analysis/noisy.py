"""What paper B's noisy inputs look like (Zhang et al., IJCAI 2019, appendix F, Figure 17).

B §4.2 trains on noisy inputs and tests on clean data. Appendix F: "For the training dataset
CIFAR-10, we inject Gaussian noise at every normalized pixel with zero mean and different standard
deviations … For the training dataset AG-NEWS, we randomly choose different proportions … of
characters in the texts and alter them." :func:`noisy_samples` draws the noise of the ``noisy``
training mode (:func:`stablenets.data.noisy_training_input`, which the mode calls) and measures it:

* images: the std of the added noise in normalised units (σ by construction), in pixel units
  (σ·std, pooled over the channels) and its mean (zero);
* text: the fraction of the non-padding characters that changed, p·69/70 in expectation (a
  replacement draws one of the 70 codes, the old one included).

:func:`plot_noisy_inputs` draws an image grid per σ and a text sample per p.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from stablenets.analysis._io import pyplot, save_figure

__all__ = ["noisy_samples", "decode", "plot_noisy_inputs"]


def decode(codes: torch.Tensor) -> str:
    """The text of one code sequence: the quantiser reads the text backward, so reverse it; a code 0
    inside the text (a space, or any character outside the alphabet) shows as a space, the padding
    after its end is dropped. Code j of the sequence is character ``len(text) − 1 − j``."""
    from stablenets.data.text import ALPHABET

    values = codes.tolist()
    end = max((j + 1 for j, c in enumerate(values) if c > 0), default=0)
    return "".join(ALPHABET[c - 1] if c > 0 else " " for c in values[:end])[::-1]


def noisy_samples(images: torch.Tensor | None, std: Sequence[float],
                  sigmas: Sequence[float], codes: torch.Tensor | None, rates: Sequence[float], seed: int = 0,
                  show: int = 4) -> dict:
    """{"images": [{"sigma", "normalised_std", "pixel_std", "noise_mean", "outside_box", "samples"}],
    "text": [{"p", "changed", "expected", "sample", "changed_at"}], "clean_images", "clean_text"}.

    ``images``: float [0, 1] batches (N, C, H, W) of a data set with per-channel ``std``,
    measured whole (``show`` of them kept to draw); ``codes``: character codes (N, L), measured
    whole, the first drawn. Level i draws its noise from ``seed + i``.
    """
    from stablenets.data import noisy_training_input

    out: dict = {"images": [], "text": []}
    if images is not None:
        scale = torch.tensor(list(std), dtype=images.dtype).view(1, -1, 1, 1)
        out["clean_images"] = images[:show]
        for i, sigma in enumerate(sigmas):
            noisy = noisy_training_input(images, sigma=float(sigma), std=list(std), seed=seed + i)
            added = noisy - images
            out["images"].append({"sigma": float(sigma), "normalised_std": float((added / scale).std()),
                                  "pixel_std": float(added.std()), "noise_mean": float((added / scale).mean()),
                                  "outside_box": float(((noisy < 0) | (noisy > 1)).float().mean()),
                                  "samples": noisy[:show]})
    if codes is not None:
        from stablenets.data.text import ALPHABET_SIZE

        real = codes != 0
        out["clean_text"] = decode(codes[0])
        length = len(out["clean_text"])
        for i, p in enumerate(rates):
            noisy = noisy_training_input(codes, replace_p=float(p), seed=seed + len(sigmas) + i)
            changed = (noisy != codes) & real
            at = torch.nonzero(changed[0]).flatten().tolist()
            out["text"].append({"p": float(p), "changed": float(changed.sum() / real.sum()),
                                "expected": float(p) * (ALPHABET_SIZE - 1) / ALPHABET_SIZE,
                                "sample": decode(noisy[0]), "changed_at": sorted(length - 1 - j for j in at)})
    return out


def plot_noisy_inputs(data: dict, path, chars: int = 90):
    """Top: the clean images and one row per σ (shown clipped to [0, 1]); bottom: the start of one text,
    clean and per p, with ^ under each changed character."""
    plt = pyplot()
    rows = ([("clean", data["clean_images"])] if data.get("images") else []) + \
        [(f"σ = {e['sigma']:g}", e["samples"]) for e in data.get("images", [])]
    texts = data.get("text", [])
    cols = max((len(r[1]) for r in rows), default=1)
    height = 1.3 * len(rows) + (0.5 * (2 * len(texts) + 1) + 0.4 if texts else 0)
    fig = plt.figure(figsize=(max(1.4 * cols, 8), max(height, 2)))
    grid = fig.add_gridspec(2, 1, height_ratios=[max(1.3 * len(rows), 0.01), max(height - 1.3 * len(rows), 0.01)])
    if rows:
        top = grid[0].subgridspec(len(rows), cols)
        for r, (name, batch) in enumerate(rows):
            for c in range(cols):
                ax = fig.add_subplot(top[r, c])
                if c < len(batch):
                    img = batch[c].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
                    ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
                ax.set_xticks([]), ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(name, fontsize=8)
    if texts:
        ax = fig.add_subplot(grid[1])
        ax.axis("off")
        lines = [("clean", data["clean_text"], [])] + [(f"p = {e['p']:g}", e["sample"], e["changed_at"])
                                                        for e in texts]
        y = 1.0
        step = 1.0 / (2 * len(lines))
        for name, text, marks in lines:
            shown = text[:chars].replace("\n", "¶")
            ax.text(0.0, y, f"{name:>9}  {shown}", family="monospace", fontsize=7, va="top")
            under = np.full(len(shown), " ")
            under[[j for j in marks if j < len(shown)]] = "^"
            if marks:
                ax.text(0.0, y - step * 0.55, " " * 11 + "".join(under), family="monospace", fontsize=7,
                        va="top", color="tab:red")
            y -= 2 * step
    title = "Noisy inputs (B appendix F): Gaussian noise on normalised pixels; altered characters"
    fig.suptitle(title + (f"\n{data['source']}" if data.get("source") else ""), fontsize=9)
    return save_figure(fig, path)
