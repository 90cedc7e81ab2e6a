"""The `site` fixture; the helpers live in cgi_site.py."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))  # cgi_reply

from cgi_site import BIN_DIR, Site


@pytest.fixture
def site(tmp_path) -> Site:
    if not (BIN_DIR / "chatdealer-chat-start").exists():
        pytest.fail(f"handlers not built in {BIN_DIR}: run swift build -c release first")
    return Site(tmp_path / "site")
