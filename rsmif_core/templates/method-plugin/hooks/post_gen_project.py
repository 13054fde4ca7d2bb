"""Drop the files of options that were not chosen: configs of unsupported tasks, the own loss."""

from pathlib import Path

TASKS = [t.strip() for t in {{ cookiecutter.tasks | tojson }}.split(",") if t.strip()]
OWN_LOSS = {{ cookiecutter.default_loss | tojson }} == "own"
PACKAGE = {{ cookiecutter.package_name | tojson }}

for config in Path("src", PACKAGE, "configs").glob("*.yaml"):
    if not any(config.name.startswith(task + "-") or config.stem == task for task in TASKS):
        config.unlink()
if not OWN_LOSS:
    Path("src", PACKAGE, "losses.py").unlink()
    Path("tests", "test_loss.py").unlink()
