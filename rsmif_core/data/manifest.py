"""``rsmif-data.yaml``: what ``rsmif data simulate`` wrote into a folder, and how a run reads it back.

The manifest records the sensor, the ratio, the MS MTF gains, the radiometric scale (``max_value``), the
protocol and its sizes, the source scenes, the file of every split with its item count, and the CRS and
affine transform of every test tile. :func:`dataset_sections` turns it into the four dataset sections of a
run configuration (``data=FOLDER``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsmif_core.data.errors import DataError

MANIFEST_NAME = "rsmif-data.yaml"
FORMAT = "rsmif-data/1"
SPLITS = ("train", "valid", "test", "test_fr")
# the manifest's split names -> the run configuration's data sections
CONFIG_SECTIONS = {"train": "train", "valid": "val", "test": "test", "test_fr": "test_fr"}
DATASET = "pancollection"


def split_file_names(name: str) -> dict[str, str]:
    """PanCollection's file names for the splits of a collection called ``name``."""
    return {"train": f"train_{name}.h5", "valid": f"valid_{name}.h5", "test": f"test_{name}_multiExm1.h5",
            "test_fr": f"test_{name}_OrigScale_multiExm1.h5"}


def manifest_text(manifest: Mapping[str, Any]) -> str:
    """The manifest as YAML: mappings in block style, lists of numbers or strings on one line."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
        flat = all(isinstance(v, (int, float, str, bool)) or v is None for v in value)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)

    Dumper.add_representer(list, represent_list)
    header = "# written by `rsmif data simulate`: the files of this folder and how they were made\n"
    return header + yaml.dump(dict(manifest), Dumper=Dumper, sort_keys=False, allow_unicode=True, width=120)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of ``folder``, checked: its format and a file for each split it lists."""
    import yaml

    folder = Path(folder).expanduser()
    if not folder.exists():
        raise DataError(folder, "no such folder")
    if not folder.is_dir():
        raise DataError(folder, f"expected a folder written by `rsmif data simulate` (holding {MANIFEST_NAME}), "
                        "found a file")
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise DataError(folder, f"no {MANIFEST_NAME} in this folder: it was not written by `rsmif data simulate` "
                        "(write one with `rsmif data simulate --out FOLDER`, or name each dataset in the run file)")
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(path, f"not a readable manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise DataError(path, f"expected a manifest of format {FORMAT!r}, found {found!r}")
    splits = manifest.get("splits")
    if not isinstance(splits, dict) or not splits:
        raise DataError(path, "the manifest lists no splits (key 'splits')")
    for split, entry in splits.items():
        if split not in SPLITS or not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise DataError(path, f"splits.{split}: expected one of {', '.join(SPLITS)} with a 'file' name")
        file = folder / entry["file"]
        if not file.is_file():
            raise DataError(folder, f"{MANIFEST_NAME} lists {entry['file']} (split {split}), which is missing")
    return manifest


def dataset_sections(folder: str | Path) -> dict[str, dict[str, Any]]:
    """The run configuration's data sections (``train``, ``val``, ``test``, ``test_fr``: ``{"name":
    "pancollection", "args": {"path": ...}}``) for the files listed in ``folder``'s manifest.

    A split the folder has no file for (validation, with ``--split 1``) has no section. Errors name the
    folder: no manifest, an unreadable one, a listed file that is missing.
    """
    folder = Path(folder).expanduser()
    manifest = read_manifest(folder)
    return {
        CONFIG_SECTIONS[split]: {"name": DATASET, "args": {"path": str((folder / entry["file"]).resolve())}}
        for split, entry in manifest["splits"].items()
    }
