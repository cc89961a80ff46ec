"""Fixtures for the classifier tests: the built model, located like the CLI does."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.classifier import Classifier, ClassifierLoadError, default_model

BUILD_COMMAND = "cd nlp && python -m spacy project run all"


@pytest.fixture(scope="session")
def model_path() -> Path:
    """Directory of the built (calibrated) model; fails with the build command if missing."""
    target = default_model()
    try:
        import spacy

        path = Path(target) if Path(target).is_dir() else spacy.util.get_package_path(target)
    except (ModuleNotFoundError, OSError):
        path = None
    if path is None or not (path / "config.cfg").exists():
        # An installed package keeps its data one level down (<pkg>/<pkg>-<version>/).
        candidates = sorted(path.glob("*/config.cfg")) if path is not None else []
        if not candidates:
            pytest.fail(
                f"no built classifier model ({target!r}); build it first from the repository "
                f"root with .venv/bin on PATH: `{BUILD_COMMAND}`"
            )
        path = candidates[-1].parent
    return path


@pytest.fixture(scope="session")
def classifier(model_path: Path) -> Classifier:
    """The built classifier, loaded once for the whole test session."""
    try:
        return Classifier.load(model_path)
    except ClassifierLoadError as exc:
        pytest.fail(f"{exc}\nRebuild with `{BUILD_COMMAND}`")
