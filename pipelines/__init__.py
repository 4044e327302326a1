"""The ``sprout-elt`` command: runnable pipelines around the Sprout source."""
