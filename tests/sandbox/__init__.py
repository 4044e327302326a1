"""Tests of the Sprout API sandbox."""
