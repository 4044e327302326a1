"""The dlt source for the Sprout Social public API."""
