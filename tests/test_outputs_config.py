"""Config checks of the output keys, and the report command's one-line errors."""
from __future__ import annotations

import pytest

from galstm_torch.app import to_config
from galstm_torch.config import Config, FinalConfig, TensorBoardConfig
from galstm_torch.errors import ConfigError
from galstm_torch.observe.report import main as report_main


@pytest.mark.parametrize("changes, message", [
    ({"mode": "train"}, "mode=train is out of range: choose one of search, evaluate"),
    ({"mode": "evaluate"}, "mode=evaluate needs a genome: add genome=[3,1,135,41,126,47]"),
    ({"mode": "evaluate", "genome": [2, 1, 32]}, "genome=[2, 1, 32] is not a genome"),
    ({"final": FinalConfig(epochs=-1)}, "final.epochs=-1 is out of range"),
    ({"tensorboard": TensorBoardConfig(curve_every=0)}, "tensorboard.curve_every=0 is out of range"),
])
def test_bad_output_settings_fail_in_one_line(changes, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        to_config(Config(**changes))


def test_report_on_a_folder_without_runs_is_a_one_line_error(tmp_path, capsys):
    assert report_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "neither a run directory" in err and "\n" not in err
