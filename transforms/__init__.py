"""SQL layers that turn the raw Sprout tables into marts, and their runner."""
