"""Indexes over vector sets: HNSW or plain scan, with the quantized search pipeline."""

from vqdb.index.vector_index import Index

__all__ = ["Index"]
