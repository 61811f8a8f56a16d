"""The papers' noise corruptions, on float [0,1] batches, on the batch's device, seedable.

CIFAR-10-C noise groups (Hendrycks & Dietterich, ICLR 2019, ``make_cifar_c.py``), with
the five published severities of :data:`SEVERITIES`, x in [0,1]:

    gaussian_noise   y = x + c·N(0,1)                       c = σ
    shot_noise       y = Poisson(c·x) / c                   (so Var y ≈ x/c)
    impulse_noise    salt & pepper: each value, with probability c, becomes 1 or 0
                     (even odds), as skimage ``random_noise(mode='s&p', amount=c)``
    speckle_noise    y = x + x·c·N(0,1)

then, as the original generator stores ``np.uint8(clip(y, 0, 1)·255)``, the output is
clipped and truncated to the 256 uint8 levels (:func:`quantize_uint8`).

ZeroSNet (Chen, Jin, Shang, AAAI 2022) perturbs test images with uniform noise U[a,b]
(:func:`uniform_noise`), zero-mean Gaussian noise of standard deviation δ
(:func:`gaussian_noise`), and a constant grey image μ (:func:`constant_noise`), each
clipped to [0,1]. Noisy training (Zhang et al., IJCAI 2019, §4.2 and appendix F) injects
Gaussian noise of level σ "at every normalized pixel" (:func:`normalised_gaussian_noise`;
:func:`gaussian_noise_train` is the same level in pixel units, clipped) and alters a fraction
p of the characters of a text (:func:`replace_characters`).

All random draws come from a ``torch.Generator`` on the batch's device (made from
``seed`` when none is passed), so equal seeds give equal outputs on one device.
"""
from __future__ import annotations

import torch

from stablenets.data.text import ALPHABET_SIZE

SEVERITIES: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
    "shot_noise": (500, 250, 100, 75, 50),
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),
    "speckle_noise": (0.06, 0.10, 0.12, 0.16, 0.20),
}
NOISE_CORRUPTIONS = tuple(SEVERITIES)
# float32 cannot hold k/255 exactly; without this margin an untouched level k would
# sometimes truncate to k - 1. It is far below one level (1/255).
_LEVEL_EPS = 1e-4


def _generator(x: torch.Tensor, generator: torch.Generator | None, seed: int) -> torch.Generator:
    if generator is not None:
        return generator
    return torch.Generator(device=x.device).manual_seed(int(seed))


def quantize_uint8(y: torch.Tensor) -> torch.Tensor:
    """``uint8(clip(y, 0, 1)·255) / 255``: truncation to the 256 levels, as the CIFAR-C generator."""
    return torch.floor(y.clamp(0, 1) * 255 + _LEVEL_EPS) / 255


def _gaussian(x, c, g):
    return x + c * torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)


def _shot(x, c, g):
    return torch.poisson(x * c, generator=g) / c


def _impulse(x, amount, g):
    flipped = torch.rand(x.shape, generator=g, device=x.device) <= amount
    salted = torch.rand(x.shape, generator=g, device=x.device) <= 0.5
    return torch.where(flipped, salted.to(x.dtype), x)


def _speckle(x, c, g):
    return x + x * c * torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)


_NOISES = {"gaussian_noise": _gaussian, "shot_noise": _shot, "impulse_noise": _impulse, "speckle_noise": _speckle}


def corrupt(x: torch.Tensor, name: str, severity: int, seed: int = 0,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """CIFAR-10-C noise ``name`` at ``severity`` (1..5) on float images ``x`` in [0,1].

    Returns a tensor like ``x`` whose values lie on the uint8 grid k/255.
    """
    if name not in _NOISES:
        raise ValueError(f"unknown noise corruption {name!r}; valid: {', '.join(NOISE_CORRUPTIONS)}")
    if severity not in range(1, 6):
        raise ValueError(f"severity must be 1..5, got {severity!r}")
    if not x.is_floating_point():
        raise ValueError(f"corrupt() takes float images in [0,1]; got dtype {x.dtype} (divide uint8 by 255)")
    c = SEVERITIES[name][severity - 1]
    return quantize_uint8(_NOISES[name](x, c, _generator(x, generator, seed)))


def uniform_noise(x: torch.Tensor, a: float, b: float, generator: torch.Generator | None = None,
                  seed: int = 0) -> torch.Tensor:
    """``clip(x + U[a, b], 0, 1)``, one independent draw per value (ZeroSNet)."""
    if b < a:
        raise ValueError(f"uniform noise needs a <= b, got a={a}, b={b}")
    u = torch.rand(x.shape, generator=_generator(x, generator, seed), device=x.device, dtype=x.dtype)
    return (x + a + (b - a) * u).clamp(0, 1)


def gaussian_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None,
                   seed: int = 0) -> torch.Tensor:
    """``clip(x + N(0, std²), 0, 1)`` (ZeroSNet's δ; not quantised)."""
    if std < 0:
        raise ValueError(f"noise standard deviation must be >= 0, got {std}")
    return _gaussian(x, std, _generator(x, generator, seed)).clamp(0, 1)


def constant_noise(x: torch.Tensor, mu: float) -> torch.Tensor:
    """``clip(x + μ, 0, 1)``: a constant grey image added (ZeroSNet)."""
    return (x + mu).clamp(0, 1)


def gaussian_noise_train(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training-time input noise of level σ: ``clip(x + N(0, σ²), 0, 1)``."""
    return gaussian_noise(x, sigma, generator)


def normalised_gaussian_noise(x: torch.Tensor, sigma: float, std, generator: torch.Generator | None = None,
                              seed: int = 0) -> torch.Tensor:
    """Paper B's training noise: N(0, σ²) on every normalised pixel (B appendix F), in pixel units.

    A model normalises inside, x̂ = (x − mean)/std per channel, so the noise is σ·std_c in pixel
    units, and it is not clipped: the network's normalised input is then exactly x̂ + σ·N(0, I).
    ``std`` is the model's per-channel std (:func:`stablenets.models.input_normalization`).
    """
    if not sigma >= 0:
        raise ValueError(f"noise level sigma must be >= 0, got {sigma}")
    scale = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(1, -1, *([1] * (x.dim() - 2)))
    if scale.shape[1] != x.shape[1]:
        raise ValueError(f"std has {scale.shape[1]} values but the images have {x.shape[1]} channels")
    return x + sigma * scale * torch.randn(x.shape, generator=_generator(x, generator, seed), device=x.device,
                                           dtype=x.dtype)


def noisy_training_input(x: torch.Tensor, sigma: float = 0.0, replace_p: float = 0.0, std=None,
                         generator: torch.Generator | None = None, seed: int = 0) -> torch.Tensor:
    """The input of paper B's noisy training (§4.2): float inputs get N(0, σ²) per normalised value
    (:func:`normalised_gaussian_noise`; ``std`` None: raw units, as for 2-D points), character codes
    get a fraction ``replace_p`` replaced (:func:`replace_characters`); σ = p = 0 returns ``x``."""
    g = _generator(x, generator, seed)
    if x.is_floating_point() and sigma > 0:
        return normalised_gaussian_noise(x, sigma, [1.0] * x.shape[1] if std is None else std, generator=g)
    if replace_p > 0:
        return replace_characters(x, replace_p, generator=g)
    return x


def replace_characters(codes: torch.Tensor, p: float, generator: torch.Generator | None = None,
                       seed: int = 0) -> torch.Tensor:
    """Replace each non-padding character code, with probability p, by a uniform code in 1..70."""
    if not 0 <= p <= 1:
        raise ValueError(f"replacement fraction p must be in [0, 1], got {p}")
    g = _generator(codes, generator, seed)
    hit = (torch.rand(codes.shape, generator=g, device=codes.device) < p) & (codes != 0)
    new = torch.randint(1, ALPHABET_SIZE + 1, codes.shape, generator=g, device=codes.device, dtype=codes.dtype)
    return torch.where(hit, new, codes)
