"""The embedded client: vqdb in process, with qdrant-client's methods (see embedded.py).

>>> import vqdb
>>> client = vqdb.Client(":memory:")
>>> client.get_collections().collections
[]
"""

from vqdb.client.embedded import Client

__all__ = ["Client"]
