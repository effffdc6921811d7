"""Tests of the web app: labs."""
