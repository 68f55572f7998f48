"""2-D maps of anchors: UMAP (cosine metric) when there are enough points, PCA otherwise."""

from __future__ import annotations

import threading

import numpy as np
import torch

MIN_UMAP_POINTS = 10  # umap-learn fails on 2-3 points and is unstable on a handful; PCA is exact there


def pca_2d(points: torch.Tensor) -> np.ndarray:
    centred = points.double() - points.double().mean(dim=0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ v[:2].T
    if coords.shape[1] < 2:
        coords = torch.cat([coords, torch.zeros(len(coords), 2 - coords.shape[1], dtype=coords.dtype)], dim=1)
    return coords.numpy()


def umap_2d(points: torch.Tensor, seed: int = 0) -> np.ndarray:
    import umap  # imported lazily: it compiles numba code on first use

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(15, len(points) - 1),
        metric="cosine",
        random_state=seed,
        init="random",
        n_jobs=1,
    )
    return reducer.fit_transform(points.double().numpy())


def project_2d(points: torch.Tensor, method: str = "auto") -> tuple[np.ndarray, str]:
    """Returns (coords, label of the method actually used)."""
    if method == "pca" or (method == "auto" and len(points) < MIN_UMAP_POINTS):
        reason = "" if method == "pca" else f" (fewer than {MIN_UMAP_POINTS} classes: too few for UMAP)"
        return pca_2d(points), f"PCA{reason}"
    return umap_2d(points), "UMAP (cosine)"


def warm_up_umap_in_background() -> threading.Thread:
    """UMAP spends seconds compiling on its first fit in a process: do it before a user waits."""

    def warm() -> None:
        umap_2d(torch.randn(20, 8))

    thread = threading.Thread(target=warm, name="umap-warm-up", daemon=True)
    thread.start()
    return thread
