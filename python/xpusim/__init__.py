"""xpusim from Python: the command line's commands as functions returning its JSON.

Every function takes the command's options as keywords (``input_len=2048`` is
``--input-len 2048``, ``sp=True`` is ``--sp``; False or None leaves an option out) and returns
the plain dicts and lists that ``xpusim ... --format json`` prints. Bad input raises
:class:`XpusimError` with the command line's one-line message.

    import xpusim
    rows = xpusim.compare(input_len=2048)     # xpusim compare --input-len 2048 --format json
    print(rows[0]["hw"], rows[0]["throughput_tokens_per_s"])
"""

import json as _json

from . import _core

__all__ = ["XpusimError", "Rows", "run", "infer", "compare", "train", "search", "serve", "plan",
           "validate", "catalog", "show", "report"]


class XpusimError(Exception):
    """A command failed: ``str(error)`` is the line xpusim prints; ``status`` its exit status."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def _flags(options):
    args = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def run(*args, progress=None):
    """Runs one command line (without the program name) and returns what it prints.

    ``progress(task, done, total)``, when given, is called as long commands advance.
    Raises XpusimError for an exit status of 2 or more; a failed validation (status 1) still
    returns its output.
    """
    status, out, err = _core.run([str(a) for a in args], progress)
    if status >= 2:
        raise XpusimError(err.strip().splitlines()[-1] if err.strip() else
                          f"xpusim: exit status {status}", status)
    return out


def _json_command(words, options, progress=None):
    return _json.loads(run(*words, *_flags(options), "--format", "json", progress=progress))


def infer(**options):
    """``xpusim infer``: one inference estimate on one node (model=..., hw=... required)."""
    return _json_command(["infer"], options)


class Rows(list):
    """The rows of a table-like result, as a list; ``document`` is the whole JSON object (rows,
    and what they share: model, workload, price basis)."""

    def __init__(self, document):
        super().__init__(document["rows"])
        self.document = document


def compare(**options):
    """``xpusim compare``: one model on every catalog accelerator at its natural node.

    Returns the rows (one per accelerator) as a list; ``.document`` is the JSON object whole.
    """
    return Rows(_json_command(["compare"], options))


def train(**options):
    """``xpusim train``: one training step under a parallel plan."""
    return _json_command(["train"], options)


def search(progress=None, **options):
    """``xpusim train --search``: the best plans, fastest first (a list)."""
    return _json_command(["train", "--search"], options, progress)


def serve(progress=None, **options):
    """``xpusim serve``: one simulated serving run."""
    return _json_command(["serve"], options, progress)


def plan(progress=None, **options):
    """``xpusim plan``: the cheapest deployment for a rate and latency objectives."""
    return _json_command(["plan"], options, progress)


def validate(kind="training", **options):
    """``xpusim validate training|inference``: predictions against published measurements."""
    return _json_command(["validate", kind], options)


def catalog(kind="hw"):
    """``xpusim hw|model|system|stack list``: every entry of one catalog (a list)."""
    return _json_command([kind, "list"], {})


def show(kind, ref):
    """``xpusim hw|model|system|stack show ID``: one catalog entry with its sources."""
    return _json_command([kind, "show", ref], {})


def report(result, output, assets=None):
    """``xpusim report``: writes a self-contained HTML page of charts for ``result``.

    ``result`` is a path to a JSON file or a result this module returned.
    """
    import os
    import tempfile
    if isinstance(result, (str, os.PathLike)):
        run("report", "--from", os.fspath(result), "-o", os.fspath(output),
            *(["--assets", os.fspath(assets)] if assets else []))
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        _json.dump(result, f)
    try:
        report(f.name, output, assets)
    finally:
        os.unlink(f.name)
