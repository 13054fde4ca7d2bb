"""The built-in commands of the ``rsmif`` command line, one module per command or group.

Commands parse options, call the layers below and print results; they raise errors from
:mod:`rsmif_core.errors` and leave printing them and the exit status to :mod:`rsmif_core.cli`.
"""

from __future__ import annotations

from typing import Any


def builtin_commands() -> list[Any]:
    from rsmif_core.commands.adapt import adapt_cmd
    from rsmif_core.commands.config import config_group
    from rsmif_core.commands.data import data_group
    from rsmif_core.commands.info import list_cmd, plugins_cmd
    from rsmif_core.commands.new import new_group
    from rsmif_core.commands.predict import predict_cmd
    from rsmif_core.commands.report import report_cmd
    from rsmif_core.commands.runs import run_cmd, test_cmd
    from rsmif_core.commands.score import score
    from rsmif_core.commands.weights import convert_weights

    return [plugins_cmd, list_cmd, config_group, run_cmd, test_cmd, predict_cmd, adapt_cmd, data_group, score,
            report_cmd, convert_weights, new_group]
