"""Collections: config, segments, the write path, the optimizer."""
