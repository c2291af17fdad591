"""The app in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

Playwright's own browser download cannot work here, so the system Chromium is launched directly;
without it these tests are skipped. The app runs once per module (tests/conftest.py: app_server).
Every assertion reads what the page shows (text, the chart's SVG rects, layout boxes).
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


def open_page(browser, width=1280, height=1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return context, page


@pytest.fixture
def page(browser, app_server):
    context, page = open_page(browser)
    yield page
    context.close()


def table_cells(page) -> dict[str, dict[str, str]]:
    """The results table as {precision label: {column header: cell text}}."""
    headers = [h.strip() for h in page.locator("#table th").all_inner_texts()]
    rows = {}
    for row in page.locator("#table tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        rows[cells[0]] = dict(zip(headers, cells))
    return rows


def query(page) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}


def estimate(page, model: str, title: str | None = None) -> None:
    page.locator("#model input").fill(model)
    page.locator("#estimate").click()
    expect(page.locator("#card h3")).to_have_text(title or model)


def chart(page) -> list[dict]:
    """Every bar segment of the chart's SVG: bar, part, fill, height (SVG units), bytes."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#chart svg.chart rect.bar')).map(r => ({
             bar: r.dataset.bar, part: r.dataset.part, fill: r.getAttribute('fill'),
             height: parseFloat(r.getAttribute('height')), bytes: Number(r.dataset.bytes)}))"""
    )


def test_type_a_count_press_estimate_read_the_table_then_switch_units(page, app_server):
    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")  # the default shows at once
    estimate(page, "70B", "70B parameters")
    expect(page.locator("#card")).to_contain_text("70,000,000,000 parameters")
    expect(page.locator("#card")).to_contain_text("source: your number")
    rows = table_cells(page)
    assert list(rows) == ["32-bit (fp32)", "16-bit (fp16/bf16)", "8-bit (int8)", "4-bit (int4)"]
    fp16 = rows["16-bit (fp16/bf16)"]
    assert fp16["Weights (GB)"] == "140.00"
    assert fp16["Rule of thumb ×1.2 (GB)"] == "168.00"  # the seed's example, to the byte
    assert fp16["Training, Adam (GB)"] == "560.00"  # accelerate: 2 x the fp32 size in mixed precision
    assert fp16["H100-80GB: GPUs needed by the rule of thumb (tensor-parallel)"] == "2"
    assert rows["32-bit (fp32)"]["H100-80GB: GPUs needed by the rule of thumb (tensor-parallel)"] == "4"
    # a bare count has no plan: the headline says the rule of thumb's answer, and no launch command is offered
    expect(page.locator("#answer")).to_have_text("70,000,000,000 parameters at 16-bit (fp16/bf16): 2 x H100-80GB by the "
                                                 "rule of thumb (give a config.json or model ID for a serving plan)")
    expect(page.locator("#command")).to_be_hidden()
    # numbers are right-aligned, in tabular figures
    align = page.evaluate("() => { const td = document.querySelector('#table td.num'); const s = getComputedStyle(td);"
                          " return [s.textAlign, s.fontVariantNumeric]; }")
    assert align == ["right", "tabular-nums"]
    assert query(page)["model"] == "70B"  # the URL now carries the inputs

    page.locator("#unit").get_by_text("GiB", exact=True).click()
    expect(page.locator("#table th").nth(1)).to_have_text("Weights (GiB)")
    fp16 = table_cells(page)["16-bit (fp16/bf16)"]
    assert fp16["Weights (GiB)"] == "130.39"  # 140e9 / 2^30
    assert fp16["Rule of thumb ×1.2 (GiB)"] == "156.46"  # 168e9 / 2^30
    expect(page).to_have_url(re.compile(r"unit=GiB"))
    page.get_by_role("button", name="How this was computed").click()
    expect(page.locator("#how")).to_contain_text("70,000,000,000 × 4 / (32 / 16) × 1.2 = 168,000,000,000 bytes = 156.46 GiB")


def test_the_headline_table_and_serving_panel_give_one_answer_for_llama_70b_on_h100(page, app_server):
    import app

    page.goto(f"{app_server}?model=meta-llama/Llama-3.1-70B&gpu=H100-80GB")
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-70B")
    _, report = app.estimate_values({"model": "meta-llama/Llama-3.1-70B", "gpus": "H100-80GB"})
    report = report.to_dict()
    best = report["plan"]["plans"][0]
    # the headline is the planner's sentence, first under the inputs; the launch command to copy is below it
    expect(page.locator("#answer")).to_have_text(report["headline"].replace("`", ""))
    headline = page.locator("#answer").inner_text()
    assert headline.startswith(f"meta-llama/Llama-3.1-70B at 16-bit: {best['count']} x H100-80GB (tensor parallel {best['tp']})")
    assert (best["count"], best["tp"], best["pp"], best["weights"]) == (2, 2, 1, "fp16")  # 141 GB of weights: two 80 GB cards
    expect(page.locator("#command textarea")).to_have_value(best["command"])
    assert best["command"] == "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2 --max-model-len 8192"
    form, answer = page.locator("#form").bounding_box(), page.locator("#answer").bounding_box()
    assert form["y"] + form["height"] <= answer["y"] < form["y"] + form["height"] + 40
    # the table's planner column for the plan's precision says the same count and layout
    fp16 = table_cells(page)["16-bit (fp16/bf16)"]
    assert fp16["H100-80GB: GPUs to serve the target (planner)"] == "2 (TP 2)"
    assert fp16["KV-cache tokens (planner)"] == "10,096"
    assert fp16["Max concurrency at 8,192 tokens (planner)"] == f"{best['max_concurrency']:,}"
    # the serving panel is the engine's estimate at that configuration, and agrees on what it holds
    serving = page.locator("#serving")
    expect(serving.locator("h4")).to_have_text("Serving on 2 × H100-80GB (vllm): starts")
    expect(serving).to_contain_text("TP 2 × PP 1 · weights fp16")
    panel = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text() for r in serving.locator("tbody tr").all()}
    assert panel["KV-cache tokens"] == f"{best['kv_cache_tokens']:,}" == "10,096"
    assert panel["max concurrency at 8,192 tokens"] == f"{best['max_concurrency']:,}"
    assert panel["weights"] == f"{best['weights_bytes_per_gpu'] / 1e9:,.2f}"
    assert f"{best['kv_cache_tokens']:,} tokens" in headline


def test_the_chart_is_right_after_every_estimate_and_unit_switch(page, app_server):
    import app

    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")
    for model, unit in [("meta-llama/Llama-3.1-8B", "GB"), ("meta-llama/Llama-3.1-70B", "GB"),
                        ("deepseek-ai/DeepSeek-V3", "GB"), ("deepseek-ai/DeepSeek-V3", "GiB")]:
        if unit == "GiB":
            page.locator("#unit").get_by_text("GiB", exact=True).click()
            expect(page.locator("#chart svg.chart")).to_have_attribute("aria-label", re.compile("GiB"))
        elif model != "meta-llama/Llama-3.1-8B":
            estimate(page, model)
        _, report = app.estimate_values({"model": model, "unit": unit})
        report = report.to_dict()
        # what the report says one GPU holds at each precision's own plan, then vLLM's budget on the GPU
        expected = [(row["name"], part, row["gpus"][0][key]) for row in report["precisions"]
                    for part, key in (("weights", "weights_bytes_per_gpu"), ("KV cache", "kv_cache_bytes_per_gpu"),
                                      ("activations", "activation_bytes"), ("runtime (CUDA, NCCL)", "non_torch_bytes"))]
        expected.append(("H100-80GB", "GPU memory", int(0.9 * report["gpus"][0]["memory_bytes"])))
        drawn = chart(page)
        # every segment of every bar, in order, with its own fill and the report's bytes
        assert [(d["bar"], d["part"], d["bytes"]) for d in drawn] == expected
        assert all(d["fill"] == app.CHART_PARTS.get(d["part"], app.GPU_FILL) for d in drawn)
        # heights are proportional to bytes: the same pixels per byte for every segment
        tallest = max(drawn, key=lambda d: d["bytes"])
        per_byte = tallest["height"] / tallest["bytes"]
        assert all(abs(d["height"] - d["bytes"] * per_byte) < 0.002 for d in drawn), drawn
        gpu = next(d for d in drawn if d["part"] == "GPU memory")
        assert gpu["bytes"] == int(0.9 * 81090 * 2**20) and gpu["height"] > 0  # vLLM's budget on an H100-80GB
        legend = page.locator("#chart .legend .key").all_inner_texts()
        assert legend == [p for p in app.CHART_PARTS if any(d["part"] == p and d["bytes"] > 0 for d in drawn)] + [
            "vLLM's budget (utilization × GPU memory)"]
        ticks = page.locator("#chart svg.chart text.tick").evaluate_all("els => els.map(e => e.textContent)")
        assert ticks[0] == "0" and len(ticks) >= 3
        expect(page.locator("#chart svg.chart")).to_have_attribute("aria-label", re.compile(unit + r"$"))


def test_a_phone_sees_the_button_and_the_answer_without_sideways_scrolling(browser, app_server):
    context, page = open_page(browser, 390, 844)
    try:
        page.goto(app_server)
        expect(page.locator("#answer")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for selector in ("#estimate", "#answer"):
            box = page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, box)
            assert box["y"] >= 0 and box["y"] < 844, (selector, box)  # starts on the first screen
        assert page.locator("#estimate").bounding_box()["y"] + 40 <= 844
        # the inputs stack: the GPU box sits below the model box, not beside it
        model, gpu = page.locator("#model").bounding_box(), page.locator("#gpus").bounding_box()
        assert gpu["y"] >= model["y"] + model["height"] - 1
        # so do the model card and the unit switch: the card gets the page's width, not a sliver beside the switch
        card, unit = page.locator("#card").bounding_box(), page.locator("#unit").bounding_box()
        assert card["width"] >= 300 and unit["y"] >= card["y"] + card["height"] - 1, (card, unit)
        # the wide table scrolls inside its own box
        scroll = page.evaluate("() => { const s = document.querySelector('#table .table-scroll');"
                               " return [s.clientWidth, s.scrollWidth, getComputedStyle(s).overflowX]; }")
        assert scroll[0] <= 390 and scroll[1] > scroll[0] and scroll[2] == "auto"
    finally:
        context.close()


def test_an_offline_hub_model_says_what_failed_and_keeps_the_last_good_link(page, app_server):
    page.goto(f"{app_server}?model=meta-llama/Llama-3.1-70B")
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-70B")
    expect(page).to_have_url(re.compile(r"model=meta-llama%2FLlama-3.1-70B"))
    page.locator("#model input").fill("meta-llama/Lama-3.1-8B")  # a Hub model, while the Hub is off (HF_HUB_OFFLINE)
    page.locator("#estimate").click()
    status = page.locator("#status .error-box")
    expect(status).to_contain_text("Could not estimate.")
    expect(status).to_contain_text("HF_HUB_OFFLINE is set, and meta-llama/Lama-3.1-8B is not in the bundled catalog "
                                   "(did you mean meta-llama/Llama-3.1-8B")
    expect(status).to_contain_text("Catalog models (the examples below) always work, offline too.")
    # stale results are cleared, the link keeps the last good state, nothing covers the button
    expect(page.locator("#card h3")).to_have_count(0)
    expect(page.locator("#table table")).to_have_count(0)
    expect(page.locator("#chart svg.chart")).to_have_count(0)
    assert query(page)["model"] == "meta-llama/Llama-3.1-70B"
    box = page.locator("#estimate").bounding_box()
    on_top = page.evaluate(f"document.elementFromPoint({box['x'] + box['width'] / 2}, {box['y'] + box['height'] / 2}).id")
    assert on_top == "estimate"
    assert "Traceback" not in page.content()
    estimate(page, "405B", "405B parameters")  # and the page keeps working


def test_a_bad_share_link_falls_back_to_defaults_with_a_note(page, app_server):
    page.goto(f"{app_server}?model=Qwen/Qwen3-30B-A3B&tp=abc&context=1e400&gpu=A100-80GB&unit=GiB")
    expect(page.locator("#card h3")).to_have_text("Qwen/Qwen3-30B-A3B")
    note = page.locator("#link-note .note-box")
    expect(note).to_contain_text("ignored tp= from the link")
    expect(note).to_contain_text("ignored context= from the link")
    expect(page.locator("#gpus input")).to_have_value(re.compile(r"^A100-80GB"))
    expect(page.locator("#unit input[value=GiB]")).to_be_checked()
    # 30,532,122,624 x 2 x 1.2 = 73,277,094,298 bytes = 68.24 GiB
    assert table_cells(page)["16-bit (fp16/bf16)"]["Rule of thumb ×1.2 (GiB)"] == "68.24"


def test_markup_in_a_share_link_is_shown_as_text(page, app_server):
    page.goto(f"{app_server}?model=%3Cb%20id%3Dinjected%3Ebold%3C%2Fb%3E%3Ca%20href%3Dhttps%3A%2F%2Fevil.example%3Ex%3C%2Fa%3E")
    expect(page.locator("#status .error-box")).to_contain_text("<b id=injected>bold</b>")
    expect(page.locator("#injected")).to_have_count(0)
    expect(page.locator("a[href='https://evil.example']")).to_have_count(0)


def test_a_pasted_vllm_serve_command_that_would_not_start_gets_its_fix(page, app_server):
    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")
    page.get_by_role("button", name=re.compile("Will my .vllm serve. command start")).click()
    # Llama-3.1-70B at its default max_model_len (131,072) on 2 x H100-80GB: one sequence needs 20 GiB of KV cache
    page.locator("#vllm-command textarea").fill("vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2")
    page.locator("#check-button").click()
    verdict = page.locator("#check-result .error-box")
    expect(verdict).to_contain_text("Would not start (max_seq_len)")
    expect(verdict).to_contain_text("the estimated maximum model length is 10096")
    fixes = page.locator("#check-result ol.fixes li")
    expect(fixes.first).to_contain_text("lower --max-model-len to 10096")
    fix = fixes.first.locator("code").inner_text()
    assert fix == "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2 --max-model-len 10096"
    # the fix, pasted back, starts
    page.locator("#vllm-command textarea").fill(fix)
    page.locator("#check-button").click()
    expect(page.locator("#check-result .ok-box")).to_contain_text("It starts on 2 × H100-80GB: KV cache 10,096 tokens")


def test_the_fine_tuning_section_answers_for_the_model_above(page, app_server):
    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")
    page.get_by_role("button", name=re.compile("^Fine-tuning: memory for one training step")).click()
    page.locator("#recipe").get_by_text("lora", exact=True).click()
    page.locator("#train-button").click()
    answer = page.locator("#train-answer")
    expect(answer).to_contain_text("lora fine-tuning of meta-llama/Llama-3.1-8B (1 × 2,048 tokens, adamw): peak ")
    expect(answer).to_contain_text("fits one H100-80GB")
    expect(page.locator("#train-result")).to_contain_text("41,943,040 trainable of 8,072,204,288 parameters")
    terms = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
             for r in page.locator("#train-result tbody tr").all()}
    assert terms["weights"] == "16.06" and terms["LoRA adapters (fp32)"] == "0.17"


def test_an_example_click_and_enter_both_estimate(page, app_server):
    page.goto(app_server)
    expect(page.locator("#card h3")).to_have_text("meta-llama/Llama-3.1-8B")
    page.get_by_role("button", name="Qwen/Qwen3-30B-A3B").click()
    expect(page.locator("#card h3")).to_have_text("Qwen/Qwen3-30B-A3B")
    expect(page.locator("#card")).to_contain_text("30,532,122,624 parameters")
    page.locator("#model input").fill("7e9")
    page.locator("#model input").press("Enter")
    expect(page.locator("#card h3")).to_have_text("7e9 parameters")
