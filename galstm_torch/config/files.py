"""Where the Hydra configs are read from."""
from __future__ import annotations

from pathlib import Path

CONFIG_NAME = "config"


def config_dir() -> Path:
    """The configs' folder: inside the installed package (a wheel ships the top-level conf/
    as galstm_torch/conf, pyproject.toml), else the checkout's top-level conf/, their only
    copy in git (a checkout, or an editable install of it)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / f"{CONFIG_NAME}.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no {CONFIG_NAME}.yaml in {package / 'conf'} or "
                            f"{package.parent / 'conf'}: reinstall galstm-torch (pip install .)")
