"""Build a backbone by name: ``create_backbone("iresnet50", dropout=0.2)``.

A plain name -> factory table (no method names built from strings). arcface_torch's short names (``r18``,
``r34``, ``r50``, ``r100``, ``mbf``, as in its ``backbones.get_model``) are accepted as aliases. Keyword
arguments go to the factory unchanged, so a misspelt argument raises ``TypeError`` instead of being dropped.
``input_size=(H, W)`` (or one int, a square) is accepted by every backbone: the 112 x 112 networks check
it, ``small_vlr_net`` takes any multiple of 8.

Weights that ship inside the package are named by a tag: ``create_backbone("small_vlr_net",
pretrained="synthetic-hr")`` builds the architecture those weights were trained with and loads them
(``weights_only=True``, sha256 checked). ``available_pretrained()`` lists the tags; docs/checkpoints.md says
how each file was made.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .._validation import check_size_pair
from .adaface import adaface_ir50, adaface_ir101
from .base import FaceBackbone
from .iresnet import iresnet18, iresnet34, iresnet50, iresnet100
from .loading import CheckpointError, load_pretrained
from .mobilefacenet import mobilefacenet
from .small import small_vlr_net

__all__ = [
    "PretrainedWeights",
    "available_backbones",
    "available_pretrained",
    "canonical_backbone_name",
    "create_backbone",
    "pretrained_weights",
]

_FACTORIES: dict[str, Callable[..., FaceBackbone]] = {
    "iresnet18": iresnet18,
    "iresnet34": iresnet34,
    "iresnet50": iresnet50,
    "iresnet100": iresnet100,
    "mobilefacenet": mobilefacenet,
    "adaface_ir50": adaface_ir50,
    "adaface_ir101": adaface_ir101,
    "small_vlr_net": small_vlr_net,
}

_ALIASES: dict[str, str] = {
    "r18": "iresnet18",
    "r34": "iresnet34",
    "r50": "iresnet50",
    "r100": "iresnet100",
    "mbf": "mobilefacenet",
    "ir_50": "adaface_ir50",
    "ir_101": "adaface_ir101",
}


#: Side of the square input of the networks that take no ``input_size`` argument.
_FIXED_INPUT_SIZE = (112, 112)


@dataclass(frozen=True)
class PretrainedWeights:
    """Weights that ship inside the package.

    Attributes:
        backbone: canonical backbone name.
        tag: the name passed as ``pretrained=``.
        filename: file under ``recognizability/backbones/weights/`` (a plain state dict).
        architecture: the factory arguments the weights were trained with (overriding them is an error).
        sha256: hex digest of the file, checked on every load.
        description: what the weights are, in one sentence.
    """

    backbone: str
    tag: str
    filename: str
    architecture: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    description: str = ""


_PRETRAINED: dict[tuple[str, str], PretrainedWeights] = {}


def _register_pretrained(weights: PretrainedWeights) -> None:
    _PRETRAINED[(weights.backbone, weights.tag)] = weights


# Stage 1 of the paper's protocol for the CPU demo (docs/checkpoints.md has the command, seed and time):
# ArcFace on the synthetic hr set (1,000 clean identities x 16 images at 32 x 32, seed 0), 12 epochs.
_register_pretrained(
    PretrainedWeights(
        backbone="small_vlr_net",
        tag="synthetic-hr",
        filename="small_vlr_net_synthetic_hr.pt",
        architecture={"input_size": (32, 32), "width": 64, "embedding_dim": 128},
        sha256="01c8cedb9b52fcff556b6ea50af8ecde1d0ef2973d0a27f97a40600e8756c063",
        description="small_vlr_net trained with ArcFace on the synthetic hr set (clean faces; synthetic)",
    )
)


def available_pretrained() -> dict[str, list[str]]:
    """Tags of the weights shipped in the package, per backbone name."""
    out: dict[str, list[str]] = {}
    for backbone, tag in sorted(_PRETRAINED):
        out.setdefault(backbone, []).append(tag)
    return out


def pretrained_weights(name: str, tag: str) -> PretrainedWeights:
    """What the package ships under ``create_backbone(name, pretrained=tag)``: its file, sha256 and the
    architecture arguments the weights were trained with (to rebuild the network without the file).

    Raises:
        TypeError: ``name`` or ``tag`` is not a str.
        ValueError: an unknown backbone name, or a tag not shipped for it (the message lists the tags).
    """
    key = canonical_backbone_name(name)
    if not isinstance(tag, str):
        raise TypeError(f"expected tag to be a str, got {type(tag).__name__}")
    weights = _PRETRAINED.get((key, tag))
    if weights is None:
        raise ValueError(
            f"expected a tag of the weights shipped for {key!r}, one of "
            f"{available_pretrained().get(key, [])}, got {tag!r}"
        )
    return weights


def _load_shipped(backbone: FaceBackbone, weights: PretrainedWeights) -> None:
    resource = resources.files("recognizability.backbones") / "weights" / weights.filename
    with resources.as_file(resource) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f"expected the shipped weights {weights.filename!r} for pretrained={weights.tag!r} at "
                f"{str(path)!r}; the installation is incomplete (reinstall the package)"
            )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != weights.sha256:
            raise CheckpointError(
                f"expected {str(path)!r} to have sha256 {weights.sha256}, got {digest}: the file was altered"
            )
        load_pretrained(backbone, path)


def available_backbones() -> list[str]:
    """Canonical backbone names accepted by :func:`create_backbone` (aliases not listed)."""
    return sorted(_FACTORIES)


def canonical_backbone_name(name: object, argument: str = "name") -> str:
    """The canonical name of the backbone ``name`` (an alias or any case accepted), checked.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: no backbone has that name; the message lists every name and alias.
    """
    if not isinstance(name, str):
        raise TypeError(f"expected {argument} to be a str, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _FACTORIES:
        raise ValueError(
            f"expected {argument} to be one of {available_backbones()} (or alias {sorted(_ALIASES)}), "
            f"got {name!r}"
        )
    return key


def create_backbone(name: str, *, pretrained: str | None = None, **kwargs: Any) -> FaceBackbone:
    """Build the backbone called ``name`` (or an alias), passing ``kwargs`` to its factory.

    Args:
        name: a name of :func:`available_backbones` or an alias.
        pretrained: a tag of :func:`available_pretrained` (weights shipped in the package); the architecture
            arguments of those weights are applied, and ``kwargs`` may only add others (e.g. ``dropout``).
            For a checkpoint file of your own use :func:`~recognizability.backbones.load_pretrained`.
        **kwargs: factory arguments; ``input_size=(H, W)`` (or an int, a square) is accepted by every
            backbone.

    Raises:
        TypeError: ``name`` or ``pretrained`` is not a str, ``input_size`` is not an int or a pair of ints, or
            an argument the factory does not take.
        ValueError: an unknown name or tag, an ``input_size`` the backbone cannot take, or an architecture
            argument that contradicts the pretrained weights.
    """
    key = canonical_backbone_name(name)
    if "input_size" in kwargs:
        kwargs = {**kwargs, "input_size": check_size_pair(kwargs["input_size"], "input_size")}
    weights = None
    if pretrained is not None:
        if not isinstance(pretrained, str):
            raise TypeError(f"expected pretrained to be a str tag, got {type(pretrained).__name__}")
        weights = _PRETRAINED.get((key, pretrained))
        if weights is None:
            raise ValueError(
                f"expected pretrained to be one of {available_pretrained().get(key, [])} for {key!r}, "
                f"got {pretrained!r}"
            )
        clashes = sorted(
            k for k in kwargs if k in weights.architecture and kwargs[k] != weights.architecture[k]
        )
        if clashes:
            fixed = {k: weights.architecture[k] for k in clashes}
            raise ValueError(
                f"expected the architecture of pretrained={pretrained!r} ({fixed}), got "
                f"{ {k: kwargs[k] for k in clashes} }"
            )
        kwargs = {**kwargs, **weights.architecture}
    factory = _FACTORIES[key]
    if "input_size" in kwargs and "input_size" not in inspect.signature(factory).parameters:
        size = kwargs.pop("input_size")
        if size != _FIXED_INPUT_SIZE:
            raise ValueError(f"expected input_size {_FIXED_INPUT_SIZE} for {key!r}, got {size!r}")
    backbone = factory(**kwargs)
    if weights is not None:
        _load_shipped(backbone, weights)
    return backbone
