"""Every model of the five papers' tables, by name, with its facts.

Naming: ``<family>-<depth>``; a step factor reads ``resnet-h0.1-218``; IE-skip
with K inner steps ``ie-resnet-K-18``; the compute-matched weight-sharing
baseline ``swresnet-K-18`` (each same-shape block applied K+1 times).
All discrete ResNets here are pre-activation networks ("resnet-110" is
PreResNet-110; "resnet-164" is the bottleneck PreResNet-164).

Like with like: every scheme preset names its plain-ResNet twin
(``Preset.twin``), the ``resnet…`` preset with the same backbone, width, data
set and input layout. A width other than the backbone's standard one is a
``-w<W>`` suffix on both sides: ``resnet-18`` / ``ie-resnet-1-18`` have base
width 64, ``resnet-18-w16`` / ``ie-resnet-1-18-w16`` width 16 (paper C's "4 times
smaller" CIFAR ResNets), ``resnet-18-w8`` / ``ie-resnet-1-18-w8`` width 8 on
MNIST (C-table1). A backbone without BatchNorm is ``-nobn`` on both sides
(``resnet-nobn-110`` / ``resnet-h0.1-nobn-110``, B-fig5).

Each preset carries its facts (:class:`~stablenets.models.registry.Preset`):
family, backbone, depth, width, default data set, paper and the tables and
figures it appears in, and its twin. Nothing parses these names.

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
from stablenets.schemes.damped import LAMBDA_INIT_RANGES
from stablenets.stability import E_TABLE10, zerosnet_coefficients

CIFAR_DEPTHS = (8, 20, 32, 44, 56, 110, 218)
BOTTLENECK_DEPTHS = (164, 326)
LAMBDA_INIT = {164: (0.1, 0.2)}  # paper A §4.1: U[0.2, 0.25] for 110 layers and ResNeXt, U[0.1, 0.2] for 164
ZEROSNET_OPT = dict(alphas=(1 / 3, 5 / 9, 1 / 9), beta=16 / 9)

# Where each family appears in the papers (tables and figures), by depth where it matters.
TABLES = {
    "resnet": {20: "E-table4 E-table8", 32: "E-table1 E-table4 E-table8", 44: "E-table4 E-table8 B-fig3",
               56: "E-table4 E-table8 B-fig3", 110: "A-table1 A-table2 A-table3 E-table4 E-table8 B-fig3",
               164: "A-table1 A-table2 A-table3", 218: "B-fig2 B-fig3 B-fig4"},
    "in-resnet": {110: "A-table1 A-table2 A-table3 A-table4 A-table5", 164: "A-table1 A-table2 A-table3"},
    "lambda-in-resnet": {110: "A-table1 A-table2 A-table3 A-table5", 164: "A-table1 A-table2 A-table3"},
    "in-resnet-sig": {110: "A-table4"}, "in-resnet-gating": {110: "A-table4"}, "in-resnet-gating-sig": {110: "A-table4"},
    "resnet-h0.1": {20: "B-fig3", 32: "B-fig3", 44: "B-fig3", 56: "B-fig3", 110: "B-fig3", 218: "B-fig2 B-fig3 B-fig4"},
    "lm-resnet": {20: "E-table4 E-table8", 32: "E-table4 E-table8", 44: "E-table4 E-table8", 56: "E-table4 E-table8",
                  110: "E-table4 E-table8"},
    "zerosnet-opt": {20: "E-table4 E-table8", 32: "E-table3 E-table4 E-table8", 44: "E-table3 E-table4 E-table7 E-table8",
                     56: "E-table3 E-table4 E-table6 E-table7 E-table8 E-fig4", 110: "E-table4 E-table7 E-table8",
                     164: "E-table7", 326: "E-table7"},
    "preresnet-alpha0.5": {32: "E-table1"},
    "zerosnet-tra": {20: "E-table4", 32: "E-table4", 44: "E-table4", 56: "E-table4", 110: "E-table4"},
}


# He et al. 2016's initialisation for every paper network (paper A §4.1 says it follows it; the reference codes of
# paper E and Lu et al. 2018 use it). The 8-layer networks are the library's own (the demo and smoke runs) and keep
# PyTorch's defaults.
HE = dict(init="he")


def _table(family: str, depth: int | None) -> str:
    return TABLES.get(family, {}).get(depth, "")


def _cifar(depth: int) -> dict:
    return dict(depth=depth, bottleneck=depth in BOTTLENECK_DEPTHS)


def _cifar_facts(family: str, depth: int, paper_table: str = "", twin: str | None = None, dataset: str = "cifar10",
                 nobn: bool = False) -> dict:
    kind = "cifar-preact-bottleneck" if depth in BOTTLENECK_DEPTHS else "cifar-preact"
    return dict(family=family, backbone=kind + ("-nobn" if nobn else ""), depth=depth, width=16, dataset=dataset,
                table=paper_table or _table(family, depth), twin=twin or f"resnet{'-nobn' if nobn else ''}-{depth}")


def register_cifar(family: str, depth: int, description: str, paper: str, scheme: str = "euler",
                   scheme_args: dict | None = None, table: str = "", nobn: bool = False, **builder_args):
    name = f"{family}-{depth}"
    args = dict(_cifar(depth), **({"norm": False} if nobn else {}), **(HE if depth != 8 else {}), **builder_args)
    if scheme != "euler" or scheme_args:
        args.update(scheme=scheme, scheme_args=dict(scheme_args or {}))
    register_model(name, cifar_resnet, description, paper, facts=_cifar_facts(family, depth, table, nobn=nobn), **args)


# Damped family (paper A): scheme settings of each variant.
DAMPED = {
    "in-resnet": (dict(), "In-ResNet: (1 - ReLU(lambda_n)) x_n + f_n(x_n) (A eq 13)"),
    "lambda-in-resnet": (dict(rho_from_lambda=True), "lambda-In-ResNet: rho_n = 1 + ReLU(lambda_n) (A eq 15)"),
    "in-resnet-sig": (dict(activation="sigmoid"), "In-ResNet-sig: damping sigmoid(lambda_n) (A eq 21)"),
    "in-resnet-gating": (dict(gating=True), "In-ResNet-gating: per-sample lambda(x) = W pool(x) + b (A eq 21)"),
    "in-resnet-gating-sig": (dict(gating=True, activation="sigmoid"), "In-ResNet-gating-sig: sigmoid gate (A eq 21)"),
}
# Multistep family (paper E) on the CIFAR backbones.
MULTISTEP = {
    "lm-resnet": (dict(learn="k", k_init=(-0.1, 0.0)), "LM-ResNet, learnable k_n ~ U[-0.1, 0], beta = 1 (Lu et al. 2018)"),
    "lm-resnet-consistent": (dict(alphas=(1.5, -0.5), beta="consistent"),
                             "LM-ResNet in the consistent form, k = -0.5 shared, beta = (1 + k) h"),
    "zerosnet-opt": (ZEROSNET_OPT, "ZeroSNet-Opt: (1/3, 5/9, 1/9, 16/9), lambda = -9/5 (E Theorem 3)"),
    "zerosnet-tra": (dict(learn="lambda", lambda_init=1.0), "ZeroSNet-Tra: learnable lambda_n from block 3, init 1"),
    "preresnet-alpha0.5": (dict(alphas=(0.5,), beta=1.0), "PreResNet-alpha: x_{n+1} = 0.5 x_n + f(x_n) (E eq 7)"),
}


def _zerosnet(lam: float) -> dict:
    alphas, beta = zerosnet_coefficients(lam)
    return dict(alphas=alphas, beta=beta)


for depth in (*CIFAR_DEPTHS, *BOTTLENECK_DEPTHS):
    register_cifar("resnet", depth, "pre-activation ResNet (PreResNet)", "A B C E")
for depth in (*CIFAR_DEPTHS, 164):
    for family, (settings, description) in DAMPED.items():
        init = LAMBDA_INIT.get(depth, (0.2, 0.25))
        register_cifar(family, depth, f"{description}, lambda_n ~ U{list(init)}", "A", "damped",
                       dict(settings, lambda_init=init))
# A-table5: the initialisation intervals of lambda_n, on (lambda-)In-ResNet-110.
for key in LAMBDA_INIT_RANGES:
    for family in ("in-resnet", "lambda-in-resnet"):
        settings, description = DAMPED[family]
        register_cifar(f"{family}-{key}", 110, f"{description}, lambda_n ~ {key.upper()} (A-table5)", "A", "damped",
                       dict(settings, lambda_init=key), table="A-table5")
for depth in CIFAR_DEPTHS:
    for h in (0.1, 0.5):
        register_cifar(f"resnet-h{h}", depth, f"explicit Euler, step factor h = {h} (B eq 3)", "B", "euler", dict(h=h))
    register_cifar("resnet-hlearn", depth, "explicit Euler, learnable h_n (init 1)", "B", "euler",
                   dict(learnable_h=True))
    # B-fig5: the same networks without BatchNorm.
    register_cifar("resnet-nobn", depth, "pre-activation ResNet without BatchNorm (B-fig5)", "B", table="B-fig5",
                   nobn=True)
    register_cifar("resnet-h0.1-nobn", depth, "explicit Euler, h = 0.1, without BatchNorm (B-fig5)", "B", "euler",
                   dict(h=0.1), table="B-fig5", nobn=True)
    for family, (settings, description) in MULTISTEP.items():
        register_cifar(family, depth, description, "E", "multistep", settings)
    for lam in (-1.5, 2.0, 4.0):
        register_cifar(f"zerosnet-lam{lam:g}", depth, f"ZeroSNet with fixed lambda = {lam:g} (E eq 10)", "E",
                       "multistep", _zerosnet(lam))
    for k in (1, 3):  # 3×3 dimension-changing shortcuts, as paper C's IE-ResNets (C Fig. 2)
        register_cifar(f"ie-resnet-{k}", depth, f"IE-skip, K = {k}, gamma = 0.1, 3x3 shortcuts", "C", "implicit",
                       dict(iterations=k, gamma=0.1), shortcut_kernel=3)
for depth in BOTTLENECK_DEPTHS:
    register_cifar("zerosnet-opt", depth, MULTISTEP["zerosnet-opt"][1] + ", bottleneck", "E", "multistep",
                   ZEROSNET_OPT)

# E-table1: PreResNet-32 with x_{n+1} = alpha x_n + h f(x_n), E eq 7 (alpha = 2 and 1.5 are not zero-stable).
for alpha in (2.0, 1.5, 0.7, 1.0):
    register_cifar(f"preresnet-alpha{alpha:g}", 32, f"PreResNet-alpha: x_(n+1) = {alpha:g} x_n + f(x_n) (E eq 7)", "E",
                   "multistep", dict(alphas=(alpha,), beta=1.0), table="E-table1")
# E-table2: LM-ResNet-44 with one shared k. E eq 8 as printed, beta = (2k + 1) h, is consistent only at k = 0
# (consistency needs beta = 1 + k) and at k = -0.5 has beta = 0, no branch at all; the consistent form beside it.
for k in (-1.5, 1.5, -0.5, 0.5):
    register_cifar(f"lm-resnet-eq8-k{k:g}", 44,
                   f"LM-ResNet, E eq 8 as published: (1 - k) x_n + k x_(n-1) + (2k + 1) h f, k = {k:g} "
                   "(not consistent)", "E", "multistep", dict(alphas=(1 - k, k), beta=2 * k + 1), table="E-table2")
    register_cifar(f"lm-resnet-consistent-k{k:g}", 44,
                   f"LM-ResNet, consistent form of E eq 8: beta = (1 + k) h, k = {k:g}", "E", "multistep",
                   dict(alphas=(1 - k, k), beta="consistent"), table="E-table2")
# E-table3 / E-fig4 / E-table6: the ten third-order coefficient sets of E-table10 at 32, 44 and 56 layers; the
# ZeroSNet(lambda) rows are zerosnet-lam<lambda>, the others e10-row<i> (row numbers as E-table10 prints them).
E10_TABLES = {32: "E-table3", 44: "E-table3", 56: "E-table3 E-table6 E-fig4"}
for row_number, row in enumerate(E_TABLE10, start=1):
    moduli = ", ".join(f"{m:.2f}" for m in row["moduli"])
    verdict = "zero-stable" if row["zero_stable"] else "not zero-stable"
    coefficients = ", ".join(f"{a:.4g}" for a in row["alphas"])
    for depth, table in E10_TABLES.items():
        if row["lam"] is None:
            register_cifar(f"e10-row{row_number}", depth, f"E-table10 row {row_number}: alphas ({coefficients}), "
                           f"beta {row['beta']:.4g}; roots {moduli}, {verdict}", "E", "multistep",
                           dict(alphas=row["alphas"], beta=row["beta"]), table=table)
        elif row["lam"] != -9 / 5:
            register_cifar(f"zerosnet-lam{row['lam']:g}", depth, f"ZeroSNet(lambda = {row['lam']:g}), E-table10 row "
                           f"{row_number}: roots {moduli}, {verdict}", "E", "multistep", _zerosnet(row["lam"]),
                           table=table + (" E-table7" if row["lam"] in (0.5, 10.0) and depth != 32 else ""))
# E-table7 (CIFAR-100, 500 epochs): lambda in {0.5, 10, -9/5} at 44 to 326 layers (lambda = -9/5 is zerosnet-opt).
for lam in (0.5, 10.0):
    for depth in (110, *BOTTLENECK_DEPTHS):
        register_cifar(f"zerosnet-lam{lam:g}", depth, f"ZeroSNet(lambda = {lam:g}) (E eq 10)", "E", "multistep",
                       _zerosnet(lam), table="E-table7")

# Paper C: ImageNet-layout pre-activation ResNets with a base width: 64 (the standard ResNet-18, C-fig6), 16 (the
# "4 times smaller" CIFAR-10/100 ResNets of C-table2/3/6) and 8 (MNIST ResNet-18, C-table1), each with its plain
# twin of the same width. IE-ResNets use 3×3 convolutions for the dimension-changing shortcuts (C Fig. 2), their
# plain twins the usual 1×1. gamma: 0.05 for natural training (C §5.2: C-table1, C-table2), 0.1 for IE-WRN
# (C §5.4, C-table5); the PGD-trained tables (C-table3/4/6, C-fig4/5/6) do not state it: 0.1, the other setting.
IE_NATURAL_GAMMA, IE_ROBUST_GAMMA = 0.05, 0.1


def _ie(k: int, gamma: float) -> dict:
    return dict(scheme="implicit", scheme_args=dict(iterations=k, gamma=gamma), shortcut_kernel=3, **HE)


def _imagenet_facts(family: str, depth: int, width: int, suffix: str, dataset: str, table: str) -> dict:
    return dict(family=family, backbone="imagenet-layout", depth=depth, width=width, dataset=dataset,
                twin=f"resnet-{depth}{suffix}", table=table)


C_LAYOUTS = {  # width: (name suffix, data set, depths, plain-twin tables)
    64: ("", "cifar10", (18, 34, 50), {18: "C-fig6"}),
    16: ("-w16", "cifar10", (18, 34, 50), {18: "C-table3", 34: "C-table3 C-table6",
                                           50: "C-table2 C-table3 C-table4 C-fig5"}),
    8: ("-w8", "mnist", (18,), {18: "C-table1"}),
}
for width, (suffix, dataset, depths, tables) in C_LAYOUTS.items():
    for depth in depths:
        register_model(f"resnet-{depth}{suffix}", imagenet_resnet,
                       f"ImageNet-layout pre-activation ResNet-{depth}, base width {width}", "C",
                       facts=_imagenet_facts(f"resnet{suffix}", depth, width, suffix, dataset, tables.get(depth, "")),
                       depth=depth, width=width, **HE)
C_IE_TABLES = {18: "C-table3", 34: "C-table3 C-table6", 50: "C-table3 C-table4 C-fig5"}  # K = 1, width 16
for depth in (18, 34, 50):
    for k in (1, 3):
        register_model(f"ie-resnet-{k}-{depth}-w16", imagenet_resnet,
                       f"IE-skip, K = {k}, gamma = {IE_ROBUST_GAMMA}, base width 16", "C",
                       facts=_imagenet_facts(f"ie-resnet-{k}-w16", depth, 16, "-w16", "cifar10",
                                             C_IE_TABLES[depth] if k == 1 else ""),
                       depth=depth, width=16, **_ie(k, IE_ROBUST_GAMMA))
        register_model(f"ie-resnet-{k}-{depth}-w16-g0.05", imagenet_resnet,
                       f"IE-skip, K = {k}, gamma = {IE_NATURAL_GAMMA}, base width 16 (natural training)", "C",
                       facts=_imagenet_facts(f"ie-resnet-{k}-w16-g0.05", depth, 16, "-w16", "cifar10",
                                             "C-table2" if (k, depth) == (1, 50) else ""),
                       depth=depth, width=16, **_ie(k, IE_NATURAL_GAMMA))
        register_model(f"swresnet-{k}-{depth}-w16", imagenet_resnet,
                       f"weight sharing: same-shape blocks applied {k + 1} times, base width 16", "C",
                       facts=_imagenet_facts(f"swresnet-{k}-w16", depth, 16, "-w16", "cifar10", ""),
                       depth=depth, width=16, scheme="shared", scheme_args=dict(repeats=k + 1), **HE)
for k in (1, 3):
    register_model(f"ie-resnet-{k}-18-w8", imagenet_resnet,
                   f"IE-skip, K = {k}, gamma = {IE_NATURAL_GAMMA}, base width 8 (MNIST)", "C",
                   facts=_imagenet_facts(f"ie-resnet-{k}-w8", 18, 8, "-w8", "mnist", "C-table1"),
                   depth=18, width=8, **_ie(k, IE_NATURAL_GAMMA))
for k in (1, 2, 3):
    register_model(f"ie-resnet-{k}-18", imagenet_resnet,
                   f"IE-skip, K = {k}, gamma = {IE_ROBUST_GAMMA}, PreAct ResNet-18 of base width 64", "C",
                   facts=_imagenet_facts(f"ie-resnet-{k}", 18, 64, "", "cifar10", "C-fig6"),
                   depth=18, width=64, **_ie(k, IE_ROBUST_GAMMA))
register_model("swresnet-58", imagenet_resnet,
               "SwResNet-58: ResNet-34 (width 16) with each non-first block of a stage applied twice", "C",
               facts=_imagenet_facts("swresnet-58", 34, 16, "-w16", "cifar10", "C-table6"),
               depth=34, width=16, scheme="shared", scheme_args=dict(repeats=2, repeat_first=False), **HE)
WRN = dict(backbone="wrn", depth=34, width=160, twin="wrn-34-10")
register_model("wrn-34-10", wide_resnet, "WideResNet-34-10", "C", facts=dict(WRN, family="wrn", table="C-table5"),
               depth=34, widen=10, **HE)
register_model("ie-wrn-34-10", wide_resnet, f"WideResNet-34-10 with IE-skip, K = 1, gamma = {IE_ROBUST_GAMMA}, "
               "3x3 shortcuts", "C", facts=dict(WRN, family="ie-wrn", table="C-table5"), depth=34, widen=10,
               **_ie(1, IE_ROBUST_GAMMA))
RESNEXT = dict(backbone="resnext", depth=29, width=64, twin="resnext-29", table="A-table1 A-table2 A-table3")
register_model("resnext-29", resnext, "ResNeXt-29 (8x64d), Xie et al. 2017", "A", facts=dict(RESNEXT, family="resnext"),
               depth=29, cardinality=8, base_width=64, **HE)
register_model("in-resnext-29", resnext, "In-ResNeXt-29 (8x64d): A eq 13, lambda_n ~ U[0.2, 0.25]", "A",
               facts=dict(RESNEXT, family="in-resnext"), depth=29, cardinality=8, base_width=64, scheme="damped",
               scheme_args=dict(lambda_init=(0.2, 0.25)), **HE)
register_model("lambda-in-resnext-29", resnext, "lambda-In-ResNeXt-29 (8x64d): A eq 15, lambda_n ~ U[0.2, 0.25]", "A",
               facts=dict(RESNEXT, family="lambda-in-resnext"), depth=29, cardinality=8, base_width=64,
               scheme="damped", scheme_args=dict(lambda_init=(0.2, 0.25), rho_from_lambda=True), **HE)

# Continuous family (paper D): dopri5, rtol = atol = 0.1, gamma = 0 (D §5.1).
for width, suffix in ((64, ""), (32, "-w32")):
    twin = f"resnet10{suffix}"
    register_model(twin, resnet10, f"ResNet10 of D §5.1, one basic block per stage, width {width}", "D",
                   facts=dict(family=twin, backbone="resnet10", depth=10, width=width, table="D-table1", twin=twin),
                   width=width)
    register_model(f"sonet-{width}", sonet, f"SONet: five skew ODE feature blocks and an ODE classifier, width {width}",
                   "D", facts=dict(family="sonet", backbone="sonet", width=width, table="D-table1", twin=twin),
                   width=width)
    register_model(f"soblock-{width}", soblock, f"ResNet10 whose first layer is a skew ODE block, width {width}", "D",
                   facts=dict(family="soblock", backbone="resnet10", depth=10, width=width, table="D-table1",
                              twin=twin), width=width)
register_model("soblock-wrn-34-10", soblock_wrn, "WRN-34-10 whose first layer is a skew ODE block", "D",
               facts=dict(family="soblock-wrn", backbone="wrn", depth=34, width=160, table="D-table2",
                          twin="wrn-34-10"), depth=34, widen=10)
register_model("odenet-wrn-34-10", soblock_wrn, "WRN-34-10 whose first layer is a neural ODE block (D eq 3 without "
               "the skew constraint, D §6.1.1)", "D", facts=dict(family="odenet-wrn", backbone="wrn", depth=34,
                                                                 width=160, table="D-table2 D-table3",
                                                                 twin="wrn-34-10"), depth=34, widen=10, skew=False)
for width, name in ((64, "odenet"), (32, "odenet-32")):
    register_model(name, odenet, f"ODENet: channel copy, ten neural-ODE blocks, width {width}", "D",
                   facts=dict(family="odenet", backbone="odenet", width=width, table="D-table2" if width == 64 else "",
                              twin=""), width=width, scheme="ode")

# Text (paper B, AG-NEWS, depths 9 to 49 of B-fig3/B-fig5) and 2-D points (paper B, two-moons feature flow).
for depth in (9, 17, 29, 49):
    for suffix, extra, table in (("", {}, "B-fig3"), ("-nobn", {"norm": False}, "B-fig5")):
        twin = f"textresnet{suffix}-{depth}"
        facts = dict(backbone="text" + suffix, depth=depth, width=64, dataset="ag_news", twin=twin, table=table)
        register_model(twin, text_resnet, f"VDCNN-like character ResNet, depth {depth}"
                       + (", without BatchNorm" if suffix else ""), "B",
                       facts=dict(facts, family=f"textresnet{suffix}"), depth=depth, **extra)
        register_model(f"textresnet-h0.1{suffix}-{depth}", text_resnet, f"character ResNet-{depth} with h = 0.1"
                       + (", without BatchNorm" if suffix else ""), "B",
                       facts=dict(facts, family=f"textresnet-h0.1{suffix}"), depth=depth, scheme="euler",
                       scheme_args=dict(h=0.1), **extra)
MOONS = dict(backbone="mlp", depth=10, width=2, dataset="moons", twin="mlp-moons", table="B-fig7")
register_model("mlp-moons", residual_mlp, "residual MLP on 2-D points, 10 blocks, h = 1", "B",
               facts=dict(MOONS, family="mlp-moons"), blocks=10)
register_model("mlp-moons-h0.1", residual_mlp, "residual MLP on 2-D points, 10 blocks, h = 0.1", "B",
               facts=dict(MOONS, family="mlp-moons-h0.1"), blocks=10, scheme="euler", scheme_args=dict(h=0.1))
