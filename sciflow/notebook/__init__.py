"""sciflow in Jupyter: what a notebook needs beyond the API of ``sciflow.api``.

* ``progress.NotebookProgress``: the live display of a run (a ``Listener``), the default of
  ``Workflow.run`` in a notebook;
* ``magic``: ``%load_ext sciflow`` and the ``%%sciflow`` cell magic (rules written in a cell);
* ``namespace``: the notebook's names made visible to a workflow written in a cell;
* ``session``: one local Dask cluster kept for every run of a notebook session;
* ``logs``: where a job's output went (``Run.logs``).

Nothing here is imported by ``sciflow run``; IPython and ipywidgets are imported only when
something is displayed (the ``jupyter`` extra installs them).
"""
