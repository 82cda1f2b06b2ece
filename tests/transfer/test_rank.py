"""Ranking the store's classifiers for a target dataset, and what it refuses."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from helpers import class_folders, colour_folders, run_cli
from lumos.bundle import Bundle, save_bundle
from lumos.bundle.fingerprint import FeatureFingerprint, fingerprint
from lumos.data import Dataset, ImportOptions, import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.errors import DataError, NotFoundError
from lumos.train import Recipe, train
from lumos.transfer.budget import MIN_PER_CLASS, Budget, FineTune
from lumos.transfer.estimators import domain_similarity
from lumos.transfer.probe import GradientAgreement, probe
from lumos.transfer.rank import (
    ALIGNMENT,
    CONTROL,
    DEFAULT,
    PROBE,
    PROBE_MARGIN,
    Ranking,
    SourceScore,
    mean_ranks,
    rank,
)
from lumos.transfer.scoring import DATA_ESTIMATORS, ESTIMATORS
from lumos.transfer.stability import rank_intervals
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Colours to rank for; a LeNet trained on them ("trained"), the same with its last
    hidden layer zeroed so that every image looks alike to its head ("collapsed"), with
    every weight 50 times too large (its tanh units stuck at -1 or 1, too steep to learn)
    and its head naming each colour by the next one's name ("saturated"), and "trained"
    again ("older"), whose P2L fingerprint no ranking has asked for yet."""
    root = tmp_path_factory.mktemp("rank")
    workspace = Workspace(root / "ws").ensure()
    import_dataset(colour_folders(root / "colours", per_class=16), "colours", workspace=workspace)
    recipe = Recipe(dataset="colours", network="lenet5", epochs=4, batch_size=8, lr=0.05,
                    workers=0, precision="fp32")  # fmt: skip
    bundle_from_job(
        train(recipe, workspace=workspace, progress=False).id, "trained", workspace=workspace
    )
    trained = Bundle.load("trained", workspace)
    weights = {**trained.weights, "net.classifier.3.weight": torch.zeros(84, 120)}
    meta = trained.meta.as_json()
    save_bundle("collapsed", meta=meta, weights=weights, workspace=workspace)
    blown = {k: v * 50 if k.endswith("weight") else v for k, v in trained.weights.items()}
    for key in ("net.classifier.5.weight", "net.classifier.5.bias"):
        blown[key] = blown[key].roll(1, 0)
    save_bundle("saturated", meta=meta, weights=blown, workspace=workspace)
    save_bundle("older", meta=meta, weights=trained.weights, workspace=workspace)
    return workspace


def test_sources_come_best_first_with_every_estimator_and_a_control(store: Workspace) -> None:
    ranking = rank("colours", ["trained", "collapsed"], workspace=store, everything=True)
    assert [s.source for s in ranking.sources] == ["trained", "collapsed"]
    every = {*ESTIMATORS, *DATA_ESTIMATORS, PROBE, ALIGNMENT}
    assert set(ranking.estimators) == every and ranking.probed
    for entry in ranking.sources:
        assert set(entry.scores) == every and entry.seconds > 0
        assert entry.control is not None and entry.control.source == "lenet5 from scratch"
    trained, collapsed = ranking.sources
    assert trained.control is collapsed.control  # one control an architecture
    assert trained.scores["knn"] > collapsed.scores["knn"]
    assert trained.scores["p2l"] == collapsed.scores["p2l"] > 0  # the same training data
    assert trained.scores["p2l_similarity"] == pytest.approx(1.0, abs=1e-3)  # its own data
    assert trained.scores[PROBE] > trained.control.scores[PROBE]  # it already knows them
    assert trained.as_dict()["control"]["scores"]["p2l"] == 0.0  # it saw no data
    assert trained.interval == (1, 1) and ranking.stable  # first on every resample
    # every estimator puts "trained" first; P2L ties the two (the same training data)
    assert ranking.places == {"trained": (1, 1), "collapsed": (1, 2)}
    assert ranking.images == 36 and ranking.per_class == 12  # no budget: every image


def test_a_source_is_flagged_when_features_and_probe_both_say_no_better(store: Workspace) -> None:
    names = ["trained", "collapsed", "saturated"]
    probed = {s.source: s for s in rank("colours", names, workspace=store, everything=True).sources}
    control = probed["trained"].control
    assert control is not None and not probed["trained"].hurts
    # Its features tell the colours apart worse than a fresh LeNet's, yet it trains about
    # as well in the probe: its body still learns. Not flagged.
    assert probed["collapsed"].scores["logme"] < control.scores["logme"]
    assert probed["collapsed"].scores[PROBE] > control.scores[PROBE] - 3 * PROBE_MARGIN
    assert not probed["collapsed"].hurts
    # Stuck units and a wrong head: worse features, and a loss far above a fresh LeNet's.
    assert probed["saturated"].scores[PROBE] < control.scores[PROBE] - PROBE_MARGIN
    assert probed["saturated"].hurts
    # Where the budget leaves no room for the probe, the features alone decide.
    tight = rank("colours", names, workspace=store, budget=Budget(seconds=1e-6))
    assert not tight.probed and {s.source for s in tight.sources if s.hurts} == {
        "collapsed", "saturated"}  # fmt: skip


def test_the_default_ranking_scores_what_it_needs_within_its_budget(store: Workspace) -> None:
    ranking = rank("colours", ["trained", "collapsed"], workspace=store)
    assert set(ranking.estimators) - {PROBE} == {*DEFAULT, *CONTROL}
    assert ranking.budget == "10% of the fine-tuning run" and ranking.fine_tune_seconds > 0
    assert ranking.allowed_seconds == pytest.approx(0.1 * ranking.fine_tune_seconds)
    assert ranking.per_class >= min(MIN_PER_CLASS, 12)
    assert [s.source for s in ranking.sources] == ["trained", "collapsed"]
    tight = rank("colours", ["trained"], workspace=store, budget=Budget(seconds=1e-6))
    assert not tight.probed and tight.images == 3 * MIN_PER_CLASS  # the floor, no probe
    assert PROBE not in tight.sources[0].scores


def test_a_budget_is_a_share_seconds_or_none() -> None:
    assert Budget.parse("10%") == Budget(share=0.1) and Budget.parse(" 30s ") == Budget(seconds=30)
    assert Budget.parse("2.5") == Budget(seconds=2.5) and Budget.parse("none") == Budget()
    assert Budget.parse("25%").allowed(40.0) == 10.0 and Budget().allowed(1.0) == math.inf
    assert str(Budget(seconds=30)) == "30 s" and str(Budget()) == "none"
    for bad in ("", "ten", "-5", "0", "150%", "5 min", "1e9999"):
        with pytest.raises(DataError, match="budget"):
            Budget.parse(bad)


def test_places_span_what_the_estimators_say_of_each_source() -> None:
    scores = {"a": {"knn": 0.9, "logme": 1.0, PROBE: -0.2}, "b": {"knn": 0.8, "logme": 2.0},
              "c": {"knn": 0.1, "logme": -1.0, PROBE: 5.0}}  # fmt: skip
    entries = [SourceScore(name, scores=values) for name, values in scores.items()]
    ranking = Ranking("t", entries, 10, 5, ["knn", "logme", PROBE], "none", 1.0, 1.0)
    # a and b swap places between k-NN and LogME; the probe's signal is not an estimator
    assert ranking.places == {"a": (1, 2), "b": (1, 2), "c": (3, 3)}
    assert ranking.as_dict()["places"]["a"] == [1, 2]
    # JSON has no NaN or infinity: an unknown score and no budget are null
    entries[1].scores["p2l"] = math.nan
    unbounded = Ranking("t", entries, 10, 5, ["knn", "p2l"], "none", math.inf, 1.0)
    answer = json.loads(json.dumps(unbounded.as_dict(), allow_nan=False))
    assert answer["allowed_seconds"] is None and answer["sources"][1]["scores"]["p2l"] is None
    assert answer["overrun"] is None  # no budget to overrun
    over = Ranking("t", entries, 10, 5, ["knn"], "10% of the fine-tuning run", 0.5, 5.0, 2.0)
    assert over.overrun is not None and over.overrun.startswith("took 2.0 s, over the 0.5 s")


def test_rank_intervals_widen_where_the_resamples_disagree() -> None:
    labels = np.repeat([0, 1], 10)
    settled = rank_intervals(labels, lambda rows: [3.0, 2.0, 1.0])
    assert settled == [(1, 1), (2, 2), (3, 3)]
    noise = np.random.default_rng(0).normal(size=20)
    mirrored = np.stack([noise, 2 * noise.mean() - noise], 1)  # equal means, opposite rows
    # which of the two leads depends only on the rows drawn: a coin toss each resample
    tossed = rank_intervals(labels, lambda rows: mirrored[rows].mean(0).tolist())
    assert tossed == [(1, 2), (1, 2)]


def test_the_probe_steps_the_real_fine_tuning_run(store: Workspace) -> None:
    dataset, trained = Dataset.open("colours", store), Bundle.load("trained", store)
    tune = FineTune(epochs=4, batch_size=8, lr=0.05)
    started = probe(dataset, trained, tune, store, steps=4)
    scratch = probe(dataset, trained, tune, store, steps=4, from_scratch=True)
    assert len(started.losses) == len(scratch.losses) == 4
    assert started.late < 0.5 < scratch.late  # it knows the colours; a fresh LeNet guesses
    assert len(started.agreement) == 3 and -1 <= started.alignment <= 1  # from the second step


def test_gradient_agreement_is_the_cosine_between_successive_gradients() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    agreement, flat = GradientAgreement(model), []
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        model(torch.randn(4, 5)).square().sum().backward()
        flat.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
        if len(flat) == 1:
            assert agreement.cosine() is None  # nothing to agree with yet
            continue
        expected = torch.nn.functional.cosine_similarity(flat[-1], flat[-2], dim=0).item()
        assert agreement.cosine() == pytest.approx(expected, abs=1e-6)


def test_p2l_fingerprints_are_made_when_a_ranking_asks_and_kept(store: Workspace) -> None:
    assert Bundle.load("older", store).meta.feature_fingerprint is None  # not at save
    found = rank("colours", ["trained", "older"], workspace=store, everything=True)
    ranked = {s.source: s for s in found.sources}
    assert ranked["older"].scores["p2l"] == pytest.approx(ranked["trained"].scores["p2l"])
    train_split = Dataset.open("colours", store).split("train")
    recorded = Bundle.load("older", store).meta.feature_fingerprint
    assert recorded is not None and recorded.images == len(train_split)  # recorded now
    assert similarity_of(recorded, fingerprint(train_split)) == pytest.approx(1.0, abs=1e-3)
    default = rank("colours", ["older"], workspace=store, control=False)
    assert not {"p2l", "p2l_similarity", "p2l_size"} & set(default.sources[0].scores)


def test_a_second_ranking_reads_the_features_it_kept(store: Workspace) -> None:
    first = rank("colours", ["trained"], workspace=store, control=False).sources[0]
    cached = sorted((store.dataset_dir("colours") / "features").glob("*.pt"))
    again = rank("colours", ["trained"], workspace=store, control=False).sources[0]
    assert sorted((store.dataset_dir("colours") / "features").glob("*.pt")) == cached
    assert again.scores == first.scores and first.control is None


def test_rank_from_the_command_line_and_what_it_refuses(
    store: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(store.root))
    code, out, err = run_cli(monkeypatch, capsys, "transfer", "rank", "colours", "--json")
    assert code == 0, err
    answer = json.loads(out)
    rows = {row["source"]: row for row in answer["sources"]}
    assert set(rows) == {"trained", "collapsed", "saturated", "older"}
    assert rows["saturated"]["hurts"] and not rows["trained"]["hurts"]
    assert answer["budget"] == "10% of the fine-tuning run" and answer["per_class"] >= 10
    code, out, _ = run_cli(monkeypatch, capsys, "transfer", "rank", "colours", "--budget", "none")
    assert code == 0 and "saturated does no better than lenet5 from scratch" in out
    assert "scored 36 target images (at least 12 a class)" in out and "budget none" in out
    # k-NN ties the three that know the colours; LogME puts "saturated" third of them
    assert answer["places"]["saturated"] == [1, 3] and "│ 1-3 " in out
    code, _, err = run_cli(monkeypatch, capsys, "transfer", "rank", "colours", "--budget", "soon")
    assert code == 2 and "budget 'soon': give seconds" in err and "Traceback" not in err
    code, _, err = run_cli(monkeypatch, capsys, "transfer", "rank", "colours", "--sources", "nope")
    assert code == 2 and "no model named 'nope'" in err
    options = ImportOptions(channels=1)
    import_dataset(colour_folders(store.root / "grey"), "grey", options, workspace=store)
    code, _, err = run_cli(monkeypatch, capsys, "transfer", "rank", "grey")
    assert code == 2 and "takes 3-channel images and dataset 'grey' has 1" in err


def test_targets_that_cannot_be_ranked(store: Workspace) -> None:
    one = ImportOptions(allow_one_class=True)
    import_dataset(class_folders(store.root / "one", {"cat": 20}), "one", one, workspace=store)
    with pytest.raises(DataError, match="dataset 'one' has one class"):
        rank("one", workspace=store)
    few = ImportOptions(val_percent=0, test_percent=0)
    import_dataset(class_folders(store.root / "few", {"a": 1, "b": 1}), "few", few, workspace=store)
    with pytest.raises(DataError, match="2 training images for 2 classes"):
        rank("few", workspace=store)
    with pytest.raises(NotFoundError, match="no model named 'ghost'"):
        rank("colours", ["ghost"], workspace=store)


def similarity_of(a: FeatureFingerprint, b: FeatureFingerprint) -> float:
    return domain_similarity(a.centroids(), np.array(a.counts), b.centroids(), np.array(b.counts))


def test_mean_ranks_scale_each_estimator_and_skip_what_is_unknown() -> None:
    scored = [
        SourceScore("a", scores={"knn": 0.9, "p2l": math.nan}),
        SourceScore("b", scores={"knn": 0.5, "p2l": 2.0}),
        SourceScore("c", scores={"knn": 0.5, "p2l": 1.0}),
    ]
    a, b, c = mean_ranks(scored, ("knn", "p2l"))
    assert a == 0.0  # best by k-NN, its P2L unknown: ranked on k-NN alone
    assert b == pytest.approx(-(0.75 + 0.0) / 2)  # tied second of three by k-NN, best by P2L
    assert c == pytest.approx(-(0.75 + 1.0) / 2)


def test_a_large_target_is_scored_on_a_sample_keeping_each_class(store: Workspace) -> None:
    [scored] = rank("colours", ["trained"], workspace=store, control=False, images=6).sources
    features = store.dataset_dir("colours") / "features"
    sizes = {len(torch.load(p, weights_only=True)["labels"]) for p in features.glob("*.pt")}
    assert 6 in sizes and all(math.isfinite(v) for v in scored.scores.values())
    labels = [torch.load(p, weights_only=True)["labels"] for p in features.glob("*.pt")]
    assert any(sorted(x.tolist()) == [0, 0, 1, 1, 2, 2] for x in labels)
