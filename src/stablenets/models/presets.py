"""Every model of the five papers' tables, by name.

Naming: ``<family>-<depth>``; a step factor reads ``resnet-h0.1-218``; IE-skip
with K inner steps ``ie-resnet-K-18``; the compute-matched weight-sharing
baseline ``swresnet-K-18`` (each same-shape block applied K+1 times).
All discrete ResNets here are pre-activation networks ("resnet-110" is
PreResNet-110; "resnet-164" is the bottleneck PreResNet-164).

Papers: A = Yang et al. ICML 2020 (In-ResNet); B = Zhang et al. IJCAI 2019
(step factor h); C = Li, He, Lin ICML 2020 (IE-skip); D = Huang et al. 2021
(SONet); E = Chen, Jin, Shang AAAI 2022 (ZeroSNet).
"""
from __future__ import annotations

from stablenets.models.backbones import cifar_resnet, imagenet_resnet, resnext, wide_resnet
from stablenets.models.continuous import odenet, soblock, sonet
from stablenets.models.mlp import residual_mlp
from stablenets.models.registry import register_model
from stablenets.models.text import text_resnet
from stablenets.stability import zerosnet_coefficients

CIFAR_DEPTHS = (8, 20, 32, 44, 56, 110, 218)
LAMBDA_INIT = {164: (0.1, 0.2)}  # paper A: U[0.2, 0.25] for 110 layers, U[0.1, 0.2] for In-ResNet-164
ZEROSNET_OPT = dict(alphas=(1 / 3, 5 / 9, 1 / 9), beta=16 / 9)


def _cifar(depth: int) -> dict:
    return dict(depth=depth, bottleneck=depth == 164)


# Damped family (paper A): scheme settings of each variant.
DAMPED = {
    "in-resnet": (dict(), "In-ResNet: (1 - ReLU(lambda_n)) x_n + f_n(x_n)"),
    "lambda-in-resnet": (dict(rho_from_lambda=True), "lambda-In-ResNet: rho_n = 1 + ReLU(lambda_n)"),
    "in-resnet-sig": (dict(activation="sigmoid"), "In-ResNet-sig: damping sigmoid(lambda_n)"),
    "in-resnet-gating": (dict(gating=True), "In-ResNet-gating: per-sample lambda(x) = W pool(x) + b"),
    "in-resnet-gating-sig": (dict(gating=True, activation="sigmoid"), "In-ResNet-gating-sig: sigmoid gate"),
}
# Multistep family (paper E) on the CIFAR backbones.
MULTISTEP = {
    "lm-resnet": (dict(learn="k", k_init=(-0.1, 0.0)), "LM-ResNet, learnable k_n ~ U[-0.1, 0], beta = 1 (Lu et al. 2018)"),
    "lm-resnet-consistent": (dict(alphas=(1.5, -0.5), beta="consistent"),
                             "LM-ResNet in the consistent form, k = -0.5 shared, beta = (1 + k) h"),
    "zerosnet-opt": (ZEROSNET_OPT, "ZeroSNet-Opt: (1/3, 5/9, 1/9, 16/9), lambda = -9/5"),
    "zerosnet-tra": (dict(learn="lambda", lambda_init=1.0), "ZeroSNet-Tra: learnable lambda_n from block 3, init 1"),
    "preresnet-alpha0.5": (dict(alphas=(0.5,), beta=1.0), "PreResNet-alpha: x_{n+1} = 0.5 x_n + f(x_n)"),
}

for depth in (*CIFAR_DEPTHS, 164):
    register_model(f"resnet-{depth}", cifar_resnet, "pre-activation ResNet", "A B C E", **_cifar(depth))
    for family, (settings, description) in DAMPED.items():
        init = LAMBDA_INIT.get(depth, (0.2, 0.25))
        register_model(f"{family}-{depth}", cifar_resnet, f"{description}, lambda_n ~ U{list(init)}", "A",
                       scheme="damped", scheme_args=dict(settings, lambda_init=init), **_cifar(depth))
for depth in CIFAR_DEPTHS:
    for h in (0.1, 0.5):
        register_model(f"resnet-h{h}-{depth}", cifar_resnet, f"explicit Euler, step factor h = {h}", "B",
                       scheme="euler", scheme_args=dict(h=h), **_cifar(depth))
    register_model(f"resnet-hlearn-{depth}", cifar_resnet, "explicit Euler, learnable h_n (init 1)", "B",
                   scheme="euler", scheme_args=dict(learnable_h=True), **_cifar(depth))
    for family, (settings, description) in MULTISTEP.items():
        register_model(f"{family}-{depth}", cifar_resnet, description, "E", scheme="multistep",
                       scheme_args=dict(settings), **_cifar(depth))
    for lam in (-1.5, 2.0, 4.0):
        alphas, beta = zerosnet_coefficients(lam)
        register_model(f"zerosnet-lam{lam:g}-{depth}", cifar_resnet, f"ZeroSNet with fixed lambda = {lam:g}", "E",
                       scheme="multistep", scheme_args=dict(alphas=alphas, beta=beta), **_cifar(depth))
    for k in (1, 3):
        register_model(f"ie-resnet-{k}-{depth}", cifar_resnet, f"IE-skip, K = {k}, gamma = 0.1", "C",
                       scheme="implicit", scheme_args=dict(iterations=k, gamma=0.1), **_cifar(depth))

# ImageNet-style layouts (paper C shrinks the width to 8 or 16).
for depth in (18, 34, 50):
    register_model(f"resnet-{depth}-w16", imagenet_resnet, "ImageNet-layout ResNet, base width 16", "C",
                   depth=depth, width=16)
    register_model(f"resnet-{depth}", imagenet_resnet, "ImageNet-layout ResNet, base width 64", "C", depth=depth)
    for k in (1, 3):
        register_model(f"ie-resnet-{k}-{depth}", imagenet_resnet, f"IE-skip, K = {k}, gamma = 0.1, width 16", "C",
                       depth=depth, width=16, scheme="implicit", scheme_args=dict(iterations=k, gamma=0.1))
        register_model(f"swresnet-{k}-{depth}", imagenet_resnet,
                       f"weight sharing: same-shape blocks applied {k + 1} times, width 16", "C",
                       depth=depth, width=16, scheme="shared", scheme_args=dict(repeats=k + 1))
register_model("wrn-34-10", wide_resnet, "WideResNet-34-10", "C", depth=34, widen=10)
register_model("ie-wrn-34-10", wide_resnet, "WideResNet-34-10 with IE-skip, K = 1", "C", depth=34, widen=10,
               scheme="implicit", scheme_args=dict(iterations=1, gamma=0.1))
register_model("resnext-29", resnext, "ResNeXt-29 (8x64d)", "A", depth=29, cardinality=8, base_width=64)
register_model("in-resnext-29", resnext, "In-ResNeXt-29 (8x64d), damped", "A", depth=29, cardinality=8,
               base_width=64, scheme="damped", scheme_args=dict(lambda_init=(0.2, 0.25)))

# Continuous family (paper D).
register_model("resnet10", imagenet_resnet, "ResNet10, one basic block per stage, width 64", "D", depth=10)
for width in (32, 64):
    register_model(f"sonet-{width}", sonet, f"SONet, skew ODE blocks throughout, width {width}", "D", width=width)
    register_model(f"soblock-{width}", soblock, f"ResNet10 whose first layer is a skew ODE block, width {width}",
                   "D", width=width)
register_model("odenet", odenet, "plain neural-ODE network, width 64", "D", width=64)
register_model("odenet-32", odenet, "plain neural-ODE network, width 32", "D", width=32)

# Text (paper B, AG-NEWS) and 2-D points (paper B, two-moons feature flow).
for depth in (9, 17, 29, 49):
    register_model(f"textresnet-{depth}", text_resnet, f"VDCNN-like character ResNet, depth {depth}", "B",
                   depth=depth)
    register_model(f"textresnet-h0.1-{depth}", text_resnet, f"character ResNet-{depth} with h = 0.1", "B",
                   depth=depth, scheme="euler", scheme_args=dict(h=0.1))
register_model("mlp-moons", residual_mlp, "residual MLP on 2-D points, 10 blocks, h = 1", "B", blocks=10)
register_model("mlp-moons-h0.1", residual_mlp, "residual MLP on 2-D points, 10 blocks, h = 0.1", "B", blocks=10,
               scheme="euler", scheme_args=dict(h=0.1))
