"""Data flows one way: no module of src/stablenets imports from a later stage of the pipeline.

The stages, in order (a module may import its own stage and earlier ones):

    foundation   settings, atomic, device, overrides (used by every stage)
    config       training.config: the settings of a run, plain data; reproduce.registry: the papers'
                 runs as such settings (data files and their reader)
    data         data sets, their facts, preparation, batching
    model        stability (mathematics), schemes, models
    attacks      adversarial attacks on a model (training's PGD uses them)
    checkpoint   the files a run leaves: training writes them, evaluation reads them,
                 so neither needs to import the other
    training     the loop, objectives, run folders
    evaluation   robustness suites, diagnostics, reports
    analysis     analyses and figures of models, runs and reports
    pipeline     what chains the stages: pipeline, the command line, demo, reproduce, the package root

Past the checkpoint, training is invisible: evaluation and analysis take the checkpoint files
(and run folders) that training leaves, never training's modules. A stage's command-line module
(``<stage>.cli``) may import ``stablenets.pipeline`` as well: it parses arguments and hands them to
the pipeline. Imports inside functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "stablenets"

STAGES = ["foundation", "config", "data", "model", "attacks", "checkpoint", "training", "evaluation", "analysis",
          "pipeline"]
# Longest prefix wins.
STAGE_OF = {
    "stablenets.settings": "foundation", "stablenets.atomic": "foundation", "stablenets.device": "foundation",
    "stablenets.overrides": "foundation", "stablenets.progress": "foundation",
    "stablenets.training.config": "config", "stablenets.reproduce.registry": "config",
    "stablenets.data": "data",
    "stablenets.stability": "model", "stablenets.schemes": "model", "stablenets.models": "model",
    "stablenets.attacks": "attacks",
    "stablenets.checkpoint": "checkpoint",
    "stablenets.training": "training",
    "stablenets.evaluation": "evaluation",
    "stablenets.analysis": "analysis",
    "stablenets.pipeline": "pipeline", "stablenets.cli": "pipeline", "stablenets.demo": "pipeline",
    "stablenets.reproduce": "pipeline", "stablenets.__main__": "pipeline", "stablenets": "pipeline",
}


# Earlier stages a stage must still not import: it takes their output, not their code.
NOT_IMPORTED_BY = {"evaluation": {"training"}, "analysis": {"training"}}


def stage(module: str) -> str:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in STAGE_OF:
            return STAGE_OF[prefix]
    raise AssertionError(f"module {module} has no pipeline stage: add it to STAGE_OF in {__file__}")


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_package(module: str) -> bool:
    return (SRC / Path(*module.split(".")) / "__init__.py").is_file()


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported stablenets module) for every import in the file, relative ones resolved."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "stablenets"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "stablenets":
                continue
            for alias in node.names:  # ``from stablenets import data``: the subpackage is what is imported
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if is_package(sub) or (SRC / (sub.replace(".", "/") + ".py")).is_file()
                              else target))
    return found


def test_the_stage_table_covers_every_module():
    for path in PACKAGE.rglob("*.py"):
        stage(module_name(path))


def test_no_module_imports_from_a_later_stage():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        mine = STAGES.index(stage(me))
        for line, target in imports(path):
            theirs = STAGES.index(stage(target))
            if theirs <= mine and stage(target) not in NOT_IMPORTED_BY.get(stage(me), ()):
                continue
            if me.endswith(".cli") and target == "stablenets.pipeline":
                continue
            violations.append(f"{path.relative_to(SRC)}:{line} ({stage(me)}) imports {target} ({stage(target)})")
    assert not violations, "imports against the data flow:\n" + "\n".join(violations)


def test_the_walker_sees_lazy_relative_and_from_package_imports(tmp_path):
    """The checker itself: a later-stage import inside a function, and `from stablenets import x`, are found."""
    fake = PACKAGE / "data" / "loaders.py"
    found = dict((t, n) for n, t in imports(fake))
    assert "stablenets.data.info" in found or "stablenets.data._files" in found
    tree_imports = imports(PACKAGE / "training" / "trainer.py")
    assert any(t.startswith("stablenets.models") for _, t in tree_imports)  # a lazy import inside build_model
    assert stage("stablenets.evaluation.cli") == "evaluation" and stage("stablenets.training.config") == "config"
