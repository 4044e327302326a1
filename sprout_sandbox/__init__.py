"""A local, faithful imitation of the Sprout Social public API."""
