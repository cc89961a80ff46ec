"""Batch classification throughput of Classifier.classify_many on one core.

Compares, on the same texts in the same run, the Classifier (HTML/whitespace cleaning,
language detection, case/accent folding, calibration, Prediction objects) with spaCy's bare
``nlp.pipe`` over the same pipeline. Median of --runs runs. Texts are the frozen corpus
splits, repeated to --n texts.

    .venv/bin/python bench/classify.py [--model PATH] [--n 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os

# One core: set before numpy/thinc import their BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from nlp.classifier import Classifier, default_model  # noqa: E402
from nlp.training import load_split  # noqa: E402


def _median_rate(fn: Callable[[], object], n: int, runs: int) -> tuple[float, list[float]]:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), rates


def main() -> None:
    """Run the benchmark and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model package or directory")
    parser.add_argument("--n", type=int, default=20000, help="number of texts (>= 10000)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    try:
        import torch  # type: ignore[import-not-found]

        torch.set_num_threads(1)
    except ImportError:
        pass
    if hasattr(os, "sched_setaffinity"):
        # Pin to one CPU so "one core" is literal, whatever the libraries do.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    clf = Classifier.load(args.model or default_model())
    pool = [r["text"] for split in ("train", "dev", "test") for r in load_split(split)]
    texts = (pool * (args.n // len(pool) + 1))[: args.n]
    mean_chars = sum(map(len, texts)) / len(texts)

    # Warm-up (first calls allocate).
    clf.classify_many(texts[:1000], batch_size=args.batch_size)

    def classifier_run() -> object:
        return clf.classify_many(texts, batch_size=args.batch_size)

    def bare_run() -> object:
        return [doc.cats for doc in clf.nlp.pipe(texts, batch_size=args.batch_size)]

    clf_rate, clf_all = _median_rate(classifier_run, len(texts), args.runs)
    bare_rate, bare_all = _median_rate(bare_run, len(texts), args.runs)

    print(
        f"model: {clf.model_version}  texts: {len(texts)} (mean {mean_chars:.0f} chars)  "
        f"runs: {args.runs}  batch: {args.batch_size}  cores: 1"
    )
    print(f"{'':<28}{'median reports/s':>18}{'min':>10}{'max':>10}")
    print(
        f"{'Classifier.classify_many':<28}{clf_rate:>18,.0f}{min(clf_all):>10,.0f}"
        f"{max(clf_all):>10,.0f}"
    )
    print(f"{'bare nlp.pipe':<28}{bare_rate:>18,.0f}{min(bare_all):>10,.0f}{max(bare_all):>10,.0f}")
    print(f"ratio classify_many / bare nlp.pipe: {clf_rate / bare_rate:.2f}")
    print(f"target >= 5,000 reports/s: {'met' if clf_rate >= 5000 else 'NOT met'}")


if __name__ == "__main__":
    main()
