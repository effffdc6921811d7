"""The JSON API: one package per version (v1 under /api/v1)."""
