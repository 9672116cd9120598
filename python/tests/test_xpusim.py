"""The Python module against the command line: the same options give the same JSON, and bad
input raises XpusimError with the command line's one-line message."""

import json
import os
import subprocess
import sys

import pytest

import xpusim

CLI = os.environ["XPUSIM_BINARY"]
EXAMPLES = os.environ["XPUSIM_EXAMPLES"]


def cli(*args):
    """(exit status, parsed stdout or None, stderr) of the xpusim binary."""
    p = subprocess.run([CLI, *args], capture_output=True, text=True, check=False)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr


def cli_json(*args):
    status, out, err = cli(*args, "--format", "json")
    assert status in (0, 1), err
    return out


INFER = dict(model="llama-2-70b", hw="h100-sxm", devices=8, batch=16, input_len=512)
TRAIN = dict(model="llama-3.1-8b", hw="h100-sxm", nodes=2, tp=2, pp=2, global_batch=64,
             seq_len=4096, recompute="selective", sp=True)
SEARCH = dict(model="llama-3.1-8b", hw="h100-sxm", nodes=2, global_batch=64, seq_len=4096, top=5)
SERVE = dict(model="llama-3.1-8b", hw="h100-sxm", rate=4, num_requests=200, seed=7)


def test_compare_equals_the_cli():
    rows = xpusim.compare()
    assert isinstance(rows, list) and rows[0]["hw"]
    document = cli_json("compare")
    assert rows.document == document
    assert rows == document["rows"]


def test_infer_equals_the_cli():
    assert xpusim.infer(**INFER) == cli_json("infer", "--model", "llama-2-70b", "--hw",
                                             "h100-sxm", "--devices", "8", "--batch", "16",
                                             "--input-len", "512")


def test_train_equals_the_cli():
    assert xpusim.train(**TRAIN) == cli_json(
        "train", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "2", "--tp", "2",
        "--pp", "2", "--global-batch", "64", "--seq-len", "4096", "--recompute", "selective",
        "--sp")


def test_search_equals_the_cli():
    ranked = xpusim.search(**SEARCH)
    assert len(ranked) == 5
    assert ranked == cli_json("train", "--search", "--model", "llama-3.1-8b", "--hw", "h100-sxm",
                              "--nodes", "2", "--global-batch", "64", "--seq-len", "4096",
                              "--top", "5")


def test_serve_equals_the_cli():
    assert xpusim.serve(**SERVE) == cli_json("serve", "--model", "llama-3.1-8b", "--hw",
                                             "h100-sxm", "--rate", "4", "--num-requests", "200",
                                             "--seed", "7")


def test_plan_equals_the_cli():
    result = xpusim.plan(model="llama-3.1-8b", rate=2, num_requests=30)
    assert result["cheapest"]["meets_slo"]
    assert result == cli_json("plan", "--model", "llama-3.1-8b", "--rate", "2",
                              "--num-requests", "30")


@pytest.mark.parametrize("kind", ["training", "inference"])
def test_validate_equals_the_cli(kind):
    assert xpusim.validate(kind) == cli_json("validate", kind)


@pytest.mark.parametrize("kind", ["hw", "model", "system", "stack"])
def test_catalog_listing_equals_the_cli(kind):
    listing = xpusim.catalog(kind)
    assert len(listing) > 3
    assert listing == cli_json(kind, "list")
    assert xpusim.show(kind, listing[0]["id"]) == cli_json(kind, "show", listing[0]["id"])


def test_bad_input_raises_the_cli_message():
    status, _, err = cli("infer", "--model", "no-such-model", "--hw", "h100-sxm")
    assert status == 2
    with pytest.raises(xpusim.XpusimError) as raised:
        xpusim.infer(model="no-such-model", hw="h100-sxm")
    assert str(raised.value) == err.strip()
    assert str(raised.value).startswith("xpusim: command line: --model: unknown model 'no-such-model'")
    assert raised.value.status == 2


def test_unknown_keyword_raises_like_an_unknown_flag():
    with pytest.raises(xpusim.XpusimError, match="^xpusim: command line: .*--bach"):
        xpusim.infer(model="llama-2-70b", hw="h100-sxm", bach=8)


def test_report_writes_a_self_contained_page(tmp_path):
    xpusim.report(xpusim.compare(input_len=512).document, tmp_path / "compare.html")
    assert (tmp_path / "compare.html").stat().st_size > 100000
    out = tmp_path / "serve.html"
    xpusim.report(xpusim.serve(**SERVE), out)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "vegaEmbed" in page and "http://" not in page.split("xpusim-specs")[1]
    with pytest.raises(xpusim.XpusimError, match="expected the JSON of one of xpusim"):
        xpusim.report({"not": "a result"}, tmp_path / "x.html")


def test_progress_reaches_the_callback():
    calls = []
    xpusim.search(progress=lambda task, done, total: calls.append((task, done, total)), **SEARCH)
    assert calls and calls[-1][0] == "search" and calls[-1][1] == calls[-1][2]
    assert all(done <= total for _, done, total in calls)


def test_batch_sweep_example_runs():
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, "batch_sweep.py"), "--model",
                        "llama-3.1-8b", "--devices", "1"],
                       capture_output=True, text=True, check=True)
    lines = p.stdout.splitlines()
    assert lines[0] == "llama-3.1-8b on 1 x h100-sxm"
    rows = [line.split() for line in lines[2:]]
    assert [int(r[0]) for r in rows][:4] == [1, 2, 4, 8]
    throughput = [float(r[3]) for r in rows]
    assert throughput == sorted(throughput)  # more batch, more tokens/s while it fits
