"""The one pass over the images: feature maps and embeddings of a frozen recognizer, cached on disk.

:func:`embed_faces` decodes every labelled face once (and every UI image), runs the frozen backbone on it and
keeps what a fit needs: the feature map F and the embedding v of each face, the embedding of each UI image,
and, for the pseudo-UI set, the embedding of each chosen face degraded beyond recognition
(:func:`recognizability.data.transforms.degrade` to ``pseudo_ui_size`` pixels and back) -- from the same
decoded image, so even the pseudo-UI set costs no second read.

The results are written to cache folders in shards of :data:`SHARD_IMAGES` images, each moved into place
atomically (:func:`~recognizability._files.write_atomically`) as soon as it is complete, so an interrupted
pass resumes where it stopped and a second fit with the same backbone and images reads no image at all. The
faces and the UI images have folders of their own (a fit with another UI set, or none, reuses the faces'),
each named by a digest of everything its features depend on: the backbone weights' content (sha256), the
preprocessing and every image file's path, size and modification time; any change makes a new folder. A
faces shard records the pseudo-UI settings it was made with; one made without them (or with others) is made
again when a pseudo-UI set is asked for. Shards are read back with ``torch.load(weights_only=True)`` only
(:func:`~recognizability.backbones.read_checkpoint_file`); a shard that cannot be read or does not fit is
computed again.

Feature maps are kept (in memory and on disk) in float16 when every value fits its range, else in float32:
the fit reads the same values whether they were just computed or read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor, nn

from recognizability._files import write_atomically
from recognizability.backbones import CheckpointError, normalize_for, read_checkpoint_file
from recognizability.data import transforms as T
from recognizability.training.method.guards import evaluation_mode

from ..images import ImageBatch, UnreadableImage, image_batches
from ..model import Preprocessing

__all__ = ["CACHE_FORMAT", "SHARD_IMAGES", "FaceFeatures", "embed_faces", "pseudo_ui_positions"]

#: Layout version of the cache shards (part of the cache folder's digest).
CACHE_FORMAT = 1
#: Images per cache shard (the unit of resumption).
SHARD_IMAGES = 4096
_FLOAT16_MAX = 65504.0


@dataclass
class FaceFeatures:
    """What the frozen recognizer made of the labelled faces (and the UI images), readable ones only.

    Attributes:
        paths: the N readable faces, in the folder's order.
        labels: ``(N,)`` int64 identity labels (indices into ``identities``).
        identities: identity folder names.
        feature_maps: ``(N, C, h, w)`` float16 (float32 when a value exceeds float16's range).
        embeddings: ``(N, D)`` float32.
        ui_embeddings: ``(K, D)`` float32 embeddings of the readable UI images, or None.
        pseudo_ui_embeddings: ``(K', D)`` float32 embeddings of the degraded faces, or None.
        unreadable: the images skipped, and why.
        images_read: images decoded by this call (0 when everything came from the cache).
        cache: the faces' cache folder, or None.
    """

    paths: list[Path]
    labels: Tensor
    identities: list[str]
    feature_maps: Tensor
    embeddings: Tensor
    ui_embeddings: Tensor | None = None
    pseudo_ui_embeddings: Tensor | None = None
    unreadable: list[UnreadableImage] = field(default_factory=list)
    images_read: int = 0
    cache: Path | None = None

    def __len__(self) -> int:
        return len(self.paths)


def pseudo_ui_positions(faces: int, count: int) -> Tensor:
    """Positions of the faces degraded into the pseudo-UI set: ``min(faces, count)`` evenly spaced
    (``floor(k * faces / count)``), int64."""
    chosen = min(faces, count)
    return (torch.arange(chosen, dtype=torch.int64) * faces) // max(chosen, 1)


def _file_key(paths: Sequence[Path]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for path in paths:
        try:
            stat = path.stat()
            out.append([str(path.absolute()), stat.st_size, stat.st_mtime_ns])
        except OSError:
            out.append([str(path.absolute()), -1, -1])
    return out


def _cache_key(backbone_digest: str, preprocessing: Preprocessing, part: str, files: Sequence[Path]) -> str:
    """The cache folder name of one part (``"faces"`` or ``"ui"``) of a pass."""
    content = {
        "format": CACHE_FORMAT,
        "shard": SHARD_IMAGES,
        "backbone": backbone_digest,
        "preprocessing": preprocessing.to_dict(),
        "part": part,
        "files": _file_key(files),
    }
    return f"{part}-{hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]}"


def _storable(feature_map: Tensor) -> Tensor:
    """float16 when every value fits its range (then rounded), else float32."""
    if feature_map.numel() and float(feature_map.abs().max()) > _FLOAT16_MAX:
        return feature_map.float()
    return feature_map.half()


@dataclass(frozen=True)
class _Shard:
    part: str  # "faces" or "ui"
    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.part}-{self.index:05d}.pt"


@dataclass
class _ShardResult:
    indices: list[Tensor] = field(default_factory=list)
    embeddings: list[Tensor] = field(default_factory=list)
    feature_maps: list[Tensor] = field(default_factory=list)
    pseudo_indices: list[Tensor] = field(default_factory=list)
    pseudo_embeddings: list[Tensor] = field(default_factory=list)
    unreadable: list[list[str]] = field(default_factory=list)
    done: int = 0

    def payload(
        self, shard: _Shard, dim: int, feature_shape: tuple[int, ...], pseudo_ui: tuple[int, int] | None
    ) -> dict[str, Any]:
        def cat(items: list[Tensor], empty: Tensor) -> Tensor:
            return torch.cat(items) if items else empty

        payload: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "part": shard.part,
            "start": shard.start,
            "stop": shard.stop,
            "indices": cat(self.indices, torch.zeros(0, dtype=torch.int64)),
            "embeddings": cat(self.embeddings, torch.zeros(0, dim)),
            "unreadable": self.unreadable,
        }
        if shard.part == "faces":
            payload["feature_maps"] = cat(self.feature_maps, torch.zeros(0, *feature_shape).half())
            payload["pseudo_indices"] = cat(self.pseudo_indices, torch.zeros(0, dtype=torch.int64))
            payload["pseudo_embeddings"] = cat(self.pseudo_embeddings, torch.zeros(0, dim))
            payload["pseudo_ui"] = None if pseudo_ui is None else [int(pseudo_ui[0]), int(pseudo_ui[1])]
        return payload


def _read_shard(
    path: Path, shard: _Shard, dim: int, feature_shape: tuple[int, ...], pseudo_ui: tuple[int, int] | None
) -> dict[str, Any] | None:
    """A cached shard checked against what it must hold (with the pseudo-UI set asked for, if any), or None
    (then it is computed again)."""
    if not path.is_file():
        return None
    try:
        data = read_checkpoint_file(path, expected="a feature cache shard of recognizability fit-quality")
    except (CheckpointError, OSError):
        return None
    keys = {"format", "part", "start", "stop", "indices", "embeddings", "unreadable"}
    if shard.part == "faces":
        keys |= {"feature_maps", "pseudo_indices", "pseudo_embeddings", "pseudo_ui"}
    if not isinstance(data, dict) or not keys <= set(data):
        return None
    if (data["format"], data["part"], data["start"], data["stop"]) != (
        CACHE_FORMAT, shard.part, shard.start, shard.stop,
    ):  # fmt: skip
        return None
    indices, embeddings = data["indices"], data["embeddings"]
    if not (
        isinstance(indices, Tensor)
        and isinstance(embeddings, Tensor)
        and indices.dtype == torch.int64
        and embeddings.shape == (indices.numel(), dim)
        and isinstance(data["unreadable"], list)
        and indices.numel() + len(data["unreadable"]) == shard.stop - shard.start
        and bool(((indices >= shard.start) & (indices < shard.stop)).all())
    ):
        return None
    if shard.part == "faces":
        maps, pseudo, pseudo_v = data["feature_maps"], data["pseudo_indices"], data["pseudo_embeddings"]
        if not (
            isinstance(maps, Tensor)
            and tuple(maps.shape) == (indices.numel(), *feature_shape)
            and isinstance(pseudo, Tensor)
            and isinstance(pseudo_v, Tensor)
            and pseudo_v.shape == (pseudo.numel(), dim)
        ):
            return None
        if pseudo_ui is not None and data["pseudo_ui"] != [int(pseudo_ui[0]), int(pseudo_ui[1])]:
            return None  # made without (or with other) pseudo-UI faces
    return data


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="embedding", unit="img", dynamic_ncols=True, file=sys.stderr)


@torch.no_grad()
def embed_faces(
    backbone: nn.Module,
    preprocessing: Preprocessing,
    paths: Sequence[Path],
    labels: Sequence[int],
    identities: Sequence[str],
    *,
    backbone_digest: str,
    ui: Sequence[Path] | None = None,
    pseudo_ui: tuple[int, int] | None = None,
    cache: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    workers: int = 1,
    progress: bool = False,
) -> FaceFeatures:
    """Embed the labelled faces (and the UI images) once with a frozen backbone; cache the results.

    Args:
        backbone: the frozen recognizer (run in eval mode, without autograd; its modes are restored).
        preprocessing: how images reach it (:class:`~recognizability.deploy.Preprocessing`).
        paths, labels, identities: the labelled faces (``FOLDER/<identity>/<images>``), labels indexing
            ``identities``.
        backbone_digest: the sha256 of the backbone's weights (part of the cache folders' names).
        ui: UI image files, or None.
        pseudo_ui: ``(size, count)``: also embed at most ``count`` faces (:func:`pseudo_ui_positions`) shrunk
            to ``size`` x ``size`` pixels and enlarged back; None: no pseudo-UI set.
        cache: the cache root (folders named by their digests are made in it); None: nothing is cached.
        device: where the backbone runs. batch_size: images per forward pass. workers: background decoding
            processes. progress: a tqdm bar.

    Returns:
        :class:`FaceFeatures` of the readable images.
    """
    if len(paths) != len(labels):
        raise ValueError(f"expected one label per face, got {len(paths)} paths and {len(labels)} labels")
    faces, ui_paths = [Path(p) for p in paths], [Path(p) for p in (ui or [])]
    pseudo_size = None if pseudo_ui is None else int(pseudo_ui[0])
    dim = int(getattr(backbone, "embedding_dim"))  # noqa: B009 - a FaceBackbone attribute nn.Module lacks
    feature_shape = tuple(int(s) for s in getattr(backbone, "feature_shape"))  # noqa: B009
    folders: dict[str, Path] = {}
    if cache is not None:
        for part, files in (("faces", faces), ("ui", ui_paths)):
            folders[part] = Path(cache) / _cache_key(backbone_digest, preprocessing, part, files)
    shards = [
        _Shard(part, k, start, min(len(items), start + SHARD_IMAGES))
        for part, items in (("faces", faces), ("ui", ui_paths))
        for k, start in enumerate(range(0, len(items), SHARD_IMAGES))
    ]
    loaded: dict[_Shard, dict[str, Any]] = {}
    for shard in shards if folders else ():
        data = _read_shard(folders[shard.part] / shard.name, shard, dim, feature_shape, pseudo_ui)
        if data is not None:
            loaded[shard] = data
    missing = [s for s in shards if s not in loaded]
    work = _Work.of(missing, len(faces), pseudo_ui)
    for part in {s.part for s in missing} if folders else ():
        folders[part].mkdir(parents=True, exist_ok=True)
    bar = _progress(len(work), progress)
    pending = {s: _ShardResult() for s in missing}
    files = [faces[p] if missing[k].part == "faces" else ui_paths[p]
             for k, p in zip(work.shard_ids.tolist(), work.positions.tolist(), strict=True)]  # fmt: skip
    try:
        with evaluation_mode(backbone):
            for batch in image_batches(files, preprocessing, batch_size, workers):
                _embed_batch(backbone, batch, work, pending, torch.device(device), pseudo_size)
                for shard in [s for s, r in pending.items() if r.done == s.stop - s.start]:
                    payload = pending.pop(shard).payload(shard, dim, feature_shape, pseudo_ui)
                    loaded[shard] = payload
                    if folders:
                        write_atomically(folders[shard.part] / shard.name, _saver(payload))
                if bar is not None:
                    bar.update(len(batch.indices) + len(batch.unreadable))
    finally:
        if bar is not None:
            bar.close()
    return _assemble(shards, loaded, faces, labels, identities, bool(ui_paths), pseudo_ui is not None,
                     len(work), folders.get("faces"))  # fmt: skip


def _saver(payload: dict[str, Any]) -> Callable[[IO[bytes]], None]:
    """The writer :func:`~recognizability._files.write_atomically` calls: ``torch.save`` of ``payload``."""

    def save(handle: IO[bytes]) -> None:
        torch.save(payload, handle)

    return save


@dataclass(frozen=True)
class _Work:
    """The images to embed: for each, its shard (index into ``shards``) and its position in its part."""

    shards: list[_Shard]
    shard_ids: Tensor  # (W,) int64
    positions: Tensor  # (W,) int64
    pseudo_faces: Tensor  # (N,) bool: faces that also go into the pseudo-UI set

    @classmethod
    def of(cls, shards: list[_Shard], faces: int, pseudo_ui: tuple[int, int] | None) -> _Work:
        sizes = torch.tensor([s.stop - s.start for s in shards], dtype=torch.int64)
        shard_ids = torch.repeat_interleave(torch.arange(len(shards)), sizes)
        starts = torch.tensor([s.start for s in shards], dtype=torch.int64)
        offsets = torch.arange(int(sizes.sum())) - torch.repeat_interleave(
            torch.cumsum(sizes, 0) - sizes, sizes
        )
        pseudo_faces = torch.zeros(faces, dtype=torch.bool)
        if pseudo_ui is not None:
            pseudo_faces[pseudo_ui_positions(faces, pseudo_ui[1])] = True
        return cls(shards, shard_ids, starts[shard_ids] + offsets, pseudo_faces)

    def __len__(self) -> int:
        return int(self.shard_ids.numel())


def _embed_batch(
    backbone: nn.Module,
    batch: ImageBatch,
    work: _Work,
    pending: dict[_Shard, _ShardResult],
    device: torch.device,
    pseudo_size: int | None,
) -> None:
    """Run one decoded batch through the backbone and file its rows (and its unreadable images) under their
    shards (a batch spans at most a few shards)."""
    for index, item in zip(batch.unreadable_indices, batch.unreadable, strict=True):
        result = pending[work.shards[int(work.shard_ids[index])]]
        result.unreadable.append([item.path, item.reason])
        result.done += 1
    if not batch.indices:
        return
    images = batch.images.to(device)
    feature_map = backbone.forward_features(normalize_for(backbone, images.float()))  # type: ignore[operator]
    embeddings = backbone.forward_head(feature_map).float().cpu()  # type: ignore[operator]
    rows = torch.tensor(batch.indices, dtype=torch.int64)
    shard_ids, positions = work.shard_ids[rows], work.positions[rows]
    for shard_id in torch.unique(shard_ids).tolist():
        shard = work.shards[shard_id]
        mine = shard_ids == shard_id
        result = pending[shard]
        result.indices.append(positions[mine])
        result.embeddings.append(embeddings[mine])
        result.done += int(mine.sum())
        if shard.part != "faces":
            continue
        result.feature_maps.append(_storable(feature_map[mine.to(device)].cpu()))
        chosen = mine & work.pseudo_faces[positions.clamp(max=work.pseudo_faces.numel() - 1)]
        if pseudo_size is not None and bool(chosen.any()):
            degraded = T.degrade(images[chosen.to(device)], pseudo_size)
            result.pseudo_indices.append(positions[chosen])
            result.pseudo_embeddings.append(backbone(normalize_for(backbone, degraded.float())).float().cpu())


def _assemble(
    shards: Sequence[_Shard],
    loaded: dict[_Shard, dict[str, Any]],
    faces: Sequence[Path],
    labels: Sequence[int],
    identities: Sequence[str],
    has_ui: bool,
    has_pseudo: bool,
    images_read: int,
    folder: Path | None,
) -> FaceFeatures:
    """The shards' contents in the folder's order, as :class:`FaceFeatures`."""

    def gather(part: str, key: str) -> Tensor | None:
        items = [loaded[s][key] for s in shards if s.part == part]
        return torch.cat(items) if items else None

    indices = gather("faces", "indices")
    if indices is None or indices.numel() == 0:
        raise ValueError(f"expected readable face images, got none of {len(faces)}")
    maps = gather("faces", "feature_maps")  # float16, or float32 when a shard holds float32 (cat promotes)
    embeddings = gather("faces", "embeddings")
    if maps is None or embeddings is None:  # pragma: no cover - indices is not None, so neither are these
        raise ValueError("expected the cached feature maps and embeddings of the faces, found none")
    label_table = torch.tensor(list(labels), dtype=torch.int64)
    unreadable = [UnreadableImage(str(p), str(r)) for s in shards for p, r in loaded[s]["unreadable"]]
    ui_embeddings = gather("ui", "embeddings") if has_ui else None
    pseudo_embeddings = gather("faces", "pseudo_embeddings") if has_pseudo else None
    return FaceFeatures(
        paths=[faces[i] for i in indices.tolist()],
        labels=label_table[indices],
        identities=list(identities),
        feature_maps=maps,
        embeddings=embeddings.float(),
        ui_embeddings=None if ui_embeddings is None else ui_embeddings.float(),
        pseudo_ui_embeddings=None if pseudo_embeddings is None else pseudo_embeddings.float(),
        unreadable=unreadable,
        images_read=images_read,
        cache=folder,
    )
