"""Files: the write-ahead log and crash-safe writes of JSON and numpy arrays."""
