"""One target, one answer: for every catalog model, the default report's table, best plan, serving block
and the `vllm serve` check of the plan's command agree (the contradictions a user trial found)."""

import pytest

from llmmem import catalog
from llmmem.report import estimate_request
from llmmem.request import make_request
from llmmem.resolve import resolve
from llmmem.vllm_serve import check_vllm_serve


@pytest.mark.parametrize("name", catalog.names())
def test_table_plan_serving_block_and_vllm_serve_agree(name):
    report = estimate_request(make_request(model=name, offline=True))
    best, serving = report.plan.best, report.serving
    assert best is not None and serving is not None, report.notes
    # the serving block is the best plan's own start-up
    assert serving.starts and serving.failure is None, serving.failure
    assert (serving.tp, serving.pp, serving.weights_format) == (best.tp, best.pp, best.weights)
    assert serving.kv_cache_tokens == best.kv_cache_tokens
    if not resolve(name, offline=True).spec.caches_nothing:  # encoders: the plan says the scheduler's cap
        assert serving.max_concurrency == best.max_concurrency
    # the table's column for the row in the plan's own weights format is the plan
    for row in report.precisions:
        if row.weights_format == best.weights:
            column = row.gpus[0]
            assert (column.count, column.tp, column.pp, column.command) == (best.count, best.tp, best.pp, best.command)
    # and `vllm serve` of its command starts with the same KV cache
    check = check_vllm_serve(best.command, gpu=best.gpu, offline=True)
    assert check.starts, check.failure
    assert (check.estimate.kv_cache_tokens, check.estimate.tp, check.estimate.pp) == (best.kv_cache_tokens, best.tp, best.pp)
