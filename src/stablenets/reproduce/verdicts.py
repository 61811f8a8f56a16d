"""Verdicts with uncertainty: a claim holds, is contradicted, or is inconclusive at this n.

Every number of a report row is an :class:`Evidence`: its value per seed, and, where the number is
an accuracy over test points, the n points behind it (and, when the evaluation kept them, the
per-example outcomes). A claim is a set of differences between rows, and each difference
``a − b`` gets a standard error made of two parts:

    over seeds      s_a²/k_a + s_b²/k_b           (s: the spread of one run's number over seeds;
                                                   unmeasured with one seed, said so in the verdict)
    over test sets  paired:   Var_i(D_i)/n        D_i = mean over a's seeds of a's outcome on point i
                                                        − the same for b (the two rows are scored on
                                                        the same points: McNemar's setting)
                    unpaired: p_a(1−p_a)/n_a + p_b(1−p_b)/n_b
                                                  (binomial; conservative when the points are shared)

and is tested with Student's t (Welch–Satterthwaite degrees of freedom, the test-set part counted
as known), or with McNemar's exact test (:func:`stablenets.evaluation.diagnostics.mcnemar`) when both
rows are one seed each on the same points. How each claim kind is decided, at level
:data:`ALPHA`:

    order, greater, groups,      every pairwise "a > b" must be significant (an intersection-union
    series_above, best           test: no correction needed) → holds; any pair significantly reversed
                                 at ALPHA/m (Bonferroni over the m pairs) → contradicted
    trend                        the change from the first to the last point is significant in the
                                 claimed direction and no step goes the other way → holds; a step or
                                 the whole change significantly the other way (ALPHA/m) → contradicted
    close                        two one-sided tests that |a − b| < tol → holds; |a − b| > tol
                                 significantly → contradicted
    means                        the mean over the high group − the mean over the low group > by, one
                                 contrast (:func:`contrast`) → holds; significantly ≤ by → contradicted
    all_greater                  as order: every pair in every column significantly > → holds
    gap_grows                    (a − b) in the last column − (a − b) in the first > 0 significantly and
                                 no step between columns significantly the other way → holds (as trend)
    magnitude                    a ≥ 10^(⌊log10 b⌋ + by) and b below its own next decade, both
                                 significantly → holds (on exact numbers: ⌊log10 a⌋ − ⌊log10 b⌋ ≥ by)

and otherwise the claim is inconclusive at this n, with what would decide it (more seeds, or a test
set so many times larger). Numbers without any spread are exact (a model's characteristic roots,
an analytic IVP) and decided as they are: so are the paper's own printed numbers, which carry no n
(their ± is a spread over the paper's seeds, not an error of its mean): on them a claim checks the
registry's transcription, not the statistics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["ALPHA", "Evidence", "Comparison", "compare", "contrast", "verdict_of", "t_sf", "normal_sf", "VERDICTS"]

ALPHA = 0.05
VERDICTS = ("holds", "contradicted", "inconclusive", "not checked")


def normal_sf(z: float) -> float:
    """P(Z ≥ z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T ≥ t) for Student's T with ``df`` degrees of freedom (the normal tail for df = ∞)."""
    if math.isinf(df):
        return normal_sf(t)
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def _t_quantile(p: float, df: float) -> float:
    """The t with P(T ≥ t) = p (bisection; for intervals)."""
    lo, hi = 0.0, 1e4
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_sf(mid, df) > p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class Evidence:
    """One row's number for one metric: its values per seed and what its uncertainty is made of."""

    values: tuple[float, ...]
    n: int | None = None          # test points behind each value (a proportion × ``scale``); None: not one
    scale: float = 1.0            # value = scale × proportion (100 for a percentage)
    outcomes: tuple | None = None  # per seed, the per-example outcomes (tuples of bools), same points
    exact: bool = False           # no randomness at all (roots of a polynomial, an analytic IVP, the paper)
    stat: str = "mean"

    @property
    def k(self) -> int:
        return len(self.values)

    @property
    def center(self) -> float:
        v = sorted(self.values)
        if self.stat == "median":
            mid = len(v) // 2
            return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2
        return sum(v) / len(v)

    @property
    def seed_var(self) -> float | None:
        """Variance of the mean over seeds (s²/k), None with one seed (unmeasured)."""
        if self.exact:
            return 0.0
        if self.k < 2:
            return None
        m = sum(self.values) / self.k
        return sum((x - m) ** 2 for x in self.values) / (self.k - 1) / self.k

    @property
    def test_var(self) -> float | None:
        """Variance from the test-set sample: p(1−p)/n in the metric's units; None when not a proportion."""
        if self.exact or not self.n:
            return None
        p = min(max(sum(self.values) / self.k / self.scale, 0.0), 1.0)
        p = (p * self.n + 1) / (self.n + 2)  # smoothed: 0 of n or n of n still has an error
        return p * (1 - p) / self.n * self.scale ** 2

    @classmethod
    def exact_value(cls, value: float) -> "Evidence":
        return cls(values=(float(value),), exact=True)


@dataclass
class Comparison:
    """``a − b − margin`` with its standard error and one-sided p-values in both directions."""

    label: str
    diff: float
    se: float | None              # None: unknown (one seed of a number that is not a proportion)
    df: float = math.inf
    p_greater: float | None = None   # evidence that a − b > margin
    p_less: float | None = None      # evidence that a − b < margin
    method: str = ""
    seeds_unmeasured: bool = False
    parts: dict = field(default_factory=dict)  # {"seeds": var, "test": var}
    shown: "Comparison | None" = None  # what a report prints instead (a tolerance test prints a − b itself)

    def interval(self, level: float = 0.90) -> tuple[float, float] | None:
        """The two-sided interval whose ends are the one-sided tests at (1 − level)/2: at 0.90, a
        difference "holds" at 5% exactly when the interval lies above 0."""
        if self.se is None:
            return None
        if self.se == 0:
            return self.diff, self.diff
        half = _t_quantile((1 - level) / 2, self.df) * self.se
        return self.diff - half, self.diff + half


def _paired_test_var(a: Evidence, b: Evidence) -> float | None:
    if not (a.outcomes and b.outcomes and a.n and a.n == b.n and len(a.outcomes) == a.k and len(b.outcomes) == b.k):
        return None
    n = a.n
    d = [sum(o[i] for o in a.outcomes) / a.k - sum(o[i] for o in b.outcomes) / b.k for i in range(n)]
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / max(n - 1, 1) / n
    return max(var, 1.0 / n ** 2) * a.scale ** 2  # no discordant point still leaves one point's worth of doubt


def compare(a: Evidence, b: Evidence, margin: float = 0.0, label: str = "", strict: bool = True) -> Comparison:
    """``a − b − margin``: the difference, its standard error and both one-sided p-values.

    Exact numbers (no spread) decide at once; ``strict``: there, a difference of exactly 0 counts
    against "a > b" (a tie is not a lead); without it (a trend's "at least as large") it does not.
    """
    diff = a.center - b.center - margin
    if a.exact and b.exact:
        against = diff <= 0 if strict else diff < 0
        return Comparison(label, diff, 0.0, p_greater=0.0 if diff > 0 else 1.0, p_less=0.0 if against else 1.0,
                          method="exact")
    seeds = [e.seed_var for e in (a, b)]
    unmeasured = any(v is None for v in seeds)
    seed_part = sum(v for v in seeds if v is not None)
    paired = _paired_test_var(a, b)
    if paired is not None:
        test_part, method = paired, "paired"
    else:
        parts = [e.test_var for e in (a, b) if not e.exact]
        test_part = sum(v for v in parts if v is not None) if any(v is not None for v in parts) else None
        method = "binomial" if test_part is not None else "seeds"
    if test_part is None and unmeasured:  # one seed of a number with no sampling model: no error to give
        return Comparison(label, diff, None, method="one seed", seeds_unmeasured=True)
    var = seed_part + (test_part or 0.0)
    # Welch–Satterthwaite: each seed part has k − 1 degrees of freedom, the test-set part is known.
    terms = [(e.seed_var, e.k - 1) for e in (a, b) if e.seed_var and e.k > 1]
    df = var ** 2 / sum(v ** 2 / d for v, d in terms) if terms and var > 0 else math.inf
    if paired is not None and a.k == b.k == 1 and margin == 0:
        from stablenets.evaluation.diagnostics import mcnemar

        right_a, right_b = a.outcomes[0], b.outcomes[0]
        greater = mcnemar(right_a, right_b)   # b: points a gets right and b wrong; small p: a > b
        less = mcnemar(right_b, right_a)
        return Comparison(label, diff, math.sqrt(var), p_greater=greater["p_value"], p_less=less["p_value"],
                          method=f"McNemar b={greater['b']} c={greater['c']}", seeds_unmeasured=True,
                          parts={"seeds": None, "test": test_part})
    if var == 0:  # every run agrees and the test points cannot vary: as exact
        against = diff <= 0 if strict else diff < 0
        return Comparison(label, diff, 0.0, p_greater=0.0 if diff > 0 else 1.0, p_less=0.0 if against else 1.0,
                          method=method, seeds_unmeasured=unmeasured)
    se = math.sqrt(var)
    return Comparison(label, diff, se, df, p_greater=t_sf(diff / se, df), p_less=t_sf(-diff / se, df),
                      method=method, seeds_unmeasured=unmeasured,
                      parts={"seeds": None if unmeasured else seed_part, "test": test_part})


def contrast(terms: list[tuple[float, Evidence]], margin: float = 0.0, label: str = "", strict: bool = True) -> Comparison:
    """``Σ c·x − margin`` over (coefficient, Evidence) terms: a group mean against another, a change of a gap.

    Each term's variance is its seed part plus its test-set part, and the terms are taken as independent
    (no pairing: conservative where two terms share test points and their outcomes agree). Exact terms add
    nothing; all exact decides at once, as :func:`compare` does.
    """
    diff = sum(c * e.center for c, e in terms) - margin
    if all(e.exact for _, e in terms):
        against = diff <= 0 if strict else diff < 0
        return Comparison(label, diff, 0.0, p_greater=0.0 if diff > 0 else 1.0, p_less=0.0 if against else 1.0,
                          method="exact")
    live = [(c, e) for c, e in terms if not e.exact and c != 0]
    unmeasured = any(e.seed_var is None for _, e in live)
    tests = [e.test_var for _, e in live]
    if unmeasured and all(t is None for t in tests):
        return Comparison(label, diff, None, method="one seed", seeds_unmeasured=True)
    seed_part = sum(c * c * e.seed_var for c, e in live if e.seed_var is not None)
    test_part = sum(c * c * t for (c, _), t in zip(live, tests) if t is not None) if any(
        t is not None for t in tests) else None
    var = seed_part + (test_part or 0.0)
    if var == 0:
        against = diff <= 0 if strict else diff < 0
        return Comparison(label, diff, 0.0, p_greater=0.0 if diff > 0 else 1.0, p_less=0.0 if against else 1.0,
                          method="contrast", seeds_unmeasured=unmeasured)
    terms_df = [((c * c * e.seed_var), e.k - 1) for c, e in live if e.seed_var and e.k > 1]
    df = var ** 2 / sum(v ** 2 / d for v, d in terms_df) if terms_df else math.inf
    se = math.sqrt(var)
    return Comparison(label, diff, se, df, p_greater=t_sf(diff / se, df), p_less=t_sf(-diff / se, df),
                      method="binomial" if test_part is not None else "seeds", seeds_unmeasured=unmeasured,
                      parts={"seeds": None if unmeasured else seed_part, "test": test_part})


def _decide_text(c: Comparison, n: int | None, want_sign: float = 1.0, population: int | None = None) -> str:
    """What would decide an undecided comparison: more seeds, or a test set so many times larger (but no
    larger than the data set's whole test set, ``population``: beyond it only seeds can)."""
    if c.se is None:
        return "more seeds (one seed of this number leaves its spread unmeasured)"
    if c.seeds_unmeasured and not c.parts.get("test"):
        return "more seeds"
    z_needed = 1.645
    observed = abs(c.diff) / c.se if c.se else math.inf
    if observed < 0.5:
        return "a far larger sample: the measured difference is about 0 (a true difference, if any, is small)"
    factor = (z_needed / observed) ** 2
    test, seeds = c.parts.get("test") or 0.0, c.parts.get("seeds") or 0.0
    extra = " and more seeds (one seed leaves their spread unmeasured)" if c.seeds_unmeasured else ""
    if test >= seeds:
        if n and population and factor * n > population:
            return (f"more seeds: the whole test set ({population:,} points) is too small to decide it at one "
                    f"seed (about {math.ceil(factor * n):,} points would be needed)" if c.seeds_unmeasured else
                    f"about {factor:.1f}× as many seeds (the whole test set, {population:,} points, is too small)")
        more = f" (about {math.ceil(factor * n):,} test points)" if n else ""
        return f"a test set about {factor:.1f}× larger{more}{extra}"
    return f"about {factor:.1f}× as many seeds"


def verdict_of(kind: str, holds_tests: list[Comparison], against_tests: list[Comparison] | None = None,
               n: int | None = None, population: int | None = None) -> dict:
    """The verdict of a claim from its comparisons.

    ``holds_tests``: every comparison must be significantly > 0 for the claim to hold (``p_greater``);
    ``against_tests``: any one significantly < 0 contradicts it (``p_less`` at ALPHA/m). By default the
    same comparisons serve both.
    """
    against = holds_tests if against_tests is None else against_tests
    if not holds_tests:
        return {"verdict": "not checked", "p_value": None, "interval": None, "decide": ""}
    m = max(len(against), 1)
    reversed_ = [c for c in against if c.p_less is not None and c.p_less * m < ALPHA]
    if reversed_:
        worst = min(reversed_, key=lambda c: c.p_less)
        shown = worst.shown or worst
        return {"verdict": "contradicted", "p_value": min(1.0, worst.p_less * m), "weakest": shown.label,
                "interval": shown.interval(), "diff": shown.diff, "method": worst.method, "decide": "",
                "seeds_unmeasured": worst.seeds_unmeasured}
    unknown = [c for c in holds_tests if c.p_greater is None]
    weakest = unknown[0] if unknown else max(holds_tests, key=lambda c: c.p_greater)
    p = None if unknown else weakest.p_greater
    shown = weakest.shown or weakest
    out = {"p_value": p, "weakest": shown.label, "interval": shown.interval(), "diff": shown.diff,
           "method": weakest.method, "seeds_unmeasured": any(c.seeds_unmeasured for c in holds_tests)}
    if p is not None and p < ALPHA:
        return {**out, "verdict": "holds", "decide": ""}
    return {**out, "verdict": "inconclusive", "decide": _decide_text(weakest, n, population=population)}
