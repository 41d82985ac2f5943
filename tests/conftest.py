"""Shared test set-up: quiet TensorFlow, quick mode for the notebooks, common fixtures."""

import http.server
import os
import pathlib
import tempfile
import threading
import time

# Before TensorFlow is imported anywhere, and inherited by the notebook kernels nbval starts.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("COLORLAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Registry data sets (the embedded sample) go to a throw-away cache, not the user's.
os.environ.setdefault("COLORLAB_DATA", tempfile.mkdtemp(prefix="colorlab-test-data-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def make_photo(seed: int = 0, size: tuple[int, int] = (60, 80)) -> np.ndarray:
    """A colorful test image made by the tests: smooth gradients plus noise, (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x / w, y / h, 1 - x / w], -1) * 200 + rng.integers(0, 50, (h, w, 3))
    return rgb.astype(np.uint8)


@pytest.fixture(scope="session")
def photos():
    """The colour photos scikit-image ships, as uint8 RGB."""
    from skimage import data

    return {name: getattr(data, name)() for name in ("astronaut", "chelsea", "coffee")}


@pytest.fixture(scope="session")
def all_rgb8():
    """All 16,777,216 8-bit sRGB colours, (2^24, 3) uint8."""
    v = np.arange(1 << 24, dtype=np.uint32)
    return np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=-1).astype(np.uint8)


@pytest.fixture(scope="session")
def shared_reference():
    """../shared/reference, or skip where the project runs without it."""
    path = SHARED / "reference"
    if not (path / "pts_in_hull.npy").exists():
        pytest.skip("../shared/reference is not beside this checkout")
    return path


class LocalServer:
    """A local HTTP server for download tests, with switchable misbehaviour.

    Serves ``files`` ({path: bytes}) and honours Range requests. Switches: ``cut_after``
    bytes (a dropped connection), ``length`` (send Content-Length), ``content_type``,
    ``extra`` bytes beyond the declared length, ``trickle`` seconds between single bytes.
    ``ranges`` records the Range headers received.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut_after: int | None = None
        self.length = True
        self.content_type = "application/octet-stream"
        self.extra = b""
        self.trickle: float | None = None
        self.ranges: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if "Range" in self.headers:
                    server.ranges.append(self.headers["Range"])
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                else:
                    self.send_response(200)
                self.send_header("Content-Type", server.content_type)
                if server.length:
                    self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if server.cut_after is not None:
                    payload = payload[: server.cut_after]
                try:
                    if server.trickle:
                        for i in range(len(payload)):
                            self.wfile.write(payload[i:i + 1])
                            self.wfile.flush()
                            time.sleep(server.trickle)
                    else:
                        self.wfile.write(payload + server.extra)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    """A :class:`LocalServer`, closed after the test."""
    s = LocalServer()
    yield s
    s.close()
