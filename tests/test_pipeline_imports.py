"""Data flows one way: no module of src/stablenets imports from a later stage of the pipeline.

The stages, in order (a module may import its own stage and earlier ones):

    foundation   settings, atomic, device, overrides (used by every stage)
    config       training.config: the settings of a run, plain data, read from TOML files;
                 reproduce.registry: the papers' runs as such settings (data files and their reader)
    data         data sets, their facts, preparation, batching
    model        stability (mathematics), schemes, models
    attacks      adversarial attacks on a model (training's PGD uses them)
    checkpoint   the files a run leaves: training writes them, evaluation reads them,
                 so neither needs to import the other
    training     the loop, objectives, run folders
    evaluation   robustness suites, diagnostics, reports
    analysis     analyses and figures of models, runs and reports
    pipeline     what chains the stages: pipeline, reproduce, experiments (names → settings), the
                 package root
    commands     the command line: stablenets.cli and one module per command in stablenets/commands/

Past the checkpoint, training is invisible: evaluation and analysis take the checkpoint files
(and run folders) that training leaves, never training's modules. No stage holds a command's
module: a command sits above every stage it drives. The papers' registry is config data, but its
package (reproduce) sits above the stages: a stage gets its settings handed down, it never looks
a name up there. Every import counts, at any depth: inside functions, methods, ``if`` and ``try``
blocks, relative or absolute.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "stablenets"

STAGES = ["foundation", "config", "data", "model", "attacks", "checkpoint", "training", "evaluation", "analysis",
          "pipeline", "commands"]
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
    "stablenets.pipeline": "pipeline", "stablenets.experiments": "pipeline", "stablenets.reproduce": "pipeline",
    "stablenets": "pipeline",
    "stablenets.commands": "commands", "stablenets.cli": "commands", "stablenets.__main__": "commands",
}
# Stages whose modules live in their own packages (the rest: reproduce, pipeline, experiments, commands).
STAGE_PACKAGES = ("stablenets.settings", "stablenets.atomic", "stablenets.device", "stablenets.overrides",
                  "stablenets.progress", "stablenets.training", "stablenets.data", "stablenets.stability",
                  "stablenets.schemes", "stablenets.models", "stablenets.attacks", "stablenets.checkpoint",
                  "stablenets.evaluation", "stablenets.analysis")


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


def imports(path: Path, source: str | None = None, me: str | None = None) -> list[tuple[int, str]]:
    """(line, imported stablenets module) for every import in the file, at any depth of its syntax tree
    (module level, functions, methods, ``if``/``try`` blocks), relative ones resolved. ``source`` and
    ``me`` stand in for the file's text and module name (the checker's own test)."""
    me = me or module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, str(path))):
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
            violations.append(f"{path.relative_to(SRC)}:{line} ({stage(me)}) imports {target} ({stage(target)})")
    assert not violations, "imports against the data flow:\n" + "\n".join(violations)


def test_no_stage_looks_a_name_up_in_the_reproduce_package():
    """training.config reads files; the names of the papers' runs are resolved above it (stablenets.experiments)."""
    found = [f"{path.relative_to(SRC)}:{line} imports {target}"
             for path in sorted(PACKAGE.rglob("*.py")) if module_name(path).startswith(STAGE_PACKAGES)
             for line, target in imports(path) if target.startswith("stablenets.reproduce")]
    assert not found, "a stage reaches up into the reproduce package:\n" + "\n".join(found)


def test_command_modules_live_above_the_stages():
    """Each command's module is in stablenets/commands/ (or is stablenets/cli.py), none inside a stage."""
    from stablenets.cli import COMMANDS

    inside = [str(p.relative_to(SRC)) for p in PACKAGE.rglob("cli.py") if p.parent != PACKAGE]
    assert not inside, f"command-line modules inside a stage: {inside}"
    for name, (module, _) in COMMANDS.items():
        assert module is None or (module.startswith("stablenets.commands.") and stage(module) == "commands"), \
            (name, module)


def test_the_walker_sees_imports_at_any_depth(tmp_path):
    """The checker itself: on a constructed module of the training stage, it finds an import inside a
    function, inside a method of a class, inside if/try blocks and a nested function, relative and absolute
    and `from stablenets import x` forms; and the rules above catch each upward one."""
    source = (
        "import os\n"
        "from . import optim\n"                                      # line 2: relative, same stage
        "def f():\n"
        "    from stablenets.pipeline import prepare\n"             # line 4: in a function
        "class A:\n"
        "    def m(self):\n"
        "        if True:\n"
        "            try:\n"
        "                import stablenets.evaluation.report\n"     # line 9: method > if > try
        "            except ImportError:\n"
        "                pass\n"
        "def g():\n"
        "    def h():\n"
        "        from ..reproduce import registry\n"                # line 14: nested, relative, upward
        "        from stablenets import commands\n"                 # line 15: `from stablenets import x`
        "    return h\n")
    fake = PACKAGE / "training" / "fake.py"
    found = sorted(imports(fake, source, "stablenets.training.fake"))
    assert found == [(2, "stablenets.training.optim"), (4, "stablenets.pipeline"),
                     (9, "stablenets.evaluation.report"), (14, "stablenets.reproduce.registry"),
                     (15, "stablenets.commands")], found
    later = [(line, t) for line, t in found if STAGES.index(stage(t)) > STAGES.index("training")]
    assert [line for line, _ in later] == [4, 9, 15]                 # caught by the stage order
    assert [line for line, t in found if t.startswith("stablenets.reproduce")] == [14]  # by the reproduce rule
    tree_imports = imports(PACKAGE / "training" / "trainer.py")
    assert any(t.startswith("stablenets.models") for _, t in tree_imports)  # a lazy import inside build_model
    assert stage("stablenets.commands.evaluate") == "commands" and stage("stablenets.training.config") == "config"
