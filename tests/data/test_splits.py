from collections import Counter

from lumos.data.splits import assign_splits


def test_percentages_are_stratified_by_class() -> None:
    strata = ["a"] * 100 + ["b"] * 20
    splits = assign_splits([None] * 120, strata, val_percent=20, test_percent=10, seed=0)
    per_class = Counter(zip(strata, splits, strict=True))
    assert per_class[("a", "val")] == 20 and per_class[("a", "test")] == 10
    assert per_class[("b", "val")] == 4 and per_class[("b", "test")] == 2


def test_same_seed_same_split_other_seed_other_split() -> None:
    strata = ["a"] * 50
    one = assign_splits([None] * 50, strata, val_percent=20, test_percent=0, seed=1)
    assert one == assign_splits([None] * 50, strata, val_percent=20, test_percent=0, seed=1)
    assert one != assign_splits([None] * 50, strata, val_percent=20, test_percent=0, seed=2)


def test_given_splits_are_kept_and_missing_val_comes_from_train() -> None:
    given = ["train"] * 40 + ["test"] * 10
    splits = assign_splits(given, ["x"] * 50, val_percent=25, test_percent=25, seed=0)
    counts = Counter(splits)
    assert counts == {"train": 30, "val": 10, "test": 10}
    assert splits[40:] == ["test"] * 10


def test_given_val_is_not_topped_up() -> None:
    given = ["train"] * 8 + ["val"] * 2
    assert Counter(assign_splits(given, ["x"] * 10, val_percent=50, test_percent=0, seed=0)) == {
        "train": 8,
        "val": 2,
    }


def test_tiny_class_keeps_a_training_example() -> None:
    splits = assign_splits([None] * 2, ["a", "a"], val_percent=50, test_percent=40, seed=0)
    assert "train" in splits


def test_unstratified_split() -> None:
    strata = ["a"] * 90 + ["b"] * 10
    splits = assign_splits(
        [None] * 100, strata, val_percent=10, test_percent=0, seed=0, stratify=False
    )
    assert Counter(splits)["val"] == 10
