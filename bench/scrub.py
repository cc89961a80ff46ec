"""Throughput of ``Scrubber.scrub_many`` on one core.

Usage: ``python bench/scrub.py [--texts 2000] [--runs 5] [--batch-size 256]``

The texts are realistic resident reports: one to three sentences drawn (seeded) from the
labelled evaluation set ``nlp/scrub_eval/sentences.jsonl``, so they carry the same mix of
personal data, street names and SMS style. Threads are pinned to one before numpy loads and
the process is bound to one CPU. Prints the median of the runs, and the same for spaCy's bare
``nlp.pipe`` over the same texts (the NER alone), for comparison.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from nlp.scrub import Scrubber  # noqa: E402
from nlp.scrub_eval.evaluate import load_examples  # noqa: E402


def make_texts(count: int, seed: int = 20240611) -> list[str]:
    """Build ``count`` reports of one to three labelled sentences each (seeded)."""
    sentences = [e.text for e in load_examples()]
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, rng.choice((1, 1, 2, 2, 3)))) for _ in range(count)]


def median_rate(
    run: Callable[[], object], count: int, runs: int
) -> tuple[float, list[float], float]:
    """Run ``run`` ``runs`` times; return the median wall rate, all wall rates, and the
    median rate per CPU second of this process (less sensitive to other loads on the host)."""
    rates = []
    cpu_rates = []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        run()
        rates.append(count / (time.perf_counter() - start))
        cpu_rates.append(count / (time.process_time() - cpu_start))
    return statistics.median(rates), rates, statistics.median(cpu_rates)


def main() -> None:
    """Measure and print the throughput figures."""
    parser = argparse.ArgumentParser(description="scrub_many throughput on one core")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)

    texts = make_texts(args.texts)
    chars = sum(map(len, texts)) / len(texts)
    scrubber = Scrubber.load()
    scrubber.scrub_many(texts[:200], batch_size=args.batch_size)  # warm-up
    nlp = scrubber.nlp

    rate, rates, cpu_rate = median_rate(
        lambda: scrubber.scrub_many(texts, batch_size=args.batch_size), len(texts), args.runs
    )
    bare, bare_rates, bare_cpu = median_rate(
        lambda: list(nlp.pipe(texts, batch_size=args.batch_size)), len(texts), args.runs
    )
    found = sum(len(r.spans) for r in scrubber.scrub_many(texts, batch_size=args.batch_size))
    print(f"texts: {len(texts)} (mean {chars:.0f} chars), batch size {args.batch_size}, 1 core")
    print(f"pipeline: {nlp.pipe_names}, spans found: {found}")
    print(
        f"scrub_many: median {rate:.0f} reports/s wall over {args.runs} runs "
        f"({', '.join(f'{r:.0f}' for r in rates)}); {cpu_rate:.0f} reports per CPU second"
    )
    print(
        f"bare nlp.pipe (NER only): median {bare:.0f} texts/s wall "
        f"({', '.join(f'{r:.0f}' for r in bare_rates)}); {bare_cpu:.0f} per CPU second"
    )
    print(f"ratio scrub_many / bare nlp.pipe: {rate / bare:.2f}")


if __name__ == "__main__":
    main()
