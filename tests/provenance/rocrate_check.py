"""roc-validator 0.13 run offline: the RO-Crate 1.1 JSON-LD context is served from a local copy.

This machine reaches no web host but package registries, and roc-validator fetches the crate's
``@context`` URL. ``data/ro-crate-1.1-context.jsonld`` is the official RO-Crate 1.1 context
document exactly as shipped inside the ``rocrate`` 0.9.0 wheel on PyPI (``rocrate/data/
ro-crate.jsonld``). It is stored under its URL in an HTTP cache that the validator then uses in
its offline mode, so the crate itself is validated unmodified, every check included.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

CONTEXT_URL = "https://w3id.org/ro/crate/1.1/context"
CONTEXT_FILE = Path(__file__).parent / "data" / "ro-crate-1.1-context.jsonld"
# the validator asks with two Accept headers (its own check, and rdflib's context loader)
ACCEPTS = ("application/ld+json, application/json", "application/ld+json, application/json, */*;q=0.1")


def seeded_cache() -> Path:
    """A requests-cache SQLite file holding the context response; returns its cache name."""
    import requests
    from requests.structures import CaseInsensitiveDict
    from requests_cache import CachedSession
    from urllib3 import HTTPResponse

    name = Path(tempfile.mkdtemp(prefix="roc-cache-")) / "http_cache"
    session = CachedSession(cache_name=str(name), backend="sqlite", expire_after=-1)
    for accept in ACCEPTS:
        resp = requests.Response()
        resp.status_code, resp.reason, resp.url = 200, "OK", CONTEXT_URL
        resp._content = CONTEXT_FILE.read_bytes()
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/ld+json"})
        resp.encoding = "utf-8"
        resp.raw = HTTPResponse(body=b"", headers=dict(resp.headers), status=200,
                                preload_content=False, request_url=CONTEXT_URL)
        resp.elapsed = timedelta(0)
        resp.request = requests.Request("GET", CONTEXT_URL, headers={"Accept": accept}).prepare()
        session.cache.save_response(resp)
    session.close()
    return name


def validate_crate(path: str | Path, profile: str = "provenance-run-crate-0.5",
                   level: str = "REQUIRED", offline: bool = True) -> list[str]:
    """The issues roc-validator finds at ``level`` (REQUIRED or RECOMMENDED, which includes
    REQUIRED) and above; empty: the crate passes. ``offline=False`` lets the validator fetch
    the crate's web-based data entities (a test serves them on 127.0.0.1); the context is
    still answered from the seeded cache (its entry never expires)."""
    from rocrate_validator import services
    from rocrate_validator.models import Severity, ValidationSettings

    settings = ValidationSettings(rocrate_uri=str(Path(path).resolve()), profile_identifier=profile,
                                  requirement_severity=Severity[level],
                                  cache_path=seeded_cache(), offline=offline)
    result = services.validate(settings)
    issues = [f"{i.check.identifier if i.check else '?'}: {i.message}" for i in result.get_issues()]
    if not result.passed() and not issues:
        issues = ["validation did not pass"]
    return issues


def crate_issues(path: str | Path, profile: str = "provenance-run-crate-0.5",
                 level: str = "RECOMMENDED") -> list[tuple[str, str, str]]:
    """As ``validate_crate``, each issue as (check id, message, offending value or entity)."""
    from rocrate_validator import services
    from rocrate_validator.models import Severity, ValidationSettings

    settings = ValidationSettings(rocrate_uri=str(Path(path).resolve()), profile_identifier=profile,
                                  requirement_severity=Severity[level],
                                  cache_path=seeded_cache(), offline=True)
    result = services.validate(settings)
    return [(i.check.identifier if i.check else "?", i.message,
             str(i.violatingPropertyValue or i.violatingEntity)) for i in result.get_issues()]


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; remembers each request line instead of logging it to stderr."""

    requests: list[str] = []

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        _Handler.requests.append(self.requestline)


@contextlib.contextmanager
def serve(folder: str | Path):
    """A real HTTP server on 127.0.0.1 serving ``folder`` while the block runs: where a test
    publishes a workflow file so the validator's availability checks fetch it offline. Yields
    (base URL, the list of request lines it received)."""
    handler = functools.partial(_Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.requests.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
