"""One registry of the margin heads: build_head by name (dense, chunked, sharded), available_heads,
register_head for a margin of one's own or a head class, and the deprecated vocabulary it replaces."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import pytest
import torch

import recognizability.nn as rnn
from recognizability.functional import cosine_logits
from recognizability.nn import (
    PARALLEL_MODES,
    AdaFace,
    AdaFaceMargin,
    ArcFace,
    ChunkedMarginHead,
    CosFace,
    CurricularFace,
    MagFace,
    Margin,
    MarginHead,
    ShardedMarginHead,
    available_heads,
    build_head,
    head_registry,
    register_head,
)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heads registered in a test are forgotten after it."""
    monkeypatch.setattr(head_registry, "_REGISTRY", dict(head_registry._REGISTRY))


def test_builds_each_head_with_its_paper_defaults() -> None:
    assert available_heads() == ("arcface", "cosface", "adaface", "curricularface", "magface")
    assert PARALLEL_MODES == ("none", "chunked", "sharded")
    expected = {
        "arcface": (ArcFace, {"scale": 64.0, "margin": 0.45}),
        "cosface": (CosFace, {"scale": 64.0, "margin": 0.35}),
        "adaface": (AdaFace, {"scale": 64.0, "margin": 0.4, "h": 0.333, "t_alpha": 0.01}),
        "curricularface": (CurricularFace, {"scale": 64.0, "margin": 0.5, "t_momentum": 0.01}),
        "magface": (
            MagFace,
            {"scale": 64.0, "lower_norm": 10.0, "upper_norm": 110.0, "lower_margin": 0.45,
             "upper_margin": 0.8, "lambda_g": 35.0},
        ),
    }  # fmt: skip
    for name, (cls, defaults) in expected.items():
        head = build_head(name, 8, 5)
        assert type(head) is cls
        assert head.weight.shape == (5, 8) and isinstance(head.weight, torch.nn.Parameter)
        for key, value in defaults.items():
            assert getattr(head, key) == value, (name, key)
        for parallel, holder in (("chunked", ChunkedMarginHead), ("sharded", ShardedMarginHead)):
            big = build_head(name, 8, 5, parallel=parallel, chunk_size=2)
            assert type(big) is holder and big.chunk_size == 2
            assert big.margin_component.options() == head.margin_component.options()
    assert build_head("AdaFace", 8, 5, margin=0.3, h=0.5).h == 0.5
    sharded = build_head("cosface", 8, 5, parallel="sharded", sample_rate=0.5, margin=0.2)
    assert isinstance(sharded, ShardedMarginHead) and sharded.sample_rate == 0.5
    assert sharded.margin_component.options() == {"scale": 64.0, "margin": 0.2}


def test_refuses_unknown_names_modes_and_options_naming_the_argument() -> None:
    with pytest.raises(ValueError, match=r"name to be one of 'arcface', 'cosface'.*got 'sphereface'"):
        build_head("sphereface", 8, 5)
    with pytest.raises(ValueError, match=r"parallel to be one of 'none', 'chunked', 'sharded', got 'ddp'"):
        build_head("arcface", 8, 5, parallel="ddp")
    with pytest.raises(
        TypeError, match=r"options of cosface \(parallel='none'\) among scale, margin, got unknown h"
    ):
        build_head("cosface", 8, 5, h=0.3)
    with pytest.raises(TypeError, match=r"among scale, margin, chunk_size, got unknown process_group"):
        build_head("arcface", 8, 5, parallel="chunked", process_group=None)
    with pytest.raises(TypeError, match=r"got unknown chunk_size"):
        build_head("arcface", 8, 5, chunk_size=4)  # a dense head has no chunks: never dropped silently


def test_a_registered_margin_builds_dense_chunked_and_sharded(registry: None) -> None:
    @register_head("NormFace")
    class NoMargin(Margin):
        """The normalised softmax: every logit s cos."""

        def __init__(self, scale: float = 10.0) -> None:
            super().__init__(scale)

    assert available_heads()[-1] == "normface" and "normface" in available_heads("sharded")
    torch.manual_seed(0)
    embeddings, labels = torch.randn(6, 4, dtype=torch.float64), torch.randint(0, 7, (6,))
    dense = build_head("normface", 4, 7, scale=5.0).double()
    assert type(dense) is MarginHead and isinstance(dense.margin_component, NoMargin)
    want = torch.nn.functional.cross_entropy(5.0 * cosine_logits(embeddings, dense.weight), labels)
    for parallel in PARALLEL_MODES:
        head = build_head("normface", 4, 7, parallel=parallel, scale=5.0).double()
        head.load_state_dict(dense.state_dict(), strict=False)
        torch.testing.assert_close(head(embeddings, labels).loss, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(
        TypeError, match=r"options of normface \(parallel='chunked'\) among scale, chunk_size"
    ):
        build_head("normface", 4, 7, parallel="chunked", margin=0.3)


def test_a_registered_head_class_is_dense_only_unless_it_names_its_margin(registry: None) -> None:
    @register_head("plain")
    class Plain(torch.nn.Module):
        def __init__(self, embedding_dim: int, num_classes: int, width: int = 2) -> None:
            super().__init__()
            self.width = width

    assert (
        isinstance(build_head("plain", 4, 3, width=5), Plain)
        and build_head("plain", 4, 3, width=5).width == 5
    )
    assert "plain" in available_heads() and "plain" not in available_heads("chunked")
    with pytest.raises(ValueError, match=r"parallel='none' for head 'plain', which has no margin component"):
        build_head("plain", 4, 3, parallel="chunked")

    @register_head("myada", margin=AdaFaceMargin)
    def my_adaface(embedding_dim: int, num_classes: int, **options: Any) -> torch.nn.Module:
        return AdaFace(embedding_dim, num_classes, **options)

    assert isinstance(build_head("myada", 4, 3, h=0.5), AdaFace)  # **options: passed on as they are
    chunked = build_head("myada", 4, 3, parallel="chunked", h=0.5)
    assert isinstance(chunked.margin_component, AdaFaceMargin) and chunked.margin_component.h == 0.5
    with pytest.raises(ValueError, match=r"a new head name, got 'MyAda' \(already registered\)"):
        register_head("MyAda")


def _warning_of(get: Any) -> tuple[Any, str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = get()
    assert len(caught) >= 1 and all(issubclass(w.category, DeprecationWarning) for w in caught)
    assert all(w.filename == __file__ for w in caught), [w.filename for w in caught]  # the user's line
    return value, str(caught[0].message)


def test_the_separate_vocabulary_is_deprecated_and_names_its_replacement() -> None:
    names, said = _warning_of(lambda: rnn.MARGIN_HEAD_NAMES)
    assert names == available_heads()
    assert (
        "MARGIN_HEAD_NAMES is deprecated and will be removed in the next release; use available_heads()"
        in said
    )
    heads, said = _warning_of(lambda: rnn.MARGIN_HEADS)
    assert isinstance(heads, Mapping) and heads["adaface"] is AdaFace and "use build_head" in said
    build, said = _warning_of(lambda: rnn.build_margin_head)
    assert type(build("cosface", 8, 5, margin=0.2)) is CosFace and "use build_head(name" in said
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec("from recognizability.nn import build_margin_head", {})
    assert "build_margin_head is deprecated and will be removed in the next release; use build_head" in str(
        caught[0].message
    )
    with pytest.raises(AttributeError, match=r"has no attribute 'MARGIN_HEAD'"):
        rnn.MARGIN_HEAD  # noqa: B018


def test_the_package_itself_may_still_use_the_deprecated_vocabulary_quietly() -> None:
    """recognizability/__init__.py and training/ import them until they move to the registry: importing the
    package warns nobody."""
    import subprocess
    import sys

    code = (
        "import warnings; "
        "warnings.filterwarnings('error', 'recognizability.*deprecated', DeprecationWarning); "
        "import recognizability, recognizability.training"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
