"""One registry of the margin heads: ``build_head("adaface", 512, num_classes, parallel="chunked")``.

A head is registered once, by name, with :func:`register_head`, and then built by that name
(:func:`build_head`) densely (its own class, e.g. :class:`~recognizability.nn.AdaFace`) and, when it has a
margin component (:class:`~recognizability.nn.Margin`), chunked on one device
(:class:`~recognizability.nn.ChunkedMarginHead`) or class-sharded over processes
(:class:`~recognizability.nn.ShardedMarginHead`). :func:`available_heads` lists the names, e.g. for an
``argparse`` ``choices=``. The library registers ``arcface`` (the paper's, Table 5), ``cosface``, ``adaface``,
``curricularface`` and ``magface``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from torch import nn

from ._prototypes import MarginHead, PrototypeHolder
from .adaface import AdaFace
from .arcface import ArcFace
from .chunked import ChunkedMarginHead
from .cosface import CosFace
from .curricularface import CurricularFace
from .magface import MagFace
from .margins import AdaFaceMargin, ArcFaceMargin, CosFaceMargin, CurricularFaceMargin, MagFaceMargin, Margin
from .sharded import ShardedMarginHead

__all__ = ["PARALLEL_MODES", "available_heads", "build_head", "register_head"]

#: Where the prototypes of a built head live: ``"none"``, all on one device with the whole ``(B, C)`` cosine
#: (the head's own class); ``"chunked"``, all on one device, walked in chunks
#: (:class:`~recognizability.nn.ChunkedMarginHead`); ``"sharded"``, split over the processes of a
#: ``torch.distributed`` group (:class:`~recognizability.nn.ShardedMarginHead`).
PARALLEL_MODES: tuple[str, ...] = ("none", "chunked", "sharded")

#: The prototype holder of each mode; its arguments after ``(embedding_dim, num_classes, margin)`` are the
#: holder's options (``chunk_size``; ``process_group``, ``sample_rate``).
_HOLDERS: Mapping[str, type[PrototypeHolder]] = MappingProxyType(
    {"none": MarginHead, "chunked": ChunkedMarginHead, "sharded": ShardedMarginHead}
)

_Registered = TypeVar("_Registered", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class _Entry:
    """A registered head: its dense class (``None``: :class:`MarginHead` with the margin) and its margin
    component (``None``: dense only)."""

    dense: Callable[..., Any] | None
    margin: type[Margin] | None


_REGISTRY: dict[str, _Entry] = {}


def register_head(name: str, *, margin: type[Margin] | None = None) -> Callable[[_Registered], _Registered]:
    """Decorator that registers a margin head under ``name`` (case-insensitive), for :func:`build_head`.

    Decorate either

    * a margin component class (a :class:`~recognizability.nn.Margin` subclass): the head is then
      :class:`~recognizability.nn.MarginHead` with it, and runs dense, chunked and sharded; its options are
      the margin's constructor arguments;
    * a head class (or function) ``(embedding_dim, num_classes, **options) -> nn.Module`` whose forward
      returns a head output :class:`~recognizability.nn.RecognizabilityLoss` reads; with ``margin=`` (a margin
      class taking the same options) it also runs chunked and sharded, otherwise dense only.

    Example::

        @register_head("sphereface")
        class SphereFaceMargin(Margin):
            def __init__(self, scale: float = 30.0, margin: float = 1.35) -> None: ...
            def target_logits(self, target_cosine, norms, statistics): ...

        head = build_head("sphereface", 512, num_classes, parallel="chunked")

    Raises:
        ValueError: ``name`` is not a non-empty string or is already registered.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"expected name to be a non-empty str, got {name!r}")
    key = name.lower()
    if key in _REGISTRY:
        raise ValueError(f"expected a new head name, got {name!r} (already registered)")
    if margin is not None and not (isinstance(margin, type) and issubclass(margin, Margin)):
        raise TypeError(f"expected margin to be a Margin subclass, got {margin!r}")

    def register(head: _Registered) -> _Registered:
        if key in _REGISTRY:
            raise ValueError(f"expected a new head name, got {name!r} (already registered)")
        if isinstance(head, type) and issubclass(head, Margin):
            _REGISTRY[key] = _Entry(None, head)
        elif callable(head):
            _REGISTRY[key] = _Entry(head, margin)
        else:
            raise TypeError(f"expected a Margin subclass or a head class to register, got {head!r}")
        return head

    return register


def available_heads(parallel: str = "none") -> tuple[str, ...]:
    """The registered head names, in registration order, that :func:`build_head` builds with ``parallel``
    (every head densely; those with a margin component chunked and sharded too)."""
    parallel = _check_parallel(parallel)
    return tuple(name for name, entry in _REGISTRY.items() if parallel == "none" or entry.margin is not None)


def build_head(
    name: str, embedding_dim: int, num_classes: int, parallel: str = "none", **options: Any
) -> nn.Module:
    """Build the registered margin head ``name`` with its own paper's defaults, overridden by ``options``.

    Args:
        name: one of :func:`available_heads` (case-insensitive): ``arcface``, ``cosface``, ``adaface``,
            ``curricularface``, ``magface`` and any registered with :func:`register_head`.
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        parallel: one of :data:`PARALLEL_MODES`: ``"none"`` builds the head's own class (e.g.
            :class:`~recognizability.nn.AdaFace`), ``"chunked"`` a :class:`~recognizability.nn.
            ChunkedMarginHead` and ``"sharded"`` a :class:`~recognizability.nn.ShardedMarginHead` with the
            head's margin component.
        **options: keyword arguments of the head's constructor (e.g. ``scale``, ``margin``; ``h`` for AdaFace,
            ``lambda_g`` for MagFace), and with ``parallel`` ``chunk_size`` (chunked, sharded),
            ``process_group`` and ``sample_rate`` (sharded). An option the head does not take is an error,
            never dropped.

    Returns:
        The head module; its forward returns :class:`~recognizability.nn.MarginHeadOutput`.

    Raises:
        ValueError: an unknown ``name`` or ``parallel``, or a chunked or sharded head without a margin.
        TypeError: an option the head does not take.

    Example::

        head = build_head("adaface", 512, num_classes=2570, margin=0.4)
        big = build_head("cosface", 512, num_classes=2_000_000, parallel="sharded", sample_rate=0.2)
    """
    names = tuple(_REGISTRY)
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"expected name to be one of {_listed(names)}, got {name!r}")
    parallel = _check_parallel(parallel)
    key = name.lower()
    entry = _REGISTRY[key]
    if parallel == "none" and entry.dense is not None:
        _check_options(key, parallel, _arguments(entry.dense, skip=2), options)
        head: nn.Module = entry.dense(embedding_dim, num_classes, **options)
        return head
    if entry.margin is None:
        raise ValueError(
            f"expected parallel='none' for head {key!r}, which has no margin component (register it with "
            f"register_head({key!r}, margin=...) to run it chunked or sharded), got parallel={parallel!r}"
        )
    holder = _HOLDERS[parallel]
    margin_arguments = _arguments(entry.margin, skip=0)
    holder_arguments = _arguments(holder, skip=3) or ()
    accepted = None if margin_arguments is None else (*margin_arguments, *holder_arguments)
    _check_options(key, parallel, accepted, options)
    margin = entry.margin(**{k: v for k, v in options.items() if k not in holder_arguments})
    holder_options = {k: v for k, v in options.items() if k in holder_arguments}
    return holder(embedding_dim, num_classes, margin, **holder_options)


def _check_parallel(parallel: object) -> str:
    if not isinstance(parallel, str) or parallel not in PARALLEL_MODES:
        raise ValueError(f"expected parallel to be one of {_listed(PARALLEL_MODES)}, got {parallel!r}")
    return parallel


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(repr(n) for n in names)


def _arguments(build: Callable[..., Any], skip: int) -> tuple[str, ...] | None:
    """The keyword arguments ``build`` takes after its first ``skip`` ones; ``None`` if it takes any."""
    parameters = list(inspect.signature(build).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return tuple(
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


def _check_options(
    name: str, parallel: str, accepted: tuple[str, ...] | None, options: Mapping[str, Any]
) -> None:
    """Refuse an option the head does not take (``accepted`` ``None``: it takes any)."""
    if accepted is None:
        return
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"expected options of {name} (parallel={parallel!r}) among {', '.join(accepted)}, "
            f"got unknown {', '.join(unknown)}"
        )


#: The library's heads: name, dense class, margin component.
_LIBRARY_HEADS: tuple[tuple[str, type[MarginHead], type[Margin]], ...] = (
    ("arcface", ArcFace, ArcFaceMargin),
    ("cosface", CosFace, CosFaceMargin),
    ("adaface", AdaFace, AdaFaceMargin),
    ("curricularface", CurricularFace, CurricularFaceMargin),
    ("magface", MagFace, MagFaceMargin),
)
for _name, _head, _margin in _LIBRARY_HEADS:
    register_head(_name, margin=_margin)(_head)


# ----------------------------------------------------------------------------------------------------------
# Deprecated: the separate vocabulary of the dense heads (recognizability.nn warns when they are asked for)
# ----------------------------------------------------------------------------------------------------------

#: Deprecated: :func:`available_heads` and :func:`build_head`. The library's dense heads by name.
MARGIN_HEADS: Mapping[str, type[MarginHead]] = MappingProxyType({n: head for n, head, _ in _LIBRARY_HEADS})
#: Deprecated: :func:`available_heads`. The names of :data:`MARGIN_HEADS`.
MARGIN_HEAD_NAMES: tuple[str, ...] = tuple(MARGIN_HEADS)


def build_margin_head(name: str, embedding_dim: int, num_classes: int, **options: Any) -> nn.Module:
    """Deprecated: :func:`build_head` (with ``parallel="none"``), which it calls."""
    return build_head(name, embedding_dim, num_classes, **options)
