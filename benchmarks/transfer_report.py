"""The tables of `transfer.py`, from what its --work folder holds (one folder a pool)."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, weightedtau

from lumos.transfer.rank import (
    ALIGNMENT,
    CONTROL,
    DEFAULT,
    PROBE,
    PROBE_MARGIN,
    SourceScore,
    mean_ranks,
)

TODAY = ("logme", "p2l")  # the default before issue 29, chosen on the glyphs pool alone
SCRATCH = "scratch:"
MARGINS = (0.0, 0.02, 0.05, 0.1)  # of the probe's relative loss (or cosine), for the flag
# The probe's signals a flag may rest on: the loss, the gradients' agreement, or both
SIGNALS = {"loss": (PROBE,), "alignment": (ALIGNMENT,), "loss+alignment": (PROBE, ALIGNMENT)}
SEPARABLE = 2.0  # a target's sources must spread this many times the seeds' gap


class Target:
    """One target of one pool: its ground truth and its rankings."""

    def __init__(self, pool: str, name: str, held_out: bool, work: Path) -> None:
        self.pool, self.name, self.held_out = pool, name, held_out
        self.truth = json.loads((work / f"truth-{name}.json").read_text())
        self.ranked = _ranking(work / f"rank-{name}.json")
        budget = work / f"rank-budget-{name}.json"
        self.budget = _ranking(budget) if budget.is_file() else None

    def accuracy(self, start: str, strategy: str = "full") -> float:
        prefix = f"{start}|{strategy}|"
        return statistics.mean(v["accuracy"] for k, v in self.truth.items() if k.startswith(prefix))

    def scratch(self, network: str) -> float:
        return self.accuracy(SCRATCH + network)

    @property
    def separable(self) -> bool:
        """Whether the sources' fine-tuned accuracies differ by more than the seeds do: the
        spread (standard deviation) of their means at least twice the mean gap between two
        seeds (every pair of a source's seeds). Where they do not, the ground truth is
        noise, and no ranking can match it."""
        runs: dict[str, list[float]] = {}
        for key, run in self.truth.items():
            start, strategy, _ = key.split("|")
            if strategy == "full" and not start.startswith(SCRATCH):
                runs.setdefault(start, []).append(run["accuracy"])
        gaps = [abs(a - b) for seeds in runs.values() for a, b in itertools.combinations(seeds, 2)]
        spread = statistics.pstdev(statistics.mean(a) for a in runs.values())
        return not gaps or spread >= SEPARABLE * statistics.mean(gaps)

    def tune_seconds(self) -> float:
        return statistics.mean(v["seconds"] for k, v in self.truth.items() if "|full|" in k)


def _ranking(path: Path) -> dict:
    """A ranking's JSON, its unknown scores (null) NaN again."""
    ranked = json.loads(path.read_text())
    for row in ranked["sources"]:
        for entry in (row, row["control"] or {"scores": {}}):
            entry["scores"] = {k: math.nan if v is None else v for k, v in entry["scores"].items()}
    return ranked


def _pool_scores(ranked: dict, keys: tuple[str, ...]) -> dict[str, tuple[float, float | None]]:
    """Each source's score over the estimators ``keys`` (controls in the pool, as `rank`
    scores them) and its control's."""
    sources = [SourceScore(r["source"], scores=r["scores"]) for r in ranked["sources"]]
    controls = {r["control"]["source"]: r["control"]["scores"] for r in ranked["sources"]}
    pool = sources + [SourceScore(name, scores=s) for name, s in controls.items()]
    scores = dict(zip([p.source for p in pool], mean_ranks(pool, keys), strict=True))
    return {
        r["source"]: (scores[r["source"]], scores[r["control"]["source"]])
        for r in ranked["sources"]
    }


def taus(target: Target, keys: tuple[str, ...], ranked: dict | None = None) -> tuple[float, ...]:
    """Kendall's tau, weighted tau and top-1 regret (accuracy points) of ``keys``' score."""
    scored = _pool_scores(ranked or target.ranked, keys)
    names = list(scored)
    predicted = np.array([scored[n][0] for n in names])
    actual = np.array([target.accuracy(n) for n in names])
    regret = actual.max() - actual[int(np.argmax(predicted))]
    tau, weighted = kendalltau(predicted, actual)[0], weightedtau(predicted, actual)[0]
    return _number(tau), _number(weighted), 100 * regret


def _number(value: float) -> float:
    return 0.0 if math.isnan(value) else float(value)


def load(root: Path, pools: dict) -> dict[str, list[Target]]:
    loaded = {}
    for name, pool in pools.items():
        work = root / name
        found = [
            Target(name, target, spec.held_out, work)
            for target, spec in pool.targets.items()
            if all((work / f"{kind}-{target}.json").is_file() for kind in ("truth", "rank"))
        ]
        if found:
            loaded[name] = found
    return loaded


def report(root: Path, pools: dict, strategies: dict) -> None:
    loaded = load(root, pools)
    if not loaded:
        print("nothing measured yet")
        return
    keys = _estimators(loaded)
    print(f"default = mean rank of {', '.join(DEFAULT)}; flags on {', '.join(CONTROL)} "
          f"and the probe\n")  # fmt: skip
    for pool, targets in loaded.items():
        _per_target(pool, targets, keys)
    _leave_one_pool_out(loaded, keys)
    _negative_transfer(loaded)
    _as_a_user_ranks(loaded)
    _strategies([t for targets in loaded.values() for t in targets], strategies)


def _estimators(loaded: dict[str, list[Target]]) -> list[str]:
    """The estimators every ranking of every pool has."""
    found = [set(t.ranked["sources"][0]["scores"]) for ts in loaded.values() for t in ts]
    first = next(iter(loaded.values()))[0].ranked["sources"][0]["scores"]
    return [key for key in first if all(key in keys for keys in found)]


def _per_target(pool: str, targets: list[Target], keys: list[str]) -> None:
    print(f"pool {pool}: Kendall tau (weighted tau) against fine-tuned accuracy, per target")
    columns = [*keys, "default"]
    print(f"{'target':16s} " + " ".join(f"{c[:13]:>13s}" for c in columns) + "  regret")
    for held_out in (False, True):
        chosen = [t for t in targets if t.held_out == held_out]
        for target in chosen:
            cells = [taus(target, DEFAULT if c == "default" else (c,)) for c in columns]
            text = " ".join(f"{tau:5.2f} ({w:5.2f})" for tau, w, _ in cells)
            mark = " *" * held_out + " ~" * (not target.separable)
            print(f"{target.name + mark:16s} {text}  {cells[-1][2]:5.1f}")
        kept = [t for t in chosen if t.separable]
        if kept:
            means = [_mean_tau(kept, DEFAULT if c == "default" else (c,)) for c in columns]
            label = "mean held out" if held_out else "mean tuning"
            print(f"{label:16s} " + " ".join(f"{m:5.2f}{'':8s}" for m in means))
    print("(* held out; ~ sources within the seeds' noise: left out of the means)\n")


def _mean_tau(targets: list[Target], keys: tuple[str, ...]) -> float:
    return statistics.mean(taus(t, keys)[0] for t in targets)


def _pool_tau(targets: list[Target], keys: tuple[str, ...]) -> float:
    """The mean tau over the pool's targets whose ground truth separates the sources."""
    return _mean_tau([t for t in targets if t.separable], keys)


FAMILIES = {"any combination": None, "at most two": 2, "one estimator": 1}


def _leave_one_pool_out(loaded: dict[str, list[Target]], keys: list[str]) -> None:
    """How each way of choosing the default fares on a pool it did not see: the family's
    member best on the other pools (the mean of their mean taus), scored on the one left
    out; then each family's choice on every pool."""
    combinations = [c for n in range(1, len(keys) + 1) for c in itertools.combinations(keys, n)]
    table = {c: {pool: _pool_tau(ts, c) for pool, ts in loaded.items()} for c in combinations}
    print("leave one pool out: chosen on the other pools, tau on the one left out")
    print(f"{'family':16s} " + " ".join(f"{p:>34s}" for p in loaded) + "   mean")
    for family, most in FAMILIES.items():
        members = [c for c in combinations if most is None or len(c) <= most]
        cells, scores = [], []
        for pool in loaded:
            others = [p for p in loaded if p != pool]
            chosen = max(members, key=lambda c: statistics.mean(table[c][p] for p in others))
            scores.append(table[chosen][pool])
            cells.append(f"{'+'.join(chosen)[:28]:>28s} {scores[-1]:5.2f}")
        print(f"{family:16s} " + " ".join(cells) + f"  {statistics.mean(scores):5.2f}")
    best_single = {p: max(keys, key=lambda k: table[(k,)][p]) for p in loaded}
    print("best single estimator on each pool, in hindsight: " + ", ".join(
        f"{p} {k} {table[(k,)][p]:.2f}" for p, k in best_single.items()))  # fmt: skip
    print(f"today's default ({'+'.join(TODAY)}): " + ", ".join(
        f"{p} {table[TODAY][p]:.2f}" for p in loaded))  # fmt: skip
    print("\nchosen on every pool (mean of the pools' mean taus; per pool):")
    for family, most in FAMILIES.items():
        members = [c for c in combinations if most is None or len(c) <= most]
        for c in sorted(members, key=lambda c: -statistics.mean(table[c].values()))[:3]:
            cells = " ".join(f"{p} {table[c][p]:5.2f}" for p in loaded)
            print(f"  {family:16s} {statistics.mean(table[c].values()):5.2f}  "
                  f"{', '.join(c)[:60]:60s} {cells}")  # fmt: skip
    print("single estimators, every pool:")
    for k in sorted(keys, key=lambda k: -statistics.mean(table[(k,)].values())):
        cells = " ".join(f"{p} {table[(k,)][p]:5.2f}" for p in loaded)
        print(f"  {statistics.mean(table[(k,)].values()):5.2f}  {k:16s} {cells}")
    print()


def _flags(target: Target, rule: Rule) -> dict[str, bool]:
    """Each source's flag under ``rule``: on features (the mean rank on its estimators no
    better than the control's), on the probe (each of the signal's values no higher than
    the control's, plus the margin), either, or both."""
    keys, how, signal, margin = rule
    on_features = _pool_scores(target.ranked, keys)
    flags = {}
    for row in target.ranked["sources"]:
        score, control = on_features[row["source"]]
        features = control is not None and score <= control
        probe = all(
            math.isfinite(mine := row["scores"].get(key, math.nan))
            and math.isfinite(theirs := row["control"]["scores"].get(key, math.nan))
            and mine <= theirs + margin
            for key in SIGNALS[signal]
        )
        flags[row["source"]] = {"features": features, "probe": probe, "either": features or probe,
                                "both": features and probe}[how]  # fmt: skip
    return flags


def _confusion(targets: list[Target], rule: Rule, below: float) -> tuple[int, ...]:
    """(harmful pairs, of them flagged, flags, false flags): harmful = fine-tuned accuracy
    under the network's from-scratch by more than ``below``."""
    harmful = caught = flagged = 0
    for target in targets:
        networks = {r["source"]: r["network"] for r in target.ranked["sources"]}
        for name, flag in _flags(target, rule).items():
            hurts = target.accuracy(name) < target.scratch(networks[name]) - below
            harmful, caught, flagged = harmful + hurts, caught + (hurts and flag), flagged + flag
    return harmful, caught, flagged, flagged - caught


Rule = tuple[tuple[str, ...], str, str, float]  # feature estimators, how, probe signal, margin
# The flag's feature estimators: those cheap enough for the default budget (the linear
# probe's cross-validated fits took 2.4 of a 4.3 s ranking of the glyphs pool)
FEATURES = [("knn",), ("logme",), ("knn", "logme")]
RULES: list[Rule] = [(keys, "features", "loss", 0.0) for keys in FEATURES] + [
    (keys, how, signal, margin)
    for keys in FEATURES for how in ("either", "both") for signal in SIGNALS for margin in MARGINS
] + [((), "probe", signal, margin) for signal in SIGNALS for margin in MARGINS]  # fmt: skip


def _chosen_rule(targets: list[Target], below: float) -> Rule:
    """The rule that catches the most harmful pairs of ``targets`` with at most one flag in
    five false (else the best F1)."""

    def merit(rule: Rule) -> tuple[bool, float]:
        harmful, caught, flagged, false = _confusion(targets, rule, below)
        precise = flagged == 0 or false <= 0.2 * flagged
        recall = caught / max(harmful, 1)
        f1 = 2 * caught / max(harmful + flagged, 1)
        return precise, recall if precise else f1

    return max(RULES, key=merit)


def _negative_transfer(loaded: dict[str, list[Target]]) -> None:
    """Each flag rule on the tuning targets and the held-out ones, every pool together;
    the rule chosen on the tuning targets, scored on the held-out ones."""
    everyone = [t for ts in loaded.values() for t in ts]
    tuning = [t for t in everyone if not t.held_out]
    held = [t for t in everyone if t.held_out]
    for below in (0.0, 0.02):
        print(f"negative transfer: harmful = fine-tuned below the network from scratch by more "
              f"than {100 * below:.0f} points")  # fmt: skip
        print(f"{'features':19s} rule     {'probe signal':14s} margin | tuning: harmful caught "
              "flags false | held out: harmful caught flags false")  # fmt: skip
        for rule in RULES:
            a, b = _confusion(tuning, rule, below), _confusion(held, rule, below)
            print(f"{'+'.join(rule[0]):19s} {rule[1]:8s} {rule[2]:14s} {rule[3]:5.2f}  | "
                  f"{a[0]:14d} {a[1]:6d} {a[2]:5d} {a[3]:5d} | {b[0]:16d} {b[1]:6d} {b[2]:5d} "
                  f"{b[3]:5d}")  # fmt: skip
        rule = _chosen_rule(tuning, below)
        b = _confusion(held, rule, below)
        print(f"chosen on the tuning targets: {'+'.join(rule[0])} {rule[1]} on the probe's "
              f"{rule[2]} (margin {rule[3]}); "
              f"on the held-out ones {b[1]} of {b[0]} harmful flagged, {b[3]} of {b[2]} flags "
              "false\n")  # fmt: skip
    for target in everyone:
        networks = {r["source"]: r["network"] for r in target.ranked["sources"]}
        for name, flag in _flags(target, (CONTROL, "both", "loss", PROBE_MARGIN)).items():
            scratch = target.scratch(networks[name])
            if target.accuracy(name) < scratch or flag:
                verdict = "flagged" if flag else "NOT flagged"
                print(f"  {target.pool:8s} {target.name:16s} {name:16s} fine-tuned "
                      f"{target.accuracy(name):.3f} scratch {scratch:.3f}  {verdict}")  # fmt: skip
    print()


def _as_a_user_ranks(loaded: dict[str, list[Target]]) -> None:
    """The default as `lumos transfer rank` runs it (within its budget) against the same
    default and today's on every image, and the time it took over one fine-tuning run."""
    print("as a user ranks (the default budget): tau of the default; today's = logme+p2l on "
          "every image (up to 2,000)")  # fmt: skip
    print(f"{'pool':8s} {'target':16s} {'images':>6s} {'stable':>6s} {'budget tau':>10s} "
          f"{'all-images tau':>14s} {'today tau':>9s} {'rank/tune':>9s}")  # fmt: skip
    for pool, targets in loaded.items():
        for target in targets:
            if target.budget is None:
                continue
            budget = taus(target, DEFAULT, target.budget)[0]
            ratio = target.budget["seconds"] / target.tune_seconds()
            print(f"{pool:8s} {target.name + ' *' * target.held_out:16s} "
                  f"{target.budget['images']:6d} {target.budget['stable']!s:>6s} "
                  f"{budget:10.2f} {taus(target, DEFAULT)[0]:14.2f} "
                  f"{taus(target, TODAY)[0]:9.2f} {100 * ratio:8.1f}%")  # fmt: skip
    print()


def _strategies(targets: list[Target], strategies: dict) -> None:
    wins = dict.fromkeys(strategies, 0)
    accuracy: dict[str, list[float]] = {s: [] for s in strategies}
    seconds: dict[str, list[float]] = {s: [] for s in strategies}
    for target in targets:
        for row in target.ranked["sources"]:
            runs = {s: target.truth.get(f"{row['source']}|{s}|0") for s in strategies}
            if any(run is None for run in runs.values()):
                continue
            best = max(runs, key=lambda s: runs[s]["accuracy"])  # type: ignore[index]
            wins[best] += 1
            for s, run in runs.items():
                accuracy[s].append(run["accuracy"])  # type: ignore[index]
                seconds[s].append(run["seconds"])  # type: ignore[index]
    if not any(accuracy.values()):
        return
    print("strategy         wins  mean accuracy  median seconds (seed 0, every source x target)")
    for s in strategies:
        if accuracy[s]:
            print(f"{s:15s} {wins[s]:5d}  {statistics.mean(accuracy[s]):13.3f}  "
                  f"{statistics.median(seconds[s]):8.1f}")  # fmt: skip
