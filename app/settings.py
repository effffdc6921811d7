"""Every limit and knob of the web app, in one frozen record.

Routes read it through the :func:`get_settings` dependency, so a test can swap in other
limits with ``app.dependency_overrides[get_settings] = lambda: Settings(max_batch=2)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    # --- sizes of arrays the API and the pages accept (checked, never clamped) ---
    max_elements: int = 4096  # numbers in any one array
    max_batch: int = 4  # N of an image batch (N, C, H, W), of (N, D) features, of logits/labels
    max_channels: int = 4  # C of (N, C, H, W)
    max_spatial: int = 16  # H and W of (N, C, H, W)
    max_filters: int = 4  # F of conv weights (F, C, KH, KW)
    max_kernel: int = 5  # KH and KW of conv weights
    max_features: int = 1024  # D of (N, D) and M of dense weights (D, M): 4·16·16 flattened
    max_classes: int = 32  # K of logits (N, K)
    # --- optimizers ---
    max_optimizer_steps: int = 500  # gradients sent, one per step
    max_optimizer_params: int = 8  # named parameter arrays
    max_optimizer_values: int = 50_000  # steps × parameter numbers: bounds the response size
    # --- HTTP ---
    max_body_bytes: int = 4 * 1024 * 1024  # request bodies above this answer 413
    gzip_minimum_size: int = 500  # bytes; smaller responses go out uncompressed
    gzip_level: int = 6  # 9 costs ~3x the CPU on plotly.js for 1% smaller output
    static_max_age: int = 31_536_000  # one year, for versioned (?v=) and vendored static files


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings in force (a FastAPI dependency; override it in tests)."""
    return Settings()
