"""Tests of the web app: api."""
