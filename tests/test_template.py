"""The method-plugin template and ``rsmif new``.

The template is shipped completely inside the package, generates a plugin shaped like the shipped
ones, refuses bad names before writing anything (through ``rsmif new`` and through plain
cookiecutter), and — the issue's done-when — the generated plugin installs with pip, is listed by
``rsmif plugins --json``, trains with ``rsmif run`` and passes its own tests.
"""

from __future__ import annotations

import ast
import glob
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from rsmif_core.cli import cli
from rsmif_core.scaffold import generate_method_plugin, template_dir

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "rsmif_core" / "templates" / "method-plugin"

EXPECTED_FILES = {
    ".github/workflows/test.yml",
    ".gitignore",
    "LICENSE",
    "README.md",
    "pyproject.toml",
    "src/{pkg}/configs/pansharpening.yaml",
    "src/{pkg}/configs/pansharpening-wv3.yaml",
    "src/{pkg}/configs/pansharpening-qb.yaml",
    "src/{pkg}/configs/pansharpening-gf2.yaml",
    "src/{pkg}/configs/hyperspectral.yaml",
    "src/{pkg}/configs/hyperspectral-pavia.yaml",
    "src/{pkg}/configs/sar-optical.yaml",
    "src/{pkg}/configs/sar-optical-sen12mscr.yaml",
    "src/{pkg}/configs/ms-hs.yaml",
    "src/{pkg}/configs/ms-hs-cave.yaml",
    "src/{pkg}/__init__.py",
    "src/{pkg}/blocks.py",
    "src/{pkg}/losses.py",
    "src/{pkg}/model.py",
    "src/{pkg}/plugin.py",
    "src/{pkg}/py.typed",
    "tests/conftest.py",
    "tests/test_configs.py",
    "tests/test_loss.py",
    "tests/test_model.py",
    "tests/test_plugin.py",
    "tests/test_run.py",
}


@pytest.fixture(autouse=True)
def isolated_cookiecutter(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep cookiecutter's replay files and any user config out of the home folder."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(f"replay_dir: {home / 'replay'}\ncookiecutters_dir: {home / 'templates'}\n", encoding="utf-8")
    monkeypatch.setenv("COOKIECUTTER_CONFIG", str(config))
    monkeypatch.delenv("RSMIF_SCAFFOLD_CHECKED", raising=False)


def generated_files(project: Path) -> set[str]:
    return {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}


def forget_package(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


def test_repository_link_is_the_packaged_template() -> None:
    link = REPO / "templates" / "method-plugin"
    assert link.is_symlink(), "templates/method-plugin must link to the packaged template"
    assert os.readlink(link) == "../rsmif_core/templates/method-plugin"
    assert link.resolve() == TEMPLATE.resolve() == template_dir().resolve()


def test_package_data_ships_every_template_file() -> None:
    """The package-data globs (expanded the way setuptools does) reach hidden files and folders too."""
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["rsmif_core"]
    package = REPO / "rsmif_core"
    shipped = {
        Path(found).relative_to(package).as_posix()
        for pattern in patterns
        for found in glob.glob(str(package / pattern), recursive=True)
        if Path(found).is_file()
    }
    template_files = {
        p.relative_to(package).as_posix()
        for p in TEMPLATE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "templates/method-plugin/{{cookiecutter.project_slug}}/.github/workflows/test.yml" in template_files
    assert not template_files - shipped, f"not shipped in the wheel: {sorted(template_files - shipped)}"


def test_generates_a_plugin_shaped_like_the_shipped_ones(tmp_path: Path) -> None:
    project = generate_method_plugin("layout_net", tmp_path, no_input=True, extra_context={"author_name": "A. Uthor"})
    assert project == tmp_path / "rsmif-layout-net"
    assert generated_files(project) == {f.format(pkg="rsmif_layout_net") for f in EXPECTED_FILES}

    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "cookiecutter" not in text and "{%" not in text, f"{path.name} was not fully rendered"
            if path.suffix == ".py":
                ast.parse(text, filename=str(path))

    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["build-system"]["requires"] == [f"setuptools>={GENERATED_SETUPTOOLS}"]
    meta = pyproject["project"]
    assert meta["name"] == "rsmif-layout-net" and meta["version"] == "0.1.0"
    assert meta["dependencies"] == ["rsmif", "torch"]
    assert meta["entry-points"]["rsmif"] == {"layout_net": "rsmif_layout_net.plugin"}
    assert meta["authors"][0]["name"] == "A. Uthor"

    workflow = (project / ".github" / "workflows" / "test.yml").read_text(encoding="utf-8")
    assert "${{ matrix.python-version }}" in workflow  # Actions syntax survived Jinja ({% raw %})
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "```bibtex" in readme and "@article{layout_net" in readme
    assert "Apache License" in (project / "LICENSE").read_text(encoding="utf-8")
    plugin = (project / "src" / "rsmif_layout_net" / "plugin.py").read_text(encoding="utf-8")
    assert '"layout_net_loss"' in plugin and "def register_losses" in plugin and "def register_configs" in plugin
    assert "configs/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["rsmif_layout_net"]
    for config in (project / "src" / "rsmif_layout_net" / "configs").glob("*.yaml"):
        tree = yaml.safe_load(config.read_text(encoding="utf-8"))
        assert "sensor" not in tree["eval"], f"{config.name}: the sensor comes from the data"
        assert config.read_text(encoding="utf-8").startswith("# layout_net: "), f"{config.name}: the description line"
        assert f"rsmif run layout_net:{config.stem} " in config.read_text(encoding="utf-8")
    assert "rsmif config list" in readme and "rsmif run layout_net:pansharpening" in readme
    assert "rsmif config copy layout_net:pansharpening my.yaml" in readme


def test_generated_plugin_passes_its_own_ruff_check(tmp_path: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    project = generate_method_plugin("lint_net", tmp_path, no_input=True)
    result = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=project, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_options_drop_what_was_not_chosen(tmp_path: Path) -> None:
    project = generate_method_plugin(
        "pan_only", tmp_path, no_input=True,
        extra_context={"tasks": "pansharpening", "default_loss": "l1", "license": "MIT"},
    )
    files = generated_files(project)
    configs = "src/rsmif_pan_only/configs/"
    assert {f for f in files if "/configs/" in f} == {
        f"{configs}pansharpening.yaml", f"{configs}pansharpening-wv3.yaml",
        f"{configs}pansharpening-qb.yaml", f"{configs}pansharpening-gf2.yaml",
    }
    assert "src/rsmif_pan_only/losses.py" not in files and "tests/test_loss.py" not in files
    assert "register_losses" not in (project / "src" / "rsmif_pan_only" / "plugin.py").read_text(encoding="utf-8")
    assert "name: l1" in (project / configs / "pansharpening.yaml").read_text(encoding="utf-8")
    assert '("pansharpening",)' in (project / "src" / "rsmif_pan_only" / "model.py").read_text(encoding="utf-8")
    assert (project / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_generated_model_fits_the_contract_on_ratio_1_with_a_2_band_guide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imported from its folder (no install): the generated network is a working FusionModel, not a stub."""
    from rsmif_core.testing import TASK_CASES, check_model_contract, make_batch, single_thread, train_briefly

    project = generate_method_plugin("contract_net", tmp_path, no_input=True)
    monkeypatch.syspath_prepend(str(project / "src"))
    try:
        with single_thread():  # tiny tensors: a second thread only adds contention
            model_cls = importlib.import_module("rsmif_contract_net.model").ContractNet
            loss_cls = importlib.import_module("rsmif_contract_net.losses").ContractNetLoss
            case = TASK_CASES["sar-optical"]
            check_model_contract(model_cls, case, size=12, hyper={"channels": 8, "num_blocks": 1})
            model = model_cls(case.spectral_bands, case.guide_bands, case.ratio, channels=8, num_blocks=1)
            first, last = train_briefly(model, loss_cls(), make_batch(case, size=12), steps=10, lr=3e-3)
            assert last < first
    finally:
        forget_package("rsmif_contract_net")


def make_installed_distribution(site: Path, name: str) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("My-Net", "is not a valid name"),
        ("2net", "is not a valid name"),
        ("class", "is not a valid name"),
        ("pnn", "already registered by rsmif"),
        ("core", "'rsmif_core' is already importable"),
        ("clash", "'rsmif-clash' is already installed"),
    ],
)
def test_rsmif_new_refuses_bad_names_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, reason: str
) -> None:
    site = tmp_path / "site"
    make_installed_distribution(site, "rsmif-clash")
    monkeypatch.syspath_prepend(str(site))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["new", "method", name, "--no-input", "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    assert reason in result.output
    assert not out.exists(), "nothing may be written for a refused name"


def test_rsmif_new_refuses_an_existing_folder_and_unknown_tasks(tmp_path: Path) -> None:
    (tmp_path / "rsmif-taken").mkdir()
    result = CliRunner().invoke(cli, ["new", "method", "taken", "--no-input", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "already exists" in result.output
    result = CliRunner().invoke(cli, ["new", "method", "fine", "--no-input", "-o", str(tmp_path), "--tasks", "pansharpening,radar"])
    assert result.exit_code == 2 and "unknown: radar" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rsmif-taken"]


def test_rsmif_new_checks_names_changed_at_the_prompt(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    answers = "Bad-Name\n" + "\n" * 9  # a bad method name typed at the first prompt, defaults for the rest
    result = CliRunner().invoke(cli, ["new", "method", "fine_name", "--output-dir", str(out)], input=answers)
    assert result.exit_code == 2, result.output
    assert "nothing was written" in result.output
    assert "not a valid name" in capfd.readouterr().err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(("name", "reason"), [("My-Net", "not a valid name"), ("pnn", "already registered")])
def test_plain_cookiecutter_refuses_bad_names(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    with pytest.raises(FailedHookException):
        cookiecutter(str(REPO / "templates" / "method-plugin"), no_input=True,
                     extra_context={"method_name": name}, output_dir=str(tmp_path))
    assert reason in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == [], "the pre-generation hook must leave nothing behind"


# --- the issue's done-when: generate, pip install, discover, train with `rsmif run`, run the plugin's tests ---


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} exited with {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _rsmif_command() -> list[str]:
    script = Path(sys.executable).with_name("rsmif")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rsmif_core.cli"]


GENERATED_SETUPTOOLS = 77  # the generated pyproject.toml's build requirement (SPDX `license` string)


def _has_setuptools(major: int) -> bool:
    try:
        return int(metadata.version("setuptools").split(".")[0]) >= major
    except (metadata.PackageNotFoundError, ValueError):
        return False


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A freshly generated plugin, pip-installed into a folder of its own that only this test's commands see
    (``PYTHONPATH``): other tests running meanwhile never meet a half-installed plugin."""
    name = f"tplcheck{os.getpid()}"
    result = CliRunner().invoke(cli, ["new", "method", name, "--no-input", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    project = tmp_path / f"rsmif-{name}"
    site = tmp_path / "site"
    # Tiny tensors: one thread per process beats contention on a shared machine.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    env.pop("RSMIF_LOAD_PLUGINS", None)
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(project)]
    if _has_setuptools(GENERATED_SETUPTOOLS):
        pip.insert(-1, "--no-build-isolation")  # fast; the build backend the plugin asks for is already here
    try:
        _run(pip, env, tmp_path)
        yield name, project, env
    finally:
        forget_package(f"rsmif_{name}")


@pytest.mark.slow
def test_generated_plugin_installs_is_discovered_trains_and_passes_its_tests(
    installed_plugin: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    name, project, env = installed_plugin
    rsmif = _rsmif_command()

    listed = json.loads(_run([*rsmif, "plugins", "--json"], env, tmp_path).stdout)
    mine = [p for p in listed if p["distribution"] == f"rsmif-{name}"]
    assert mine, f"rsmif plugins --json does not list rsmif-{name}: {[p['distribution'] for p in listed]}"
    assert mine[0]["error"] is None
    configs = sorted(f"{name}:{p.stem}" for p in (project / "src" / f"rsmif_{name}" / "configs").glob("*.yaml"))
    registered = dict(mine[0]["registered"])
    assert sorted(registered.pop("configs")) == configs
    assert registered == {"models": [name], "losses": [f"{name}_loss"]}
    listed_configs = {r["name"] for r in json.loads(_run([*rsmif, "config", "list", "--json"], env, tmp_path).stdout)}
    assert set(configs) <= listed_configs

    run_dir = tmp_path / "run"
    _run([*rsmif, "run", f"{name}:pansharpening", "trainer.max_steps=3",
          f"trainer.output_dir={run_dir}", "trainer.progress=false", "data.test=null", "data.test_fr=null"], env, tmp_path)
    weights = run_dir / "model.safetensors"
    assert weights.is_file(), f"rsmif run wrote no {weights}"
    from safetensors.torch import load_file

    assert all(torch.isfinite(t).all() for t in load_file(str(weights)).values())

    _run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache"), "src", "tests"], env, project,
         timeout=600)
    _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")], env, project)
