"""/docs and /redoc work with no network: every asset they load is served by the service."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx
import pytest
from browser import open_in_chromium
from service_harness import Service

ASSET_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _references(html: str) -> list[str]:
    return [a or b for a, b in ASSET_REF.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_only_local_assets(roomy_service: Service, page: str) -> None:
    with httpx.Client(base_url=roomy_service.url, timeout=60) as client:
        html = client.get(page)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        refs = _references(html.text)
        assert any(ref.endswith(".js") for ref in refs), refs
        assert "https://" not in html.text and "fonts.googleapis" not in html.text
        for ref in refs:
            url = urljoin(roomy_service.url + page, ref)
            assert urlparse(url).netloc == urlparse(roomy_service.url).netloc, ref
            asset = client.get(url)
            assert asset.status_code == 200, (ref, asset.status_code)
            assert len(asset.content) > 100, ref
            if ref.endswith(".js"):
                assert "javascript" in asset.headers["content-type"]


def test_swagger_ui_renders_the_operations_with_the_network_off(
    roomy_service: Service, tmp_path: Path
) -> None:
    # every host but the service's loopback address resolves to nothing: no CDN can be reached
    dom, console = open_in_chromium(
        f"{roomy_service.url}/docs", tmp_path / "profile", "--dump-dom",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    )
    assert "swagger-ui" in dom
    assert "/v1/verify" in dom and "opblock" in dom, dom[-2000:]
    assert not [line for line in console if "Uncaught" in line], console
