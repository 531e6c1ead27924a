"""datasets.fetch against a local HTTP server (no network): download, checksum, no second download."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from qpeflow.errors import QpeflowError
from qpeflow.io.sample_data import data_path, fetch

NAME = "radar/KNMI/2010/08/RAD_NL25_RAP_5min_201008260000.h5"


def test_fetch_downloads_and_verifies(real_data, tmp_path, monkeypatch):
    source_root = real_data(NAME).parents[4]  # the QPEFLOW_DATA folder that has the file
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(source_root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("QPEFLOW_DATA", str(tmp_path))
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        (path,) = fetch([NAME], base_url=url)
        assert path == data_path(NAME) and path.read_bytes() == (source_root / NAME).read_bytes()
        server.shutdown()
        server.server_close()  # closed socket: any further request is refused at once
        assert fetch([NAME], base_url=url) == [path]  # present with the right hash: no download
        path.write_bytes(b"tampered")
        with pytest.raises(QpeflowError, match="could not be downloaded"):
            fetch([NAME], base_url=url)  # wrong hash, server gone: cannot repair
    finally:
        if thread.is_alive():
            server.shutdown()
        server.server_close()
