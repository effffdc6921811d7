"""Tests of engine/optim."""
