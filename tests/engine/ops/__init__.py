"""Tests of engine/ops."""
