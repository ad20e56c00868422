"""The dashboard in a real browser (headless Chromium driven by Selenium) against a running
`vqdb serve` with API keys: it lists the collections, runs a search in the console, draws the
advisor's plots, is refused an apply with the read-only key and applies with the full one,
following the rebuild to its end. Slow (a browser start and an advisor run).

Needs the distribution's `chromium` and `chromium-driver` and Selenium (`pip install
".[browser]"`); skipped, saying so, without them. VQDB_SCREENSHOTS=docs/dashboard keeps a
screenshot of each page there (the README's come from this test).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from served import Server, ok

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
DATA = Path(os.environ.get("VQDB_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
KEYS = {"VQDB__SERVICE__API_KEY": "full-key", "VQDB__SERVICE__READ_ONLY_API_KEY": "read-key"}
WAIT = 120  # seconds for anything the page waits on (an advisor run included)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("no chromium / chromedriver: apt-get install -y chromium chromium-driver")
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed: pip install '.[browser]'"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    # the system's driver: Selenium Manager would try to download one otherwise
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = os.environ.get("VQDB_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def documents(n: int = 5000) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Python documentation paragraphs (the shared set), or made-up clusters without it."""
    folder = DATA / "python-docs-minilm-384"
    if (folder / "base.npy").exists():
        vectors = np.load(folder / "base.npy")[:n]
        with gzip.open(folder / "meta.jsonl.gz", "rt") as lines:
            meta = [json.loads(line) for _, line in zip(range(n), lines)]
        return vectors, [{"text": m["text"][:80], "file": m["file"]} for m in meta]
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 64))
    x = centres[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, 64))
    return x.astype(np.float32), [{"row": i} for i in range(n)]


@pytest.fixture(scope="module")
def served(start_server: Callable[..., Server]) -> Iterator[Server]:
    server = start_server({**KEYS, "VQDB__STORAGE__OPTIMIZER_THREADS": "2"})
    vectors, payloads = documents()
    full = {"api-key": "full-key"}
    with httpx.Client(base_url=server.url, timeout=60, headers=full) as http:
        body = {
            "vectors": {"size": vectors.shape[1], "distance": "Cosine"},
            # indexed (and so quantized) from 1 MB of vectors on, not the default 10 MB
            "optimizers_config": {"indexing_threshold": 1000},
        }
        ok(http.put("/collections/python-docs", json=body))
        for start in range(0, len(vectors), 1000):
            batch = [
                {"id": i, "vector": vectors[i].tolist(), "payload": payloads[i]}
                for i in range(start, min(start + 1000, len(vectors)))
            ]
            ok(http.put("/collections/python-docs/points?wait=true", json={"points": batch}))
        ok(http.put("/collections/empty", json={"vectors": {"size": 8, "distance": "Dot"}}))
        deadline = time.monotonic() + WAIT
        while ok(http.get("/collections/python-docs"))["status"] != "green":
            assert time.monotonic() < deadline, "the collection was never indexed"
            time.sleep(0.1)
    yield server


def test_dashboard(browser: Any, served: Server, shots: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    # a table or list the page redraws may be swapped under a lookup: look again
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=[StaleElementReferenceException])
    page = browser.find_element

    def key(value: str) -> None:
        field = page(By.ID, "api-key")
        field.clear()
        field.send_keys(value + Keys.TAB)  # leaving the field is what fires its change

    browser.get(f"{served.url}/dashboard")
    # no key: the page loads, and says the API wants one
    wait.until(shown.text_to_be_present_in_element((By.ID, "error"), "401"))
    key("read-key")
    row = '#collections tr[data-collection="python-docs"]'
    wait.until(
        shown.text_to_be_present_in_element((By.CSS_SELECTOR, f"{row} td:nth-child(3)"), "5000")
    )
    assert page(By.CSS_SELECTOR, '#collections tr[data-collection="empty"]')
    browser.save_screenshot(str(shots / "collections.png"))

    # the console: a search with one of the collection's own vectors finds it first
    page(By.ID, "nav-console").click()
    Select(page(By.ID, "console-collection")).select_by_value("python-docs")
    body = "return document.getElementById('console-body').value"
    wait.until(lambda d: json.loads(d.execute_script(body))["query"] != [0.1, 0.2, 0.3, 0.4])
    page(By.ID, "console-run").click()
    first = "#console-results tbody tr:first-child"
    wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, first)))
    assert float(page(By.CSS_SELECTOR, f"{first} td:nth-child(2)").text) > 0.99
    assert (
        '"text"' in page(By.CSS_SELECTOR, f"{first} td:nth-child(3)").text
        or not (DATA / "python-docs-minilm-384").exists()
    )
    browser.save_screenshot(str(shots / "console.png"))

    # the advisor: its plots, and an apply the read-only key is refused
    page(By.ID, "nav-advisor").click()
    Select(page(By.ID, "advisor-collection")).select_by_value("python-docs")
    page(By.ID, "advisor-run").click()
    wait.until(shown.visibility_of_element_located((By.ID, "advisor-result")))
    charts = browser.execute_script("return Object.keys(Chart.instances).length")
    assert charts >= 3  # recall vs oversampling, vs bytes per vector, vs QPS (+ memory)
    summary = page(By.ID, "advisor-summary").text
    assert "recommendation (memory, recall@10 >= 0.95)" in summary
    browser.save_screenshot(str(shots / "advisor.png"))
    page(By.ID, "advisor-apply").click()
    wait.until(shown.text_to_be_present_in_element((By.ID, "error"), "403"))
    assert "read-only" in page(By.ID, "error").text

    key("full-key")
    page(By.ID, "advisor-apply").click()
    wait.until(shown.text_to_be_present_in_element((By.ID, "rebuild-status"), "done"))
    browser.save_screenshot(str(shots / "applied.png"))
    with httpx.Client(base_url=served.url, headers={"api-key": "read-key"}) as http:
        config = ok(http.get("/collections/python-docs"))["config"]["quantization_config"]
        state = ok(http.get("/vqdb/collections/python-docs"))
    chosen = json.loads(page(By.ID, "advisor-config").text)["quantization_config"]
    assert config == chosen
    assert state["rebuild"]["done"] and state["rebuild"]["fraction"] == 1.0

    # back on the collections page: the codes now take their share of a vector's bytes
    page(By.ID, "nav-collections").click()
    codes = f"{row} td:nth-child(6)"
    wait.until(shown.text_to_be_present_in_element((By.CSS_SELECTOR, codes), "always_ram"))
    browser.save_screenshot(str(shots / "collections-applied.png"))
