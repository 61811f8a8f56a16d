"""``stablenets reproduce``: every table and figure of papers A–E as one command each.

    from stablenets.reproduce import list_entries, get_entry, expand_runs
    entry = get_entry("C-table1")
    runs = expand_runs(entry, scale="small")        # Run objects, each with a TrainConfig-compatible dict

The registry (``papers/<letter>.toml``) is data a reader can check against the papers line by
line (see ``registry.py`` for its keys); ``costs.py`` estimates paper-scale GPU-hours;
``launch.py`` fans runs out with submitit (local or SLURM); ``report.py`` aggregates over seeds,
checks the paper's claims and writes table.md, table.json, figure.png and report.html.
"""
from stablenets.reproduce.registry import (Entry, Run, expand_runs, get_entry, list_entries, load_registry,
                                           protocol_of, run_config)

__all__ = ["Entry", "Run", "expand_runs", "get_entry", "list_entries", "load_registry", "protocol_of", "run_config"]
