"""The app in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

Playwright's own browser download cannot work here, so the system Chromium is launched directly;
without it these tests are skipped. The app runs once per module (tests/conftest.py: app_server).
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def table_cells(page) -> dict[str, dict[str, str]]:
    """The results table as {precision label: {column header: cell text}}, read through its ARIA grid roles."""
    headers = [h.get_attribute("title") for h in page.locator("#table [role=columnheader]").all()]
    rows = {}
    for row in page.locator("#table [role=row]").all():
        cells = [c.strip() for c in row.locator("[role=gridcell]").all_inner_texts()]
        if cells:
            rows[cells[0]] = dict(zip(headers, cells))
    return rows


def query(page) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}


def test_type_a_count_press_estimate_read_the_table_then_switch_units(page, app_server):
    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")  # the default shows at once
    page.locator("#model input").fill("70B")
    page.locator("#estimate").click()
    expect(page.locator("#card h3")).to_have_text("70B parameters")
    expect(page.locator("#card")).to_contain_text("70,000,000,000 parameters")
    expect(page.locator("#card")).to_contain_text("source: your number")
    rows = table_cells(page)
    assert list(rows) == ["32-bit (fp32)", "16-bit (fp16/bf16)", "8-bit (int8)", "4-bit (int4)"]
    fp16 = rows["16-bit (fp16/bf16)"]
    assert fp16["weights"] == "140.00 GB"
    assert fp16["rule of thumb x1.2"] == "168.00 GB"  # the seed's example, to the byte
    assert fp16["training (Adam)"] == "560.00 GB"  # accelerate: 2 x the fp32 size in mixed precision
    assert fp16["H100-80GB (count / TP)"] == "2 / 2"
    assert rows["32-bit (fp32)"]["H100-80GB (count / TP)"] == "4 / 4"
    assert query(page)["model"] == "70B"  # the URL now carries the inputs

    page.locator("#unit").get_by_text("GiB", exact=True).click()
    expect(page.locator("#table")).to_contain_text("GiB")
    fp16 = table_cells(page)["16-bit (fp16/bf16)"]
    assert fp16["weights"] == "130.39 GiB"  # 140e9 / 2^30
    assert fp16["rule of thumb x1.2"] == "156.46 GiB"  # 168e9 / 2^30
    assert "GB" not in " ".join(fp16.values()).replace("GiB", "")
    assert query(page)["unit"] == "GiB"
    page.get_by_role("button", name="How this was computed").click()
    expect(page.locator("#how")).to_contain_text("70,000,000,000 × 4 / (32 / 16) × 1.2 = 168,000,000,000 bytes = 156.46 GiB")
    expect(page.locator("#how")).to_contain_text("GiB = 2^30 bytes")


def test_a_catalog_model_from_the_dropdown(page, app_server):
    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")
    page.locator("#model input").fill("Qwen3-30B")
    page.get_by_role("option", name="Qwen/Qwen3-30B-A3B").click()
    page.locator("#estimate").click()
    expect(page.locator("#card h3")).to_have_text("Qwen/Qwen3-30B-A3B")
    expect(page.locator("#card")).to_contain_text("30,532,122,624 parameters")
    expect(page.locator("#card")).to_contain_text("3.35B active")
    # 30,532,122,624 x 2 x 1.2 = 73,277,094,298 bytes
    assert table_cells(page)["16-bit (fp16/bf16)"]["rule of thumb x1.2"] == "73.28 GB"
    expect(page.locator("#serving")).to_contain_text("Max concurrency at this context")


def test_a_shared_url_reopens_filled_in(page, app_server):
    page.goto(f"{app_server}?model=Qwen/Qwen3-30B-A3B&precisions=fp16,int4&gpu=A100-80GB&unit=GiB&context=4096&batch=2")
    expect(page.locator("#card h3")).to_have_text("Qwen/Qwen3-30B-A3B")
    expect(page.locator("#model input")).to_have_value("Qwen/Qwen3-30B-A3B")
    expect(page.locator("#gpu input")).to_have_value(re.compile(r"^A100-80GB"))
    expect(page.locator("#unit input[value=GiB]")).to_be_checked()
    checked = page.locator("#precisions input:checked")
    expect(checked).to_have_count(2)
    page.get_by_role("button", name=re.compile("^Serving: context")).click()
    expect(page.locator("#context input")).to_have_value("4096")
    expect(page.locator("#batch input")).to_have_value("2")
    rows = table_cells(page)
    assert list(rows) == ["16-bit (fp16/bf16)", "4-bit (int4)"]
    assert rows["16-bit (fp16/bf16)"]["rule of thumb x1.2"] == "68.24 GiB"  # 73,277,094,298 / 2^30
    assert rows["4-bit (int4)"]["A100-80GB (count / TP)"] == "1 / 1"
    expect(page.locator("#serving")).to_contain_text("2 sequence(s) of 4,096 tokens")


def test_an_error_is_a_readable_message_not_a_traceback(page, app_server):
    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")
    page.locator("#model input").fill("acme/unknown-model")
    page.locator("#estimate").click()
    expect(page.get_by_text(re.compile("acme/unknown-model is not in the bundled catalog"))).to_be_visible()
    assert "Traceback" not in page.content()
    page.locator("#model input").fill("405B")
    page.locator("#estimate").click()
    expect(page.locator("#card h3")).to_have_text("405B parameters")
