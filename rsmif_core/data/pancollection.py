"""PanCollection h5 files (``train_<s>.h5``, ``valid_<s>.h5``, ``test_<s>_multiExm1.h5``,
``test_<s>_OrigScale_multiExm1.h5``): keys ``gt/ms/lms/pan``, N×C×H×W, float64 DN.

Differs from the authors' loaders (RAMSF ``data/data_msip.py``): the scale comes from the sensor
(WV3/QB/WV2 2047, GF2 1023) instead of ``/2047`` for every sensor; ``max_value=2047`` reproduces theirs.
Full-resolution files (no ``gt``) give items without ``gt`` instead of a separate loader class.
"""

from __future__ import annotations

import h5py

from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import H5FusionDataset
from rsmif_core.data.sensors import (
    SENSOR_MAX_VALUES,
    normalise_sensor,
    sensor_from_filename,
    sensor_max_value,
)


class PanCollection(H5FusionDataset):
    """One PanCollection-format h5 file (multispectral pansharpening).

    ``sensor``: wv3, wv2, qb, gf2 … (default: from the file attribute ``sensor`` written by
    ``rsmif data simulate``, else from the file name). ``max_value``: the radiometric scale (default:
    the file attribute ``max_value``, else from the sensor). ``crop``: guide-grid crop size;
    random with ``augment=True`` (plus flips and 90° rotations), centred otherwise.
    """

    collection = "pancollection"
    # where the files come from (named when a configured file is missing)
    source = "https://github.com/liangjiandeng/PanCollection"
    task = "pansharpening"
    roles = {"gt": "gt", "ms": "ms", "lms": "lms", "pan": "pan"}

    def _configure(self, f: h5py.File) -> None:
        attrs = f.attrs
        sensor = self._sensor_arg
        if sensor is None and "sensor" in attrs:
            sensor = str(_text(attrs["sensor"]))
        if sensor is None:
            sensor = sensor_from_filename(self.path)
        if sensor is None:
            raise DataError(
                self.path,
                f"cannot tell the sensor from the file name; pass sensor= (one of {', '.join(SENSOR_MAX_VALUES)} "
                f"or any name together with max_value=)",
            )
        self.sensor = normalise_sensor(sensor)
        if self._max_value_arg is not None:
            max_value = float(self._max_value_arg)
        elif "max_value" in attrs:
            max_value = float(attrs["max_value"])
        else:
            found = sensor_max_value(self.sensor)
            if found is None:
                raise DataError(
                    self.path,
                    f"no known radiometric scale for sensor {self.sensor!r}; pass max_value= "
                    f"(known: {', '.join(f'{k} {v:g}' for k, v in SENSOR_MAX_VALUES.items())})",
                )
            max_value = found
        if max_value <= 0:
            raise DataError(self.path, f"max_value must be positive, found {max_value:g}")
        self.max_value = max_value


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
