"""Every command the docs show runs: the ```bash lines of README.md, CONTRIBUTING.md and plugins/*/README.md,
and their complete ```python snippets.

Each command runs in a throwaway "world" folder where the docs' placeholders are real files (``WORLD``: one
row per placeholder, saying how it is made). A command runs as written; ``FAST`` appends overrides that only
make it quick (a training budget of a step). A line that is neither run nor listed in ``SKIP`` (with the reason
and the place that covers it instead) fails ``test_every_documented_line_is_run_or_skipped``, so a new command
in the docs needs a way to run here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from rsmif_core.cli import cli

REPO = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "CONTRIBUTING.md", *sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("plugins/*/README.md")))
TIMEOUT = 300


# --- the docs' lines --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocLine:
    file: str
    line: int  # 1-based line of the command (its first line when continued with a backslash)
    text: str  # without the comment

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class DocBlock:
    file: str
    line: int  # the block's first code line
    code: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def strip_comment(line: str) -> str:
    """The line without a shell comment (a ``#`` at the start or after a blank, outside quotes)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def fenced_blocks(file: str) -> Iterator[tuple[str, int, list[str]]]:
    """(language, first code line, lines) of every fenced block of ``file``."""
    lang, start, body = None, 0, []
    for number, raw in enumerate((REPO / file).read_text(encoding="utf-8").splitlines(), 1):
        fence = re.match(r"\s*```(\w*)", raw)
        if fence and lang is None:
            lang, start, body = fence.group(1), number + 1, []
        elif fence:
            yield lang, start, body
            lang = None
        elif lang is not None:
            body.append(raw)


def bash_lines() -> list[DocLine]:
    found = []
    for file in DOCS:
        for lang, start, body in fenced_blocks(file):
            if lang != "bash":
                continue
            pending, first = "", 0
            for offset, raw in enumerate(body):
                text = strip_comment(raw)
                if not pending:
                    first = start + offset
                if text.endswith("\\"):
                    pending += text[:-1] + " "
                    continue
                command, pending = (pending + text).strip(), ""
                if command:
                    found.append(DocLine(file, first, command))
    return found


def python_blocks() -> list[DocBlock]:
    return [DocBlock(file, start, "\n".join(body)) for file in DOCS for lang, start, body in fenced_blocks(file)
            if lang == "python"]


# --- what is not run here, and what covers it instead ----------------------------------------------------


@dataclass(frozen=True)
class Skip:
    reason: str
    evidence: tuple[tuple[str, str], ...] = ()  # (file, text it must contain): where the line is covered instead


QUICKSTART_1 = ('pip install torch==2.13.0 -e ".[dev]" -e plugins/rsmif-ramsf -e plugins/rsmif-cf2n -e plugins/rsmif-mmapp '
                "-e plugins/rsmif-rsanet -e plugins/rsmif-classical && rsmif run configs/quickstart.yaml")
CI_QUICKSTART = (".ci/run", 'awk \'/^## Quick start/')
INSTALL = "installs packages into the environment the tests run in"
TEMPLATE_PLUGIN = ("needs the generated plugin pip-installed; tests/test_template.py generates one, installs it, "
                   "trains it with `rsmif run NAME:pansharpening` and runs its tests")

# (file, command as written without its comment) -> why it is not run here. Keep this list short.
SKIP: dict[tuple[str, str], Skip] = {
    ("README.md", QUICKSTART_1): Skip(
        "Quick start 1: installs, then trains the quick start for a minute; .ci/run runs it in a fresh environment "
        "and tests/test_train_quickstart.py trains configs/quickstart.yaml",
        (CI_QUICKSTART, ("tests/test_train_quickstart.py", '"configs" / "quickstart.yaml"'))),
    ("README.md", "python -m pytest -n 2 -q"): Skip("Quick start 2: the test suite itself; .ci/run runs it",
                                                   (CI_QUICKSTART,)),
    ("CONTRIBUTING.md", "git clone https://github.com/rsmif/rsmif && cd rsmif"): Skip(
        "downloads the repository; these tests run in a checkout of it"),
    ("CONTRIBUTING.md", "pip install torch --index-url https://download.pytorch.org/whl/cpu"): Skip(INSTALL),
    ("CONTRIBUTING.md", 'pip install -e ".[dev]" -e plugins/rsmif-ramsf -e plugins/rsmif-cf2n -e plugins/rsmif-mmapp '
                        "-e plugins/rsmif-rsanet"): Skip(INSTALL),
    ("CONTRIBUTING.md", "python -m pytest -n 2 -q"): Skip("the test suite itself (README's Quick start 2); .ci/run runs it",
                                                         (CI_QUICKSTART,)),
    ("CONTRIBUTING.md", "ruff check . && mypy rsmif_core && lint-imports"): Skip(
        "lint and type checks of the whole repository; .ci/run runs all three",
        ((".ci/run", "ruff check ."), (".ci/run", "mypy rsmif_core"), (".ci/run", "lint-imports"))),
    ("CONTRIBUTING.md", ".ci/run"): Skip("CI itself: makes fresh virtual environments and downloads torch"),
    ("CONTRIBUTING.md", 'pip install -e ".[test]"'): Skip(INSTALL),
    ("CONTRIBUTING.md", "pytest"): Skip(TEMPLATE_PLUGIN, (("tests/test_template.py", '"-m", "pytest"'),)),
    ("CONTRIBUTING.md", "rsmif run mynet:pansharpening"): Skip(
        TEMPLATE_PLUGIN, (("tests/test_template.py", '"run", f"{name}:pansharpening"'),)),
    ("CONTRIBUTING.md", "rsmif config copy mynet:pansharpening my.yaml"): Skip(
        TEMPLATE_PLUGIN, (("tests/test_template.py", '"config", "list"'),)),
    **{(f"plugins/rsmif-{name}/README.md", f"pip install plugins/rsmif-{name}"): Skip(INSTALL)
       for name in ("ramsf", "cf2n", "mmapp", "rsanet", "classical")},
}

# ```python blocks that are parts of a file, not programs: (file, first code line) -> why they are not executed
# (they are still compiled).
PYTHON_SKIP: dict[tuple[str, str], str] = {
    ("CONTRIBUTING.md", "from rsmif_core.testing import TASK_CASES, check_model_contract, check_plugin_discovery, "
                        "make_batch, train_briefly"): "a plugin's test file, about its own MyNet and installed distribution "
                                                      "(tests/test_template.py runs a generated plugin's tests)",
    ("CONTRIBUTING.md", "@rsmif_core.hookimpl"): "a fragment of a plugin module (MyCollection is the reader's own class)",
}

# A snippet that uses ``batch`` without making it gets one of this geometry (rsmif_core.testing.TASK_CASES).
PYTHON_BATCH = {"plugins/rsmif-classical/README.md": "pansharpening-qb"}  # default: pansharpening-wv3


# --- the world: every placeholder of the docs, made real -------------------------------------------------


def rsmif(world: Path, *args: str) -> None:
    """Run ``rsmif ARGS`` in ``world`` while building it."""
    with inside(world):
        result = CliRunner(env={"HOME": str(world / "home")}).invoke(cli, list(args))  # cookiecutter writes there
    assert result.exit_code == 0, f"rsmif {' '.join(args)}:\n{result.output}"


@contextmanager
def inside(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def quick_config(world: Path) -> None:
    """configs/quickstart.yaml with a budget of two steps (the commands' own overrides still apply)."""
    import yaml

    cfg = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text(encoding="utf-8"))
    cfg["trainer"].update(max_steps=2, val_every=2, checkpoint_every=1, log_every=1, output_dir="runs/cfg")
    (world / "cfg.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def link(target: Path, name: str) -> Callable[[Path], None]:
    def make(world: Path) -> None:
        (world / name).parent.mkdir(parents=True, exist_ok=True)
        (world / name).symlink_to(target)
    return make


def copy(source: str, name: str) -> Callable[[Path], None]:
    def make(world: Path) -> None:
        (world / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (world / source).is_dir() else shutil.copy2)(world / source, world / name)
    return make


def pancollection_wv3(world: Path) -> None:
    """Tiny PanCollection-format WV3 files where the plugins' pansharpening-wv3.yaml configs look for them."""
    from data.fixtures import write_pancollection

    folder = world / "data" / "pancollection" / "wv3"
    write_pancollection(folder / "train_wv3.h5", n=2, bands=8, size=16, seed=0)
    write_pancollection(folder / "valid_wv3.h5", n=1, bands=8, size=16, seed=1)
    write_pancollection(folder / "test_wv3_multiExm1.h5", n=2, bands=8, size=64, seed=2)
    write_pancollection(folder / "test_wv3_OrigScale_multiExm1.h5", full=True, n=2, bands=8, size=64, seed=3)


def scene_pair(pan_name: str, ms_name: str, height: int, width: int, ratio: int, bands: int, max_value: int,
               dtype: type) -> Callable[[Path], None]:
    """A georeferenced PAN/MS GeoTIFF pair (UTM 31N, PAN pixels 0.5 m), no pixel at 0 (no no-data)."""
    def make(world: Path) -> None:
        from _scenes import ORIGIN, PAN_PIXEL, scene_arrays, write_tif
        from rasterio.transform import Affine

        pan, ms = scene_arrays(height, width, ratio, bands, max_value=max_value)
        x0, y0 = ORIGIN
        write_tif(world / pan_name, np.maximum(pan, 1).astype(dtype), Affine(PAN_PIXEL, 0, x0, 0, -PAN_PIXEL, y0))
        pixel = PAN_PIXEL * ratio
        write_tif(world / ms_name, np.maximum(ms, 1).astype(dtype), Affine(pixel, 0, x0, 0, -pixel, y0))
    return make


def reference_folder(world: Path) -> None:
    """gt/scene.tif: a reference for out/scene.tif, a plain GeoTIFF recording nothing (as any tool writes)."""
    import rasterio

    with rasterio.open(world / "out" / "scene.tif") as src:
        fused, profile = src.read().astype(np.float64), src.profile
    rng = np.random.default_rng(0)
    (world / "gt").mkdir()
    with rasterio.open(world / "gt" / "scene.tif", "w", **profile) as dst:
        dst.write(np.clip(fused + rng.normal(0, 20, fused.shape), 1, 2047).astype(np.uint16))


def sar_run(world: Path) -> None:
    """runs/sar: a SAR-optical run folder (PNN, 2 guide + 13 spectral bands, ratio 1; untrained weights) and a
    Sentinel-1 / cloudy Sentinel-2 GeoTIFF pair for it."""
    from _scenes import write_tif
    from rasterio.transform import Affine

    from rsmif_core.config.load import to_yaml
    from rsmif_core.config.schema import ModelSection, RunConfig
    from rsmif_core.models.weights import save_weights
    from rsmif_core.plugins.factory import create_model

    torch.manual_seed(0)
    net = create_model("pnn", spectral_bands=13, guide_bands=2, ratio=1)
    cfg = RunConfig(model=ModelSection(name="pnn", args=dict(net.arguments)))
    cfg.trainer.output_dir = "runs/sar"
    cfg.data.test_fr = {"name": "sample", "args": {"task": "sar-optical", "split": "test_fr"}}  # type: ignore[assignment]
    folder = world / "runs" / "sar"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(to_yaml(RunConfig.model_validate(cfg.model_dump())), encoding="utf-8")
    save_weights(net, folder / "model.safetensors", "pnn", {"step": 0})
    rng = np.random.default_rng(0)
    grid = Affine(10.0, 0, 500000.0, 0, -10.0, 5000000.0)
    write_tif(world / "S1.tif", rng.uniform(-25, 0, (2, 64, 64)).astype(np.float32), grid)
    write_tif(world / "S2_cloudy.tif", rng.integers(1, 10000, (13, 64, 64)).astype(np.uint16), grid)


def generated_plugin(world: Path) -> None:
    rsmif(world, "new", "method", "mynet", "--no-input", "-o", str(world / "home" / "code"))


def authors_checkpoint(world: Path, command: list[str]) -> None:
    """authors.pth for the method the command converts: the authors' DataParallel training checkpoint
    ({'net': state_dict with 'module.' names}); their parameter names are RSMIF's (see each plugin's README)."""
    from rsmif_core.plugins.factory import create_model

    method = command[command.index("convert-weights") + 1]
    state = create_model(method, spectral_bands=8, guide_bands=1, ratio=4).state_dict()
    torch.save({"epoch": 1, "net": {f"module.{k}": v for k, v in state.items()}}, world / "authors.pth")


def interrupted_run(world: Path, command: list[str]) -> None:
    """For ``--resume``: cfg.yaml's run stopped after one of its two steps, with a checkpoint to continue."""
    rsmif(world, "run", "cfg.yaml", "trainer.max_steps=1", "data.test=null", "data.test_fr=null")


# placeholder (as the docs write it) -> how the world makes it. Rows run in order; later rows may use earlier ones.
WORLD: dict[str, Callable[[Path], None]] = {
    "cfg.yaml": quick_config,
    "configs": link(REPO / "configs", "configs"),
    "plugins": link(REPO / "plugins", "plugins"),
    "data/pancollection/wv3": pancollection_wv3,
    "train_wv3.h5": copy("data/pancollection/wv3/train_wv3.h5", "train_wv3.h5"),
    "runs/x": lambda world: rsmif(world, "run", "cfg.yaml", "trainer.output_dir=runs/x"),
    "runs/a": copy("runs/x", "runs/a"),
    "runs/b": copy("runs/x", "runs/b"),
    "runs/quickstart": copy("runs/x", "runs/quickstart"),
    "w.safetensors": copy("runs/x/model.safetensors", "w.safetensors"),
    "results/exp_rr": lambda world: rsmif(world, "test", "configs/quickstart.yaml", "model.name=exp", "--type", "rr",
                                          "--save", "tif", "--out", "results/exp_rr"),
    "results/gs_rr": lambda world: rsmif(world, "test", "configs/quickstart.yaml", "model.name=gs", "--type", "rr",
                                         "--save", "tif", "--out", "results/gs_rr"),
    # PAN.tif/MS.tif: the scene for runs/x (trained on the Landsat-7 sample: 6 bands, ratio 2, 8-bit)
    "PAN.tif + MS.tif": scene_pair("PAN.tif", "MS.tif", 128, 160, 2, 6, 255, np.uint8),
    # pan.tif/ms.tif: an 8-band WorldView scene of 11-bit DN, ratio 4, large enough for `data simulate`'s splits
    "pan.tif + ms.tif": scene_pair("pan.tif", "ms.tif", 768, 512, 4, 8, 2047, np.uint16),
    "out/": lambda world: rsmif(world, "predict", "exp", "--pan", "pan.tif", "--ms", "ms.tif", "--out", "out/scene.tif",
                                "--sensor", "wv3", "--no-progress"),
    "gt/": reference_folder,
    "runs/sar + S1.tif + S2_cloudy.tif": sar_run,
}

# Made for each command that names them (they depend on the command, or would be in other commands' way).
PER_COMMAND: dict[str, Callable[[Path, list[str]], None]] = {
    "authors.pth": authors_checkpoint,
    "--resume": interrupted_run,
    "~/code/rsmif-mynet": lambda world, command: generated_plugin(world),
}

# What a command's output must say besides exiting 0, where exiting 0 alone would not show the documented effect.
SAYS = {"--resume": "resumed from"}

# Arguments the docs abbreviate as "…": option -> what it stands for in the world.
ELLIPSIS = {"--pan": "PAN.tif", "--ms": "MS.tif", "--out": "fused.tif"}

# (pattern of a command, overrides appended to it): what only makes a documented command quick here.
FAST: list[tuple[str, list[str]]] = [
    (r"^rsmif run (plugins/rsmif-[a-z0-9]+/configs/|[a-z0-9-]+:[a-z0-9-]+)",  # a plugin's config file or shipped name
     ["trainer.max_steps=1", "data.train.batch_size=1", "data.test=null", "data.test_fr=null"]),
    (r"^rsmif adapt ", ["--steps", "2", "--val-every", "1"]),
    (r"^python -m pytest", ["--collect-only", "-p", "no:cacheprovider"]),  # the documented selection collects
]

# Commands that the docs run in the repository's root rather than in a project folder.
IN_REPOSITORY = (r"^python -m pytest",)
SHELL = re.compile(r"&&|\|\||[|;<>$~`]|^cd ")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("docs-world")
    (world / "home").mkdir()
    for make in WORLD.values():
        make(world)
    return world


@pytest.fixture
def world(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template for one command (commands write into it)."""
    folder = tmp_path / "world"
    shutil.copytree(template, folder, symlinks=True)
    return folder


# --- running one line -------------------------------------------------------------------------------------


def command_words(line: DocLine) -> list[str]:
    words = shlex.split(line.text)
    for i, word in enumerate(words):
        if word == "…" and i > 0 and words[i - 1] in ELLIPSIS:
            words[i] = ELLIPSIS[words[i - 1]]
    for pattern, extra in FAST:
        if re.search(pattern, line.text):
            words += extra
    return words


def runnable(line: DocLine) -> bool:
    return line.text.split()[0] in ("rsmif", "python", "cd") or bool(SHELL.search(line.text))


def prepare(world: Path, words: list[str]) -> None:
    for token, make in PER_COMMAND.items():
        if token in words:
            make(world, words)
    if "--out" in words:  # what the command writes must not be there yet
        out = world / words[words.index("--out") + 1]
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()


def run_line(line: DocLine, world: Path) -> tuple[int, str]:
    words = command_words(line)
    prepare(world, words)
    env = {**os.environ, "HOME": str(world / "home"), "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if SHELL.search(line.text):
        text = " ".join([line.text, *map(shlex.quote, words[len(shlex.split(line.text)):])])
        done = subprocess.run(["bash", "-c", text], cwd=world, env=env, input="\n" * 20, capture_output=True,
                              text=True, timeout=TIMEOUT)
        return done.returncode, done.stdout + done.stderr
    if words[0] == "rsmif":
        with inside(world):
            result = CliRunner(env={"HOME": env["HOME"]}).invoke(cli, words[1:], input="\n" * 20)
        return result.exit_code, result.output
    cwd = REPO if any(re.search(p, line.text) for p in IN_REPOSITORY) else world
    done = subprocess.run([sys.executable, *words[1:]] if words[0] == "python" else words, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    return done.returncode, done.stdout + done.stderr


LINES = bash_lines()
BLOCKS = python_blocks()


def test_the_docs_have_commands() -> None:
    files = {line.file for line in LINES}
    assert {"README.md", "CONTRIBUTING.md"} <= files and len(files) == len(DOCS), files
    assert any(b.file == "README.md" for b in BLOCKS)


def test_every_documented_line_is_run_or_skipped() -> None:
    neither = [f"{line.id}: {line.text}" for line in LINES if (line.file, line.text) not in SKIP and not runnable(line)]
    assert not neither, ("documented commands that this test neither runs nor skips (teach run_line to run them, or "
                         "add them to SKIP with the reason):\n" + "\n".join(neither))


def test_the_skip_lists_name_only_documented_lines() -> None:
    documented = {(line.file, line.text) for line in LINES}
    assert not set(SKIP) - documented, f"SKIP entries that no doc shows any more: {sorted(set(SKIP) - documented)}"
    firsts = {(b.file, b.code.splitlines()[0]) for b in BLOCKS}
    assert not set(PYTHON_SKIP) - firsts, f"stale PYTHON_SKIP entries: {sorted(set(PYTHON_SKIP) - firsts)}"


@pytest.mark.slow
@pytest.mark.parametrize("line", LINES, ids=[line.id for line in LINES])
def test_documented_command_runs(line: DocLine, request: pytest.FixtureRequest) -> None:
    skip = SKIP.get((line.file, line.text))
    if skip is not None:
        for file, text in skip.evidence:
            assert text in (REPO / file).read_text(encoding="utf-8"), f"{line.id} is skipped because {file} covers " \
                                                                     f"it, but {file} no longer holds {text!r}"
        pytest.skip(skip.reason)
    world = request.getfixturevalue("world")
    status, output = run_line(line, world)
    assert status == 0, f"{line.id}: `{line.text}` exited with {status}:\n{output[-4000:]}"
    for token, text in SAYS.items():
        assert token not in line.text.split() or text in output, f"{line.id}: no {text!r} in the output:\n{output[-4000:]}"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_documented_python_runs(block: DocBlock) -> None:
    code = compile(block.code, block.id, "exec")
    reason = PYTHON_SKIP.get((block.file, block.code.splitlines()[0]))
    if reason is not None:
        pytest.skip(reason)
    from rsmif_core.testing import TASK_CASES, make_batch

    namespace: dict[str, object] = {"__name__": "__doc_snippet__"}
    if "batch" in code.co_names and not re.search(r"^batch\s*=", block.code, re.M):  # used, never made
        namespace["batch"] = make_batch(TASK_CASES[PYTHON_BATCH.get(block.file, "pansharpening-wv3")], size=32)
    exec(code, namespace)  # noqa: S102 - the docs' own snippet
    if "batch" in namespace:  # what the snippet computes from the batch: an image of its shape, a finite loss
        fused = namespace.get("fused", getattr(namespace.get("out"), "fused", None))
        assert isinstance(fused, torch.Tensor) and fused.shape == namespace["batch"].lms.shape  # type: ignore[attr-defined]
        loss = namespace.get("loss")
        assert loss is None or bool(torch.isfinite(loss.total))  # type: ignore[attr-defined]
