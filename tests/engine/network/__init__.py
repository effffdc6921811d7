"""Tests of engine/network."""
