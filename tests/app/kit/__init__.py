"""Tests of the web app: the shared lab kit."""
