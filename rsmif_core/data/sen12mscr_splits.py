"""The official SEN12MS-CR scene splits (scene numbers per ROI folder), as listed by the ``SEN12MSCR``
loader of PatrickTUM/SEN12MS-CR-TS (``data/dataLoader.py``): 10 validation and 10 test scenes across the
four seasons; the training list is explicit there too (scenes in none of the lists are not used)."""

from __future__ import annotations

SEASONS = ("spring", "summer", "fall", "winter")

_TRAIN: dict[str, tuple[int, ...]] = {
    "ROIs1970_fall_s1": (3, 22, 148, 107, 1, 114, 135, 40, 42, 31, 149, 64, 28, 144, 57, 35, 133, 30, 134, 141, 112,
                         116, 37, 26, 77, 100, 83, 71, 93, 119, 104, 136, 6, 41, 125, 91, 131, 120, 110, 19, 14, 81,
                         39, 109, 33, 88, 11, 128, 142, 122, 4, 27, 147, 85, 82, 105),
    "ROIs1158_spring_s1": (9, 1, 124, 40, 101, 21, 134, 145, 141, 66, 8, 26, 77, 113, 100, 117, 119, 6, 58, 120, 110,
                           126, 115, 121, 39, 109, 63, 75, 132, 128, 142, 15, 45, 97, 147),
    "ROIs1868_summer_s1": (90, 87, 25, 124, 114, 135, 40, 101, 42, 31, 36, 139, 56, 133, 55, 43, 113, 100, 76, 123,
                           143, 93, 125, 89, 120, 126, 72, 115, 121, 146, 140, 95, 102, 7, 11, 132, 15, 137, 4, 27,
                           147, 86, 47),
    "ROIs2017_winter_s1": (68, 25, 62, 135, 42, 64, 21, 55, 112, 116, 8, 59, 49, 104, 81, 146, 75, 94, 102, 61, 47),
}
_VAL: dict[str, tuple[int, ...]] = {
    "ROIs2017_winter_s1": (22, 107, 130, 84),
    "ROIs1868_summer_s1": (19, 80, 127, 17),
    "ROIs1970_fall_s1": (65,),
    "ROIs1158_spring_s1": (17,),
}
_TEST: dict[str, tuple[int, ...]] = {
    "ROIs1158_spring_s1": (106, 123, 140, 31, 44),
    "ROIs1868_summer_s1": (119, 73),
    "ROIs1970_fall_s1": (139,),
    "ROIs2017_winter_s1": (108, 63),
}
SPLIT_TABLES = {"train": _TRAIN, "val": _VAL, "test": _TEST}


def split_scenes(split: str) -> set[tuple[str, int]] | None:
    """``{(s1 folder, scene number)}`` of a split; None for ``"all"`` (every scene found)."""
    if split == "all":
        return None
    return {(roi, n) for roi, scenes in SPLIT_TABLES[split].items() for n in scenes}
