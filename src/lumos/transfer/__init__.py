"""Transfer learning: estimating beforehand how well each saved model would suit a target
(:mod:`lumos.transfer.estimators`) and ranking them (:mod:`lumos.transfer.rank`). The
models it ranks come from training runs and from :mod:`lumos.pretrained`."""
