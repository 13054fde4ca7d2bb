"""Refuse unusable names before cookiecutter writes any file (plain ``cookiecutter`` path).

Cookiecutter has already made the empty project folder when this runs; it removes it when this
hook fails. ``rsmif new`` runs the same checks before calling cookiecutter and passes the names it checked
in the private variable ``_rsmif_checked`` (``rsmif_core.scaffold.checked_token``); they are not repeated
here unless they were changed at the prompt.
Without RSMIF in this interpreter (e.g. cookiecutter run through pipx) only the spelling of the
names is checked.
"""

import keyword
import re
import sys

METHOD = {{ cookiecutter.method_name | tojson }}
PACKAGE = {{ cookiecutter.package_name | tojson }}
DISTRIBUTION = {{ cookiecutter.project_slug | tojson }}
TASKS = {{ cookiecutter.tasks | tojson }}
OWN_LOSS = {{ cookiecutter.default_loss | tojson }} == "own"
CHECKED = {{ cookiecutter._rsmif_checked | tojson }}


def spelling_problems() -> list:
    problems = []
    if not re.fullmatch(r"[a-z][a-z0-9_]*", METHOD) or keyword.iskeyword(METHOD):
        problems.append(f"method name {METHOD!r} is not a valid name: use a lower-case Python identifier")
    if not PACKAGE.isidentifier() or keyword.iskeyword(PACKAGE) or PACKAGE != PACKAGE.lower():
        problems.append(f"package name {PACKAGE!r} is not a lower-case Python identifier")
    return problems


def main() -> int:
    token = "|".join([METHOD, PACKAGE, DISTRIBUTION, METHOD + "_loss" if OWN_LOSS else "", TASKS])
    if CHECKED == token:
        return 0
    try:
        from rsmif_core.scaffold import PluginNames, name_problems
    except ImportError:
        problems = spelling_problems()
        if not problems:
            print("note: rsmif is not importable here; registry and installation checks skipped", file=sys.stderr)
    else:
        names = PluginNames.derive(METHOD, PACKAGE, DISTRIBUTION, own_loss=OWN_LOSS)
        problems = name_problems(names, TASKS)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
