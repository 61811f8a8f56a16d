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

from stablenets.models.backbones import cifar_resnet, imagenet_resnet, resnet10, resnext, wide_resnet
from stablenets.models.continuous import odenet, soblock, soblock_wrn, sonet
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
                       scheme="implicit", scheme_args=dict(iterations=k, gamma=0.1), shortcut_kernel=3,
                       **_cifar(depth))

# Paper C: ImageNet-layout pre-activation ResNets with a base width; IE-ResNets use 3×3 convolutions
# for the dimension-changing shortcuts (C Fig. 2), their plain twins the usual 1×1.
# gamma: 0.05 for natural training (C §5.2: C-table1, C-table2), 0.1 for IE-WRN (C §5.4, C-table5);
# the PGD-trained tables (C-table3/4/6, C-fig4/5/6) do not state it: 0.1, the other adversarial setting.
IE_NATURAL_GAMMA, IE_ROBUST_GAMMA = 0.05, 0.1


def _ie(k: int, gamma: float) -> dict:
    return dict(scheme="implicit", scheme_args=dict(iterations=k, gamma=gamma), shortcut_kernel=3)


for depth in (18, 34, 50):
    register_model(f"resnet-{depth}-w16", imagenet_resnet, "ImageNet-layout ResNet, base width 16 (C-table2, C-table3)",
                   "C", depth=depth, width=16)
    register_model(f"resnet-{depth}", imagenet_resnet, "ImageNet-layout ResNet, base width 64", "C", depth=depth)
    for k in (1, 3):
        register_model(f"ie-resnet-{k}-{depth}", imagenet_resnet,
                       f"IE-skip, K = {k}, gamma = {IE_ROBUST_GAMMA}, width 16 (C-table3)", "C",
                       depth=depth, width=16, **_ie(k, IE_ROBUST_GAMMA))
        register_model(f"swresnet-{k}-{depth}", imagenet_resnet,
                       f"weight sharing: same-shape blocks applied {k + 1} times, width 16", "C",
                       depth=depth, width=16, scheme="shared", scheme_args=dict(repeats=k + 1))
register_model("ie-resnet-1-50-g0.05", imagenet_resnet,
               f"IE-skip, K = 1, gamma = {IE_NATURAL_GAMMA}, width 16 (C-table2, natural training)", "C",
               depth=50, width=16, **_ie(1, IE_NATURAL_GAMMA))
register_model("resnet-18-w8", imagenet_resnet, "ImageNet-layout ResNet-18, base width 8 (C-table1, MNIST)", "C",
               depth=18, width=8)
for k in (1, 3):
    register_model(f"ie-resnet-{k}-18-w8", imagenet_resnet,
                   f"IE-skip, K = {k}, gamma = {IE_NATURAL_GAMMA}, width 8 (C-table1, MNIST)", "C",
                   depth=18, width=8, **_ie(k, IE_NATURAL_GAMMA))
register_model("resnet-18-w64", imagenet_resnet, "PreAct ResNet-18, base width 64 (C-fig6)", "C", depth=18, width=64)
for k in (1, 2, 3):
    register_model(f"ie-resnet-{k}-18-w64", imagenet_resnet,
                   f"IE-skip, K = {k}, gamma = {IE_ROBUST_GAMMA}, PreAct ResNet-18 width 64 (C-fig6)", "C",
                   depth=18, width=64, **_ie(k, IE_ROBUST_GAMMA))
register_model("swresnet-58", imagenet_resnet,
               "SwResNet-58: ResNet-34 (width 16) with each non-first block of a stage applied twice (C-table6)",
               "C", depth=34, width=16, scheme="shared", scheme_args=dict(repeats=2, repeat_first=False))
register_model("wrn-34-10", wide_resnet, "WideResNet-34-10", "C", depth=34, widen=10)
register_model("ie-wrn-34-10", wide_resnet, f"WideResNet-34-10 with IE-skip, K = 1, gamma = {IE_ROBUST_GAMMA} "
               "(C-table5)", "C", depth=34, widen=10, **_ie(1, IE_ROBUST_GAMMA))
register_model("resnext-29", resnext, "ResNeXt-29 (8x64d)", "A", depth=29, cardinality=8, base_width=64)
register_model("in-resnext-29", resnext, "In-ResNeXt-29 (8x64d), damped", "A", depth=29, cardinality=8,
               base_width=64, scheme="damped", scheme_args=dict(lambda_init=(0.2, 0.25)))

# Continuous family (paper D): dopri5, rtol = atol = 0.1, gamma = 0 (D §5.1).
register_model("resnet10", resnet10, "ResNet10 of D §5.1, one basic block per stage, width 64 (D-table1)", "D",
               width=64)
register_model("resnet10-w32", resnet10, "ResNet10 of D §5.1, width 32 (D-table1)", "D", width=32)
for width in (32, 64):
    register_model(f"sonet-{width}", sonet, f"SONet: five skew ODE feature blocks and an ODE classifier, width {width} "
                   "(D-table1)", "D", width=width)
    register_model(f"soblock-{width}", soblock, f"ResNet10 whose first layer is a skew ODE block, width {width} "
                   "(D-table1)", "D", width=width)
register_model("soblock-wrn-34-10", soblock_wrn, "WRN-34-10 whose first layer is a skew ODE block (D-table2)", "D",
               depth=34, widen=10)
register_model("odenet", odenet, "ODENet: channel copy, ten neural-ODE blocks, width 64 (D-table2)", "D", width=64,
               scheme="ode")
register_model("odenet-32", odenet, "ODENet at width 32 (a smaller D-table2 ODENet)", "D", width=32, scheme="ode")

# Text (paper B, AG-NEWS) and 2-D points (paper B, two-moons feature flow).
for depth in (9, 17, 29, 49):
    register_model(f"textresnet-{depth}", text_resnet, f"VDCNN-like character ResNet, depth {depth}", "B",
                   depth=depth)
    register_model(f"textresnet-h0.1-{depth}", text_resnet, f"character ResNet-{depth} with h = 0.1", "B",
                   depth=depth, scheme="euler", scheme_args=dict(h=0.1))
register_model("mlp-moons", residual_mlp, "residual MLP on 2-D points, 10 blocks, h = 1", "B", blocks=10)
register_model("mlp-moons-h0.1", residual_mlp, "residual MLP on 2-D points, 10 blocks, h = 0.1", "B", blocks=10,
               scheme="euler", scheme_args=dict(h=0.1))
