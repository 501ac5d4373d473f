"""``fetch`` against a local stand-in for the Hugging Face hub (HTTP on 127.0.0.1, random port)."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from causaltraits.data.personax import LICENCE_TERMS, fetch, load_personax, status, verify
from causaltraits.errors import DatasetNotFound

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serves the endpoints huggingface_hub uses for ``repo_info`` + ``snapshot_download``."""

    def __init__(self, repos: dict[str, dict[str, bytes]]):
        self.repos = repos  # repo id -> {path in repo: bytes}
        self.requests: list[tuple[str, str]] = []
        self.fail_downloads = False
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

            def _send(self, code, payload: bytes, headers=None, body=True):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if body:
                    self.wfile.write(payload)

            def _json(self, obj, body=True):
                self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"}, body)

            def _serve(self, body: bool):
                url = urlsplit(self.path)
                path = unquote(url.path)
                hub.requests.append((self.command, path))
                for repo, files in hub.repos.items():
                    if path.startswith(f"/api/datasets/{repo}/revision/"):
                        return self._json({"id": repo, "sha": COMMIT, "private": False,
                                           "siblings": [{"rfilename": f} for f in files]}, body)
                    if path.startswith(f"/api/datasets/{repo}/tree/"):
                        return self._json([
                            {"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                            for f, b in files.items()
                        ], body)
                    prefix = f"/datasets/{repo}/resolve/"
                    if path.startswith(prefix):
                        rev, _, fname = path[len(prefix):].partition("/")
                        if fname in files:
                            if hub.fail_downloads and body:
                                return self._send(500, b"server error", {"X-Error-Message": "boom"})
                            data = files[fname]
                            return self._send(200, data, {
                                "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                                "X-Repo-Commit": COMMIT,
                                "Content-Type": "application/octet-stream",
                            }, body)
                self._send(404, b'{"error": "Repository not found"}',
                           {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"}, body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def use_hub(monkeypatch, url: str) -> None:
    """Environment so that huggingface_hub talks plain HTTP to ``url``, online, without xet."""
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_ENABLE_HF_TRANSFER", raising=False)
    # These are read at import time; the library also takes the endpoint from the environment per call.
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hc, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hc, "ENDPOINT", url)
    monkeypatch.setattr(hc, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")


@pytest.fixture
def hub_env(monkeypatch):
    return lambda url: use_hub(monkeypatch, url)


def released_files(px, tmp_path: Path) -> dict[str, bytes]:
    truth = px.make_truth("athle", seed=21, n=40)
    d = px.write_layout(truth, tmp_path / "src", split="train")
    files = {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}
    return truth, files


def test_fetch_downloads_hashes_and_loads(tmp_path, px, hub_env):
    truth, files = released_files(px, tmp_path)
    with FakeHub({"Persona-X/athlepersona": files}) as hub:
        hub_env(hub.url)
        root = tmp_path / "data"
        manifest = fetch("athle", data_dir=root)
    target = root / "athle"
    assert manifest["path"] == str(target)
    assert manifest["commit"] == COMMIT and manifest["repo"] == "Persona-X/athlepersona"
    assert manifest["licence"] == LICENCE_TERMS and "non-commercial" in LICENCE_TERMS
    # every file arrived intact, and the manifest on disk records its sha256
    on_disk = json.loads((target / "fetch.json").read_text())
    assert set(on_disk["files"]) == set(files)
    for name, data in files.items():
        assert (target / name).read_bytes() == data
        assert on_disk["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert on_disk["files"][name]["bytes"] == len(data)
    # nothing left behind: no staging directories, no huggingface bookkeeping
    assert sorted(p.name for p in root.iterdir()) == ["athle"]
    assert not (target / ".cache").exists()
    # the endpoints a download needs were used
    paths = [p for _, p in hub.requests]
    assert any(p.startswith("/api/datasets/Persona-X/athlepersona/revision/main") for p in paths)
    assert any(p.startswith("/datasets/Persona-X/athlepersona/resolve/" + COMMIT) for p in paths)
    # and it loads
    ds = load_personax("athle", data_dir=root)
    assert ds.n == 40 and list(ds.ids) == truth["ids"]
    assert ds.info["fetch"]["commit"] == COMMIT
    assert ds.source.startswith("Persona-X/athlepersona@0123456789ab")
    assert status("athle", data_dir=root)["on_disk"] and status("athle", data_dir=root)["commit"] == COMMIT


def test_refetch_replaces_atomically_and_failure_keeps_the_old_copy(tmp_path, px, hub_env):
    _, files = released_files(px, tmp_path)
    root = tmp_path / "data"
    with FakeHub({"Persona-X/athlepersona": files}) as hub:
        hub_env(hub.url)
        fetch("athle", data_dir=root)
        before = (root / "athle" / "fetch.json").read_text()
        hub.fail_downloads = True
        with pytest.raises(DatasetNotFound) as e:
            fetch("athle", data_dir=root, force=True)
    assert "\n" not in str(e.value)
    assert "could not download Persona-X/athlepersona" in str(e.value)
    assert (root / "athle" / "fetch.json").read_text() == before  # old copy untouched
    assert sorted(p.name for p in root.iterdir()) == ["athle"]  # staging removed


def test_unknown_repo_is_one_line(tmp_path, hub_env):
    with FakeHub({}) as hub:
        hub_env(hub.url)
        with pytest.raises(DatasetNotFound) as e:
            fetch("celeb", data_dir=tmp_path / "d")
    msg = str(e.value)
    assert "\n" not in msg and "Persona-X/celebpersona" in msg and "celeb-demo" in msg
    assert not (tmp_path / "d").exists()  # nothing created


def test_network_down_is_one_line(tmp_path, hub_env):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hub_env(f"http://127.0.0.1:{port}")
    with pytest.raises(DatasetNotFound) as e:
        fetch("athle", data_dir=tmp_path / "d")
    assert "\n" not in str(e.value) and f"127.0.0.1:{port}" in str(e.value)
    assert not (tmp_path / "d").exists()


def test_second_fetch_of_same_commit_is_skipped_unless_damaged_or_forced(tmp_path, px, hub_env):
    _, files = released_files(px, tmp_path)
    root = tmp_path / "data"
    with FakeHub({"Persona-X/athlepersona": files}) as hub:
        hub_env(hub.url)
        assert fetch("athle", data_dir=root)["up_to_date"] is False
        assert verify("athle", data_dir=root) == []
        n_downloads = sum(p.startswith("/datasets/") for _, p in hub.requests)
        again = fetch("athle", data_dir=root)
        assert again["up_to_date"] is True
        assert sum(p.startswith("/datasets/") for _, p in hub.requests) == n_downloads  # nothing downloaded
        # a damaged file is detected by its hash and fetched again
        victim = root / "athle" / "data" / "train-00000-of-00001.parquet"
        data = bytearray(victim.read_bytes())
        data[100] ^= 0xFF
        victim.write_bytes(bytes(data))
        assert verify("athle", data_dir=root) == ["data/train-00000-of-00001.parquet"]
        assert fetch("athle", data_dir=root)["up_to_date"] is False
        assert verify("athle", data_dir=root) == []
        assert fetch("athle", data_dir=root, force=True)["up_to_date"] is False
    assert sorted(p.name for p in root.iterdir()) == ["athle"]
