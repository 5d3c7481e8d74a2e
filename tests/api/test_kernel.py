"""sciflow in a real Jupyter kernel (nbclient): what only a kernel shows. The live progress
widget and the updating HTML display, the ``%%sciflow`` magic with the notebook's functions,
errors at the cell's line, the session cluster kept between runs and closed by
``sciflow.close()``, a failed job's log in the display. Each notebook is built here and
executed top to bottom; the cells assert what they can, the test reads the outputs."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


class RecordingClient(nbclient.NotebookClient):
    """Keeps every iopub message of each cell, in order, as the front end would see them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.messages: list[tuple[int, str, dict]] = []

    def process_message(self, msg, cell, cell_index):
        self.messages.append((cell_index, msg["msg_type"], msg.get("content", {})))
        return super().process_message(msg, cell, cell_index)


def execute(cells: list[str], tmp_path: Path, monkeypatch) -> tuple[object, RecordingClient]:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = RecordingClient(nb, timeout=240, kernel_name="python3", allow_errors=True,
                             resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb, client


def errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def widget_values(nb) -> list[str]:
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return [m["state"].get("value", "") for m in state.values()
            if m.get("model_name") == "HTMLModel"]


MAGIC_CELLS = [
    "%load_ext sciflow",
    # a function the rules call, defined in the notebook only
    "def shout(text):\n    return text.upper() + '!'",
    "%%sciflow demo --run -c 2 -p\n"
    "rule all:\n"
    "    input: expand('loud/{w}.txt', w=['hi', 'yo'])\n"
    "rule word:\n"
    "    output: 'words/{w}.txt'\n"
    "    shell: 'echo {wildcards.w} > {output}'\n"
    "rule loud:\n"
    "    input: 'words/{w}.txt'\n"
    "    output: 'loud/{w}.txt'\n"
    "    run:\n"
    "        text = open(input[0]).read().strip()\n"
    "        print('shouting', text)\n"
    "        open(output[0], 'w').write(shout(text))\n",
    "assert open('loud/hi.txt').read() == 'HI!', open('loud/hi.txt').read()\n"
    "from sciflow.notebook import session\n"
    "first = session.session_client(2)\n"
    "again = demo.run(cores=2, forceall=True)\n"
    "assert again.ok and session.session_client(2) is first\n"
    "assert len(demo.runs()) == 2\n"
    "again.logs(again.summary.jobs[-2].jobid).tail()",
    # line 4 of this cell misses the colon after 'shell'
    "%%sciflow bad\n"
    "rule a:\n"
    "    output: 'a.txt'\n"
    "    shell 'touch {output}'\n",
    "%%sciflow failing --run -c 1\n"
    "rule broken:\n"
    "    output: 'never.txt'\n"
    "    shell: 'echo the-cause-of-it >&2; exit 4'\n",
    "import sciflow\n"
    "sciflow.close()\n"
    "assert session.session_info() is None and first.status in ('closed', 'closing')",
]


def test_magic_run_progress_widget_session_and_errors(tmp_path, monkeypatch):
    nb, client = execute(MAGIC_CELLS, tmp_path, monkeypatch)
    cells = nb.cells
    for i in (0, 1, 2, 3, 5, 6):
        assert not errors(cells[i]), (i, errors(cells[i]))
    # the functions of the notebook ran inside Dask workers
    assert (tmp_path / "loud" / "yo.txt").read_text() == "YO!"
    assert (tmp_path / "demo.smk").exists()

    # the live display is a widget; its last state is the finished run, per rule, with
    # each command (-p) and the dashboard link when bokeh serves one
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in cells[2].outputs)
    values = widget_values(nb)
    demo = next(v for v in values if "word" in v and "loud" in v)
    assert "sciflow run finished" in demo
    assert "echo hi &gt; words/hi.txt" in demo or "echo hi > words/hi.txt" in demo
    # the widget changed while the cell ran: several updates before the cell's result
    updates = [c for i, kind, c in client.messages
               if i == 2 and kind == "comm_msg" and c.get("data", {}).get("method") == "update"]
    assert len(updates) >= 3, len(updates)
    assert any("running" in str(u["data"].get("state", {}).get("value", "")) for u in updates)

    # a job's output and its log path, from the Run
    tail = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cells[3].outputs)
    assert "shouting" in tail

    # the broken cell's error names the cell's own line, with no Python traceback
    (error,) = errors(cells[4])
    text = "\n".join(error["traceback"])
    assert "line 4 of cell %%sciflow bad" in text, text
    assert "Traceback" not in text

    # the failed job: its log tail in the live display and in the run's display
    failing = next(v for v in values if "broken" in v)
    assert "the-cause-of-it" in failing and "job failed" in failing
    assert "line 4 of cell %%sciflow failing" in failing  # its shell: line, as the cell counts
    html = "".join(o.get("data", {}).get("text/html", "") for o in cells[5].outputs)
    assert "the-cause-of-it" in html and "Run FAILED" in html


def test_updating_html_display_without_widgets(tmp_path, monkeypatch):
    (tmp_path / "Snakefile").write_text(
        "rule all:\n    input: expand('n/{i}.txt', i=range(4))\n"
        "rule n:\n    output: 'n/{i}.txt'\n    shell: 'sleep 0.3; echo {wildcards.i} > {output}'\n")
    cells = [
        "from sciflow import Workflow\n"
        "from sciflow.notebook.progress import NotebookProgress\n"
        f"run = Workflow({str(tmp_path)!r}).run(cores=2, listeners=[NotebookProgress(mode='html')])\n"
        "assert run.ok",
        "import sciflow; sciflow.close()",
    ]
    nb, client = execute(cells, tmp_path, monkeypatch)
    assert not errors(nb.cells[0]), errors(nb.cells[0])
    shown = [o for o in nb.cells[0].outputs if "text/html" in o.get("data", {})]
    assert len(shown) == 1  # one display, updated in place
    final = shown[0]["data"]["text/html"]
    assert "sciflow run finished" in final and "5/5 jobs" in final
    updates = [c for i, kind, c in client.messages if i == 0 and kind == "update_display_data"]
    assert any("running" in u["data"]["text/html"] for u in updates)
