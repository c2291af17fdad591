"""Shared fixtures. `app_server`: the Gradio app (app.py) running on a free 127.0.0.1 port, offline."""

from __future__ import annotations

import socket

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_server():
    """Launch app.demo once per test module (analytics off, HF_HUB_OFFLINE=1, no HF_TOKEN); yield its URL."""
    patch = pytest.MonkeyPatch()
    patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    patch.setenv("HF_HUB_OFFLINE", "1")
    patch.delenv("HF_TOKEN", raising=False)
    import app  # NOTE: imported here, after the environment is set, and only by the tests that need it

    app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **app.LAUNCH_KWARGS)
    try:
        yield app.demo.local_url
    finally:
        app.demo.close()
        patch.undo()
