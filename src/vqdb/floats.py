"""float32 values as Qdrant writes them in JSON: by their shortest decimal.

Rust prints an f32 with the fewest digits that read back as the same f32, so a stored 0.15 comes
back as 0.15. Python widens a float32 to the double it equals exactly (0.15000000596046448)
and json writes every digit of that. `decimal_floats` widens each value to the double its
shortest decimal names instead, so json writes that decimal (the native core finds it with
C++'s `to_chars`, which picks the digits as Rust does).

    >>> import numpy as np
    >>> decimal_floats(np.array([0.15, -3.0, 1e-3, 123456.79], dtype=np.float32)).tolist()
    [0.15, -3.0, 0.001, 123456.79]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.native import _core


def decimal_floats(values: Any) -> npt.NDArray[np.float64]:
    exact = np.ascontiguousarray(values, dtype=np.float32)
    if exact.ndim == 1:  # a page's scores
        flat: npt.NDArray[np.float64] = _core.shortest_doubles(exact)
        return flat
    shown: npt.NDArray[np.float64] = _core.shortest_doubles(exact.reshape(-1))
    return shown.reshape(exact.shape)
