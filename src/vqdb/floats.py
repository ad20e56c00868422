"""float32 values as Qdrant writes them in JSON: by their shortest decimal.

Rust prints an f32 with the fewest digits that read back as the same f32, so a stored 0.15 comes
back as 0.15. Python widens a float32 to the double it equals exactly (0.15000000596046448)
and json writes every digit of that. `decimal_floats` widens each value to the double its
shortest decimal names instead, so json writes that decimal: the nearest decimal with 1, 2, ...
9 significant digits that rounds back to the same float32 is the shortest one there is.

    >>> import numpy as np
    >>> decimal_floats(np.array([0.15, -3.0, 1e-3, 123456.79], dtype=np.float32)).tolist()
    [0.15, -3.0, 0.001, 123456.79]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

_EXACT_POWERS = 22  # 10**k is exact in a double up to here, so n / 10**k is rounded once


_FEW = 32  # below this many values, numpy's own shortest repr per value costs less


def decimal_floats(values: Any) -> npt.NDArray[np.float64]:
    exact = np.asarray(values, dtype=np.float32)
    if exact.size <= _FEW:
        # str of a numpy float32 is its shortest round-tripping decimal (Dragon4, unique)
        shortest = [float(str(v)) for v in exact.reshape(-1)]
        return np.array(shortest, dtype=np.float64).reshape(exact.shape)
    wide = exact.astype(np.float64)
    flat = wide.reshape(-1)
    usable = np.isfinite(flat) & (flat != 0)
    magnitude = np.floor(np.log10(np.abs(np.where(usable, flat, 1.0))))
    # every candidate at once: row d - 1 keeps d significant digits
    places = _DIGITS - 1 - magnitude  # decimal places, (9, n)
    scale = 10.0 ** np.minimum(np.abs(places), _EXACT_POWERS)
    nearest = np.where(places >= 0, np.round(flat * scale) / scale, np.round(flat / scale) * scale)
    hit = (nearest.astype(np.float32) == exact.reshape(-1)) & (np.abs(places) <= _EXACT_POWERS)
    hit &= usable
    first = np.argmax(hit, axis=0)
    found = hit[first, np.arange(flat.shape[0])]
    out = np.where(found, nearest[first, np.arange(flat.shape[0])], flat)
    return out.reshape(wide.shape)


_DIGITS = np.arange(1, 10, dtype=np.float64)[:, None]
