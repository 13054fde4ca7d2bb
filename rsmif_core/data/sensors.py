"""Radiometric scale per sensor and sensor detection from PanCollection-style file names."""

from __future__ import annotations

import re
from pathlib import Path

# The largest DN of each sensor (11-bit WorldView/QuickBird/IKONOS, 10-bit GaoFen-2). PanCollection's
# own loaders use these; the authors' RAMSF loaders divide every sensor by 2047, which puts GF2 inputs in
# ~[0, 0.5]: pass ``max_value=2047`` to reproduce that.
SENSOR_MAX_VALUES: dict[str, float] = {
    "wv3": 2047.0,
    "wv2": 2047.0,
    "wv4": 2047.0,
    "qb": 2047.0,
    "ikonos": 2047.0,
    "geoeye1": 2047.0,
    "gf2": 1023.0,
}

_NAME_ALIASES: dict[str, str] = {
    "worldview3": "wv3", "worldview2": "wv2", "worldview4": "wv4", "quickbird": "qb",
    "gaofen2": "gf2", "geoeye": "geoeye1", "ge1": "geoeye1",
}
_TOKEN = re.compile(r"[a-z0-9]+")


def normalise_sensor(name: str) -> str:
    key = name.strip().lower().replace("-", "").replace("_", "")
    return _NAME_ALIASES.get(key, key)


def sensor_from_filename(path: str | Path) -> str | None:
    """The sensor named in a file name such as ``train_wv3.h5`` or ``test_gf2_OrigScale_multiExm1.h5``."""
    for token in _TOKEN.findall(Path(path).stem.lower()):
        token = _NAME_ALIASES.get(token, token)
        if token in SENSOR_MAX_VALUES:
            return token
    return None


def sensor_max_value(sensor: str) -> float | None:
    return SENSOR_MAX_VALUES.get(normalise_sensor(sensor))
