"""The papers' tables and figures as data: ``papers/<letter>.toml``, one entry per table or figure.

An entry (``[[entry]]`` in its paper's file) says, so that a reader can check it against the
paper line by line:

    id, kind, title, source    "C-table1"; table | figure | analysis | paper-only; where the paper says it
    claim                      what the table or figure shows, in the paper's words
    dataset, seeds             the data set and the seeds trained (mean ± std over them)
    train                      the training schedule: TrainConfig sections (model, data, optim, schedule,
                               mode, run), merged over the paper's ``[defaults.train]``
    protocol                   the evaluation: ``suite`` (evaluation/suites.py), the ``attacks`` and
                               ``noise`` of that suite to run, ``overrides`` and ``n`` test points
    metrics                    the columns: ``key``, ``column`` (the paper's heading), ``boolean`` (a
                               yes/no column: no Δ), ``from``
                               (``final:test_acc``, ``eval:fgsm@0.15``, ``eval:cifar10c/*@*`` means
                               the mean of the matches, ``analysis:<key>``)
    run / grid                 the rows: a ``label``, a ``model`` preset and its ``overrides``, a per-run
                               ``train``, the paper's numbers ``paper = {metric = value}``; a grid
                               expands ``vars`` (``"{depth}"`` in any string; a value that is exactly
                               ``"{h}"`` keeps the variable's type)
    claims                     checks of our numbers: order, greater, groups, series_above, trend, close,
                               best, means (group means), all_greater (pairs × columns), gap_grows,
                               magnitude (decimal orders); a column ``from = "diff:a,b"`` is a − b
    decisions                  where the paper is silent: what we do and why (the authors' code, the
                               cited protocol), never presented as the paper's
    small                      the CPU budget of ``--scale small``: its ``note`` says what shrank
    demo                       the budget of ``stablenets demo`` (``--scale demo``), merged over ``small``:
                               the embedded MNIST digits, seconds per run; only entries that show their
                               claim reliably at that budget have one
    analysis                   analysis-only work done directly (stability roots, IVPs, landscapes …)
    code                       this entry's part of the ``code`` protocol (below): ``released = false``
                               (no public code trains it: ``code`` is ``paper``), a ``note``, ``skip``
                               (ids of the paper's differences that do not apply) and ``difference``s
                               of its own

Two protocols. ``paper`` (the default) runs an entry as its paper states; ``code`` as the authors'
public code ran it. A paper's ``[code]`` table names its ``repository`` and lists each
``[[code.difference]]``: ``id``, ``what`` (in words), ``source`` (repository, file and function,
paraphrased), and how the library expresses it — ``train`` (TrainConfig sections merged over the
run's, before a scale's budget), ``overrides`` (model settings merged over the run's), ``protocol``
(evaluation settings), ``report = {accuracy = "best"}`` (the paper's accuracy columns read the best
epoch's test accuracy) or ``report = {stat = "median"}``; ``models`` (fnmatch patterns of presets)
limits it to some runs (matched on the paper's preset), ``datasets`` (names) to the runs on those data sets (at paper
scale: the run's own data set, before a scale's budget); ``built = false`` with ``why`` records a difference the library does not
reproduce. Entry differences follow the paper's, so they win.

:func:`load_registry` reads and checks every file once; :func:`expand_runs` turns an entry into
the runs of a scale, each with the TrainConfig-compatible dict ``Run.config`` that
``stablenets train ENTRY/RUN`` and the launcher train.
"""
from __future__ import annotations

import copy
import functools
import itertools
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

__all__ = ["Entry", "Run", "load_registry", "get_entry", "list_entries", "expand_runs", "run_config",
           "KINDS", "SCALES", "demo_entries", "CLAIM_KINDS", "slug", "deep_merge", "numbers", "protocol_of",
           "PROTOCOLS", "code_differences", "report_settings"]

KINDS = ("table", "figure", "analysis", "paper-only")
SCALES = ("paper", "small", "smoke", "demo")
PROTOCOLS = ("paper", "code")
CLAIM_KINDS = ("order", "greater", "groups", "series_above", "trend", "close", "best", "means", "all_greater",
               "gap_grows", "magnitude")
_ENTRY_KEYS = {"id", "kind", "title", "source", "claim", "dataset", "seeds", "train", "protocol", "metrics",
               "run", "grid", "claims", "decisions", "small", "demo", "analysis", "draw", "paper_values",
               "needs", "code"}
_CODE_KEYS = {"released", "note", "skip", "difference"}
_DIFFERENCE_KEYS = {"id", "what", "source", "train", "overrides", "protocol", "report", "models", "datasets", "built",
                    "why"}
_REPORT_SETTINGS = {"accuracy": ("final", "best"), "stat": ("mean", "median")}
_RUN_KEYS = {"label", "model", "overrides", "train", "paper", "series", "x", "seeds", "source_run"}
_ID = re.compile(r"^[A-E]-(table|fig)\d+$")


def slug(text: str) -> str:
    """A file-name-safe form of a label: "IE-ResNet-1-18" -> "ie-resnet-1-18"."""
    out = re.sub(r"[^a-z0-9.]+", "-", text.lower().replace("λ", "lambda").replace("α", "alpha")
                 .replace("γ", "gamma").replace("=", "")).strip("-")
    return out or "run"


_FRACTION = re.compile(r"^(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")


def numbers(value: Any) -> Any:
    """``value`` with fraction strings ("1/255", "16/9") made floats, recursively: the papers write them so."""
    if isinstance(value, str):
        match = _FRACTION.match(value.strip())
        return float(match.group(1)) / float(match.group(2)) if match else value
    if isinstance(value, dict):
        return {k: numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers(v) for v in value]
    return value


def deep_merge(base: dict, extra: dict | None) -> dict:
    """``extra`` over ``base``, recursively for dicts; neither input is changed."""
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "overrides":
            out[key] = deep_merge(out[key], value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **copy.deepcopy(value)}
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class Run:
    """One training run of an entry at one seed."""

    entry: str
    label: str
    model: str
    seed: int
    config: dict                  # TrainConfig-compatible nested dict (model, data, optim, …, run.seed)
    paper: dict = field(default_factory=dict)
    series: str | None = None
    x: Any = None
    source_run: str | None = None  # label of the run a transfer attack is crafted on
    protocol: str = "paper"
    differences: tuple = ()       # ids of the code differences that changed this run (protocol "code")

    @property
    def name(self) -> str:
        """``<label-slug>`` (the run across seeds)."""
        return slug(self.label)

    @property
    def run_id(self) -> str:
        return f"{self.name}-s{self.seed}"


@dataclass
class Entry:
    id: str
    paper: str
    kind: str
    title: str
    source: str
    claim: str = ""
    dataset: str = ""
    seeds: list = field(default_factory=lambda: [0])
    train: dict = field(default_factory=dict)
    protocol: dict = field(default_factory=dict)
    metrics: list = field(default_factory=list)
    runs: list = field(default_factory=list)      # run tables after grid expansion (no seeds yet)
    claims: list = field(default_factory=list)
    decisions: list = field(default_factory=list)
    small: dict = field(default_factory=dict)
    demo: dict = field(default_factory=dict)      # empty: the entry is not part of `stablenets demo`
    analysis: dict = field(default_factory=dict)
    draw: dict = field(default_factory=dict)
    paper_values: dict = field(default_factory=dict)
    needs: list = field(default_factory=list)     # features we lack, said plainly (e.g. CIFAR-10-C files)
    grids: list = field(default_factory=list)     # the raw grids, re-expanded per scale
    code: dict = field(default_factory=dict)      # the code protocol: released, note, repository, differences

    def budget(self, scale: str) -> dict:
        """What ``scale`` changes in the paper's setting: nothing at paper scale, ``small`` for small and
        smoke (smoke shrinks further), ``demo`` for the demo."""
        return {"small": self.small, "smoke": self.small, "demo": self.demo}.get(scale, {})

    @property
    def trains(self) -> bool:
        return bool(self.runs) or bool(self.grids)

    def metric(self, key: str) -> dict:
        for m in self.metrics:
            if m["key"] == key:
                return m
        raise KeyError(f"{self.id}: no metric {key!r}; metrics: {[m['key'] for m in self.metrics]}")


def _fill(value: Any, variables: dict) -> Any:
    """``value`` with ``{name}`` replaced by the grid variables (recursively)."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)(?:\[(\w+)\])?\}", value)
        if whole and whole.group(1) in variables:
            found = variables[whole.group(1)]
            return copy.deepcopy(found[whole.group(2)] if whole.group(2) else found)
        return value.format(**variables) if "{" in value else value
    if isinstance(value, dict):
        return {_fill(k, variables): _fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    return value


def _expand_grid(grid: dict, vars_override: dict | None = None) -> list[dict]:
    grid = dict(grid)
    variables = dict(grid.pop("vars"))
    for key, values in (vars_override or {}).items():
        if key in variables:
            variables[key] = values
    skip = grid.pop("skip", [])
    rows = []
    names = list(variables)
    for combo in itertools.product(*(variables[n] for n in names)):
        values = dict(zip(names, combo))
        if any(all(values.get(k) == v for k, v in s.items()) for s in skip):
            continue
        row = _fill(grid, values)
        row.setdefault("vars", values)
        rows.append(row)
    return rows


def _check_entry(raw: dict, paper: str, where: str) -> None:
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_ENTRY_KEYS)}")
    for key in ("id", "kind", "title", "source"):
        if not raw.get(key):
            raise ValueError(f"{where}: every entry needs {key!r}")
    if not _ID.match(raw["id"]) or raw["id"][0] != paper:
        raise ValueError(f"{where}: id {raw['id']!r} must read {paper}-table<N> or {paper}-fig<N>")
    if raw["kind"] not in KINDS:
        raise ValueError(f"{where}: kind {raw['kind']!r} must be one of {KINDS}")
    for run in raw.get("run", []):
        bad = set(run) - _RUN_KEYS
        if bad:
            raise ValueError(f"{where}: run {run.get('label')!r} has unknown key(s) {sorted(bad)}")
        if not run.get("label") or not run.get("model"):
            raise ValueError(f"{where}: every run needs a label and a model")
    for claim in raw.get("claims", []):
        if claim.get("kind") not in CLAIM_KINDS:
            raise ValueError(f"{where}: claim kind {claim.get('kind')!r} must be one of {CLAIM_KINDS}")
    for metric in raw.get("metrics", []):
        if not {"key", "column", "from"} <= set(metric):
            raise ValueError(f"{where}: a metric needs key, column and from; got {metric}")
    code = raw.get("code", {})
    bad = set(code) - _CODE_KEYS
    if bad:
        raise ValueError(f"{where}: code has unknown key(s) {sorted(bad)}; known: {sorted(_CODE_KEYS)}")
    for difference in code.get("difference", []):
        _check_difference(difference, where)


def _check_difference(difference: dict, where: str) -> None:
    bad = set(difference) - _DIFFERENCE_KEYS
    if bad:
        raise ValueError(f"{where}: code difference {difference.get('id')!r} has unknown key(s) {sorted(bad)}; "
                         f"known: {sorted(_DIFFERENCE_KEYS)}")
    for key in ("id", "what", "source"):
        if not difference.get(key):
            raise ValueError(f"{where}: every code difference needs {key!r} (got {difference})")
    built = difference.get("built", True)
    expressed = {"train", "overrides", "protocol", "report"} & set(difference)
    if built and not expressed:
        raise ValueError(f"{where}: code difference {difference['id']!r} changes nothing: give train, overrides, "
                         "protocol or report, or built = false with why")
    if not built and (expressed or not difference.get("why")):
        raise ValueError(f"{where}: code difference {difference['id']!r} is not built: it takes why and no settings")
    for key, value in difference.get("report", {}).items():
        if key not in _REPORT_SETTINGS or value not in _REPORT_SETTINGS[key]:
            raise ValueError(f"{where}: code difference {difference['id']!r}: report.{key} = {value!r}; "
                             f"known: {_REPORT_SETTINGS}")


def _trains(raw: dict) -> bool:
    """Whether an entry trains anything: the paper's training decisions (seeds, batch sizes) concern
    only such entries; an exact analysis (roots, an analytic IVP) or a paper-only entry has none."""
    return (raw.get("kind") != "paper-only" and (raw.get("analysis") or {}).get("train", True) is not False
            and bool(raw.get("run") or raw.get("grid")))


def _load_paper(letter: str) -> tuple[dict, list[Entry]]:
    text = (resources.files("stablenets.reproduce") / "papers" / f"{letter}.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"papers/{letter}.toml is not valid TOML: {err}") from None
    defaults = data.get("defaults", {})
    paper_code = data.get("code", {})
    for difference in paper_code.get("difference", []):
        _check_difference(difference, f"papers/{letter}.toml [code]")
    entries = []
    for i, raw in enumerate(data.get("entry", [])):
        where = f"papers/{letter}.toml entry {raw.get('id', i)}"
        _check_entry(raw, letter, where)
        train = deep_merge(defaults.get("train", {}), raw.get("train"))
        if raw.get("dataset"):
            train = deep_merge(train, {"data": {"dataset": raw["dataset"]}})
        small = deep_merge(defaults.get("small", {}), raw.get("small"))
        demo = deep_merge(small, deep_merge(defaults.get("demo", {}), raw["demo"])) if "demo" in raw else {}
        entry = Entry(id=raw["id"], paper=letter, kind=raw["kind"], title=raw["title"], source=raw["source"],
                      claim=raw.get("claim", ""), dataset=raw.get("dataset", ""),
                      seeds=list(raw.get("seeds", defaults.get("seeds", [0]))), train=train,
                      protocol=dict(raw.get("protocol", {})), metrics=list(raw.get("metrics", [])),
                      runs=list(raw.get("run", [])), claims=list(raw.get("claims", [])),
                      decisions=list(defaults.get("decisions", []) if _trains(raw) else []) +
                      list(raw.get("decisions", [])),
                      small=small, demo=demo, analysis=dict(raw.get("analysis", {})),
                      draw=dict(raw.get("draw", {})),
                      paper_values=dict(raw.get("paper_values", {})), needs=list(raw.get("needs", [])),
                      grids=list(raw.get("grid", [])), code=_entry_code(paper_code, raw.get("code", {}), where))
        entries.append(entry)
    return data, entries


def _entry_code(paper_code: dict, entry_code: dict, where: str) -> dict:
    """The entry's code protocol: the repository, whether code for it was released, its differences in order."""
    released = bool(entry_code.get("released", True)) and bool(paper_code.get("repository"))
    skip = set(entry_code.get("skip", []))
    known = {d["id"] for d in paper_code.get("difference", [])}
    if skip - known:
        raise ValueError(f"{where}: code.skip names unknown difference(s) {sorted(skip - known)}; known: {sorted(known)}")
    differences = [d for d in paper_code.get("difference", []) if d["id"] not in skip]
    differences += list(entry_code.get("difference", []))
    return {"repository": paper_code.get("repository", ""), "released": released,
            "note": entry_code.get("note", paper_code.get("note", "")),
            "differences": copy.deepcopy(differences) if released else []}


def code_differences(entry: Entry, model: str | None = None, dataset: str | None = None) -> list[dict]:
    """The code differences of ``entry`` (none when its code was never released); with ``model`` (the
    paper's preset of a run, not a scale's smaller stand-in) and ``dataset`` (the run's data set at paper
    scale), only those that apply to that run."""
    import fnmatch

    out = []
    for difference in entry.code.get("differences", []):
        patterns = difference.get("models")
        if model is not None and patterns and not any(
                fnmatch.fnmatchcase(model, pattern) for pattern in patterns):
            continue
        if dataset is not None and difference.get("datasets") and dataset not in difference["datasets"]:
            continue
        out.append(difference)
    return out


def _row_dataset(entry: Entry, row: dict) -> str:
    """The data set a row trains on at paper scale (the code differences' ``datasets`` match it)."""
    return deep_merge(entry.train, row.get("train")).get("data", {}).get("dataset", "cifar10")


def report_settings(entry: Entry, protocol: str = "paper") -> dict:
    """How the entry's accuracy columns are read under ``protocol``: ``accuracy`` (final or best epoch) and
    the ``stat`` over seeds (mean or median)."""
    check_protocol(protocol)
    out = {"accuracy": "final", "stat": entry.draw.get("stat", "mean")}
    if protocol == "code":
        for difference in code_differences(entry):
            if difference.get("built", True):
                out.update(difference.get("report", {}))
    return out


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r} must be one of {PROTOCOLS} (or 'both' on the command line)")
    return protocol


@functools.cache
def load_registry() -> dict[str, Entry]:
    """Every entry of papers A–E by id, checked (a malformed file is one ValueError naming it)."""
    out: dict[str, Entry] = {}
    for letter in "ABCDE":
        _, entries = _load_paper(letter)
        for entry in entries:
            if entry.id in out:
                raise ValueError(f"entry {entry.id} appears twice in papers/{letter}.toml")
            out[entry.id] = entry
    return out


def _sort_key(entry_id: str):
    letter, rest = entry_id.split("-", 1)
    kind = 0 if rest.startswith("table") else 1
    return letter, kind, int(re.sub(r"\D", "", rest))


def list_entries(pattern: str | None = None) -> list[str]:
    """Entry ids in paper order (tables, then figures); ``pattern`` is a substring filter."""
    return sorted((e for e in load_registry() if pattern is None or pattern.lower() in e.lower()), key=_sort_key)


def demo_entries() -> list[str]:
    """The entries ``stablenets demo`` runs: those with a ``demo`` budget, in paper order."""
    return [e for e in list_entries() if get_entry(e).demo]


def get_entry(entry_id: str) -> Entry:
    registry = load_registry()
    if entry_id not in registry:
        import difflib

        close = difflib.get_close_matches(entry_id, list(registry), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown entry {entry_id!r}.{hint} `stablenets reproduce list` shows all {len(registry)}")
    return registry[entry_id]


def _row_tables(entry: Entry, scale: str) -> list[dict]:
    budget = entry.budget(scale)
    rows = [dict(r) for r in entry.runs]
    for grid in entry.grids:
        rows.extend(_expand_grid(grid, budget.get("vars")))
    only = budget.get("runs")
    if only is not None:
        rows = [r for r in rows if r["label"] in only]
    return rows


def run_config(entry: Entry, row: dict, seed: int, scale: str = "paper", protocol: str = "paper") -> dict:
    """The TrainConfig-compatible dict of one run (before ``smoke`` shrinking) under ``protocol``: the
    ``code`` protocol merges the run's code differences over the paper's setting, before the scale's
    budget (which shrinks what it names, as under ``paper``)."""
    budget = entry.budget(scale)
    cfg = deep_merge(entry.train, row.get("train"))
    model = budget.get("models", {}).get(row["model"], row["model"])
    overrides = dict(row.get("overrides", {}))
    if check_protocol(protocol) == "code":
        for difference in code_differences(entry, row["model"], _row_dataset(entry, row)):
            if difference.get("built", True):
                cfg = deep_merge(cfg, difference.get("train"))
                overrides.update(difference.get("overrides", {}))
    cfg = deep_merge(cfg, {"model": {"name": model, "overrides": overrides}})
    if budget:
        cfg = deep_merge(cfg, budget.get("train"))
    cfg = deep_merge(cfg, {"experiment": f"{entry.id}/{slug(row['label'])}", "run": {"seed": int(seed)},
                           "description": f"{entry.id} ({entry.source}): {row['label']}"})
    cfg.setdefault("eval", {})["suite"] = ""   # reproduce evaluates after training, with the entry's protocol
    return numbers(cfg)


def expand_runs(entry: Entry, scale: str = "paper", seeds: list[int] | None = None,
                protocol: str = "paper") -> list[Run]:
    """The runs of ``entry`` at ``scale`` under ``protocol``: every row × every seed (``seeds`` replaces the entry's)."""
    check_protocol(protocol)
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} must be one of {SCALES}")
    if scale == "demo" and not entry.demo:
        raise ValueError(f"{entry.id} has no demo budget; entries with one: {', '.join(demo_entries())}")
    budget = entry.budget(scale)
    base_seeds = list(seeds) if seeds else list(budget.get("seeds", entry.seeds))
    if (scale == "smoke" and not seeds) or entry.analysis.get("train") is False:
        base_seeds = base_seeds[:1]  # smoke: one seed; a definition-only analysis: nothing random
    out = []
    for row in _row_tables(entry, scale):
        changed = tuple(d["id"] for d in code_differences(entry, row["model"], _row_dataset(entry, row))
                        if d.get("built", True)) if protocol == "code" else ()
        for seed in row.get("seeds", base_seeds) if not seeds else base_seeds:
            cfg = run_config(entry, row, seed, scale, protocol)
            out.append(Run(entry=entry.id, label=row["label"], model=cfg["model"]["name"], seed=int(seed),
                           config=cfg, paper=dict(row.get("paper", {})), series=row.get("series"),
                           x=row.get("x"), source_run=row.get("source_run"), protocol=protocol,
                           differences=changed))
    return out


def protocol_of(entry: Entry, scale: str = "paper", run_protocol: str = "paper") -> dict:
    """The entry's evaluation protocol at ``scale`` (merged with the scale's budget protocol); under the
    ``code`` run protocol, the code differences' evaluation settings first."""
    protocol = dict(entry.protocol)
    if check_protocol(run_protocol) == "code":
        for difference in code_differences(entry):
            if difference.get("built", True):
                protocol = deep_merge(protocol, difference.get("protocol"))
    if scale != "paper":
        protocol = deep_merge(protocol, entry.budget(scale).get("protocol"))
    return numbers(protocol)


@functools.cache
def _aliases() -> dict[str, str]:
    text = (resources.files("stablenets.reproduce") / "papers" / "aliases.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["aliases"])


def experiment_names() -> list[str]:
    """Names ``stablenets train`` accepts: the former experiment names, then every ``ENTRY/RUN``."""
    names = []
    for entry_id in list_entries():
        entry = get_entry(entry_id)
        if entry.kind == "paper-only" or entry.analysis.get("train") is False:
            continue
        names.extend(dict.fromkeys(f"{entry.id}/{slug(row['label'])}" for row in _row_tables(entry, "paper")))
    return sorted(_aliases()) + names


def experiment_config(name: str) -> dict:
    """The TrainConfig-compatible dict of ``ENTRY/RUN`` (a run of the registry at paper scale, its first
    seed) or of a former experiment name; ValueError naming the known runs otherwise."""
    target = _aliases().get(name, name)
    entry_id, _, run = target.partition("/")
    if entry_id not in load_registry():
        import difflib

        close = difflib.get_close_matches(name, experiment_names(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown experiment {name!r}.{hint} Give ENTRY/RUN (`stablenets train list`) or a TOML file")
    entry = get_entry(entry_id)
    rows = {slug(row["label"]): row for row in _row_tables(entry, "paper")}
    if run not in rows:
        raise ValueError(f"unknown experiment {name!r}: {entry_id} has no run {run!r}; its runs: "
                         f"{', '.join(f'{entry_id}/{r}' for r in rows) or 'none (nothing to train)'}")
    config = run_config(entry, rows[run], entry.seeds[0])
    config["experiment"] = name
    return config
