"""PyTorch CPU as an optional reference: imported if it is there, never a dependency."""

from __future__ import annotations

from typing import Any

_TORCH: Any = None
_TRIED = False


def load(threads: int | None = None) -> Any:
    """The torch module (its intra-op threads set to ``threads``), or None when it is not installed."""
    global _TORCH, _TRIED
    if not _TRIED:
        _TRIED = True
        try:
            import torch
        except ImportError:
            _TORCH = None
        else:
            _TORCH = torch
    if _TORCH is not None and threads is not None:
        _TORCH.set_num_threads(threads)
    return _TORCH


def describe(torch: Any) -> str:
    if torch is None:
        return "torch not installed: torch comparisons skipped (optional; never a project dependency)"
    return f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s)"
