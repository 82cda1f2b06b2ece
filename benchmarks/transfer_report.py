"""The tables of `transfer.py`, from what its --work folder holds."""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, weightedtau

from lumos.transfer.rank import CONTROL, DEFAULT, SourceScore, mean_ranks


def _load(work: Path, target: str) -> tuple[dict, dict] | None:
    truth, ranked = work / f"truth-{target}.json", work / f"rank-{target}.json"
    if not truth.is_file() or not ranked.is_file():
        return None
    return json.loads(truth.read_text()), json.loads(ranked.read_text())


def _accuracy(truth: dict, source: str, strategy: str = "full") -> float:
    runs = [v["accuracy"] for k, v in truth.items() if k.startswith(f"{source}|{strategy}|")]
    return statistics.mean(runs)


def _pool(ranked: dict, keys: tuple[str, ...]) -> dict[str, tuple[float, float | None]]:
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


def _taus(truth: dict, ranked: dict, keys: tuple[str, ...]) -> tuple[float, float, float]:
    """Kendall's tau, weighted tau and top-1 regret (accuracy points) of ``keys``' score."""
    scored = _pool(ranked, keys)
    names = list(scored)
    predicted = np.array([scored[n][0] for n in names])
    actual = np.array([_accuracy(truth, n) for n in names])
    regret = actual.max() - actual[int(np.argmax(predicted))]
    return kendalltau(predicted, actual)[0], weightedtau(predicted, actual)[0], 100 * regret


def _estimators(ranked: dict) -> list[str]:
    return list(ranked["sources"][0]["scores"])


def report(work: Path, targets: dict, strategies: dict) -> None:
    loaded = {t: found for t in targets if (found := _load(work, t)) is not None}
    if not loaded:
        print("nothing measured yet")
        return
    keys = _estimators(next(iter(loaded.values()))[1])
    print(f"default = mean rank of {', '.join(DEFAULT)}; flags on {', '.join(CONTROL)}\n")
    _per_target(loaded, keys, targets)
    _choice_of_default(loaded, keys, targets)
    _negative_transfer(loaded)
    _p2l_table(loaded)
    _strategies(loaded, strategies)


def _per_target(loaded: dict, keys: list[str], targets: dict) -> None:
    print("Kendall tau (weighted tau) against fine-tuned accuracy, per target")
    columns = [*keys, "default"]
    print(
        f"{'target':15s} " + " ".join(f"{c:>14s}" for c in columns) + "  regret(default)  rank/tune"
    )
    sums: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    for target, (truth, ranked) in loaded.items():
        cells = []
        for column in columns:
            tau, weighted, regret = _taus(
                truth, ranked, DEFAULT if column == "default" else (column,)
            )
            sums[targets[target][2]].setdefault(column, []).append(tau)
            cells.append(f"{tau:6.2f} ({weighted:5.2f})")
        tune = statistics.mean(v["seconds"] for k, v in truth.items() if "|full|" in k)
        ratio = ranked["seconds"] / tune
        print(f"{target:15s} " + " ".join(cells) + f"  {regret:5.1f}  {100 * ratio:5.1f}%")
    for held_out, label in ((False, "mean (tuning)"), (True, "mean (held out)")):
        if sums[held_out]:
            means = [statistics.mean(sums[held_out][c]) for c in columns]
            print(f"{label:15s} " + " ".join(f"{m:6.2f}{'':8s}" for m in means))
    print()


def _choice_of_default(loaded: dict, keys: list[str], targets: dict) -> None:
    """Every combination of estimators as the mean-rank default, best on the tuning targets."""
    tuning = {t: v for t, v in loaded.items() if not targets[t][2]}
    held = {t: v for t, v in loaded.items() if targets[t][2]}
    results = []
    for size in range(1, len(keys) + 1):
        for combination in itertools.combinations(keys, size):
            taus = [_taus(*v, combination)[0] for v in tuning.values()]
            held_taus = [_taus(*v, combination)[0] for v in held.values()]
            results.append((statistics.mean(taus), held_taus, combination))
    results.sort(key=lambda r: -r[0])
    print("best mean-rank combinations on the tuning targets (tau tuning / held out)")
    for tau, held_taus, combination in results[:5]:
        held_text = f"{statistics.mean(held_taus):.2f}" if held_taus else "-"
        print(f"  {tau:.2f} / {held_text}  {', '.join(combination)}")
    print()


def _negative_transfer(loaded: dict) -> None:
    """Flags (no better than from scratch on CONTROL's estimators, as `rank` decides)
    against sources whose fine-tuned accuracy ends below from scratch: strictly, and by more
    than 2 points (the seeds' spread on these small test splits)."""
    for margin in (0.0, 0.02):
        hurting = flagged = right = 0
        for target, (truth, ranked) in loaded.items():
            scratch = _accuracy(truth, "scratch")
            for name, (score, control) in _pool(ranked, CONTROL).items():
                hurts = _accuracy(truth, name) < scratch - margin
                flag = control is not None and score <= control
                hurting, flagged, right = hurting + hurts, flagged + flag, right + (hurts and flag)
                if margin == 0 and (hurts or flag):
                    verdict = "flagged" if flag else "NOT flagged"
                    print(f"  {target:14s} {name:12s} fine-tuned {_accuracy(truth, name):.3f} "
                          f"scratch {scratch:.3f}  {verdict}")  # fmt: skip
        print(f"negative transfer (below scratch by more than {100 * margin:.0f} points): "
              f"{hurting} sources, {right} of them flagged; {flagged} flags, "
              f"{flagged - right} false")  # fmt: skip
    print()


def _p2l_table(loaded: dict) -> None:
    """The seed's table: did the pick equal the best source; (OP - RDS) / RDS and
    (OP - A0) / A0, OP the pick's accuracy, RDS a random source's, A0 no transfer's."""
    print("P2L table (OP = accuracy of the pick)")
    print(f"{'target':15s} {'by':8s} best? (OP-RDS)/RDS (OP-A0)/A0")
    for target, (truth, ranked) in loaded.items():
        accuracies = {r["source"]: _accuracy(truth, r["source"]) for r in ranked["sources"]}
        random_pick, scratch = statistics.mean(accuracies.values()), _accuracy(truth, "scratch")
        best = max(accuracies, key=accuracies.__getitem__)
        for label, keys in (("p2l", ("p2l",)), ("default", DEFAULT)):
            scored = _pool(ranked, keys)
            pick = max(scored, key=lambda n: scored[n][0])
            op = accuracies[pick]
            gains = (op - random_pick) / random_pick, (op - scratch) / scratch
            print(f"{target:15s} {label:8s} {'yes' if pick == best else 'no':5s} "
                  f"{gains[0]:13.2f} {gains[1]:10.2f}")  # fmt: skip
    print()


def _strategies(loaded: dict, strategies: dict) -> None:
    wins = dict.fromkeys(strategies, 0)
    accuracy: dict[str, list[float]] = {s: [] for s in strategies}
    seconds: dict[str, list[float]] = {s: [] for s in strategies}
    for truth, ranked in loaded.values():
        for row in ranked["sources"]:
            runs = {s: truth.get(f"{row['source']}|{s}|0") for s in strategies}
            if any(run is None for run in runs.values()):
                continue
            best = max(runs, key=lambda s: runs[s]["accuracy"])  # type: ignore[index]
            wins[best] += 1
            for s, run in runs.items():
                accuracy[s].append(run["accuracy"])  # type: ignore[index]
                seconds[s].append(run["seconds"])  # type: ignore[index]
    print("strategy         wins  mean accuracy  median seconds (seed 0, every source x target)")
    for s in strategies:
        if accuracy[s]:
            print(f"{s:15s} {wins[s]:5d}  {statistics.mean(accuracy[s]):13.3f}  "
                  f"{statistics.median(seconds[s]):8.1f}")  # fmt: skip
