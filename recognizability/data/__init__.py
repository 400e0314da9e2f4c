"""Dataset readers and batched transforms for very-low-resolution face recognition.

Readers (each a ``torch.utils.data.Dataset`` of ``(image uint8 (3, H, W) at stored size, label int)`` with
``.samples``, ``.report`` and ``.synthetic``):

- :class:`TinyFace` (``"train"``, ``"probe"``, ``"gallery"``, ``"distractor"``),
- :class:`SCFace` (``"train"``, ``"probe"``, ``"gallery"``),
- :class:`SurvFace` (``"train"``, ``"gallery"``, ``"mated_probe"``, ``"unmated_probe"``) and
  :func:`survface_verification_pairs`,
- :class:`ImageFolder` (any folder of images, e.g. a UI set, label -1; or, with ``identity_folders=True``, a
  folder of identity sub-folders labelled 0..N-1, e.g. clean faces to pretrain on).

Synthetic trees carry :data:`SYNTHETIC_MARKER` (``SYNTHETIC.txt``, the one definition of the name) and
:data:`METADATA_FILENAME` at their root; :func:`is_synthetic_tree` tells whether a root holds the marker.

Batched transforms live in :mod:`recognizability.data.transforms`. The synthetic benchmark generator is
:mod:`recognizability.data.synthetic` (imported on demand, not here). See ``docs/datasets.md``.
"""

from . import records, transforms
from ._base import FaceDataset
from ._images import IMAGE_EXTENSIONS, ImageDecodeError, decode_image, is_image_file, list_image_files
from ._mat import MatFormatError
from .folder import ImageFolder
from .metadata import METADATA_FILENAME, SYNTHETIC_MARKER, is_synthetic_tree
from .records import UNLABELLED, FaceRecord, ReadReport
from .scface import SCFace
from .survface import SurvFace, survface_verification_pairs
from .tinyface import TinyFace
from .transforms import EvalTransform, TrainAugmentation, collate_variable_size

__all__ = [
    "IMAGE_EXTENSIONS",
    "METADATA_FILENAME",
    "SYNTHETIC_MARKER",
    "UNLABELLED",
    "EvalTransform",
    "FaceDataset",
    "FaceRecord",
    "ImageDecodeError",
    "ImageFolder",
    "MatFormatError",
    "ReadReport",
    "SCFace",
    "SurvFace",
    "TinyFace",
    "TrainAugmentation",
    "collate_variable_size",
    "decode_image",
    "is_image_file",
    "is_synthetic_tree",
    "list_image_files",
    "records",
    "survface_verification_pairs",
    "transforms",
]
