"""Tiny sizes of each synthetic layout: trees that generate in a fraction of a second."""

from __future__ import annotations

__all__ = ["TINY"]

#: The smallest sizes each layout's generator accepts, per layout.
TINY = {
    "tinyface": dict(
        train_identities=3,
        train_images=6,
        test_identities=4,
        probe_identities=3,
        probe_images=4,
        gallery_images=5,
        distractor_images=3,
    ),
    "scface": dict(subjects=3, cameras=2),
    "survface": dict(
        train_identities=2,
        train_images=4,
        watchlist_identities=2,
        gallery_images=3,
        mated_probe_images=3,
        unmated_identities=2,
        unmated_probe_images=2,
        verification_pairs=2,
    ),
    "ui": dict(face_images=4, nonface_images=2),
}
