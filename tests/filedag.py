"""A stand-in DAG for planner and scheduler tests that build their jobs by hand."""


class FileDAG:
    """A stand-in for sciflow.dag.DAG linking hand-made jobs by their file paths."""

    def __init__(self, workflow, jobs, targets):
        self.workflow = workflow
        producer = {str(o): j for j in jobs for o in j.output}
        self._deps = {j: list(dict.fromkeys(producer[str(f)] for f in j.input if str(f) in producer))
                      for j in jobs}
        self._rdeps = {j: [] for j in jobs}
        for j, ds in self._deps.items():
            for d in ds:
                self._rdeps[d].append(j)
        order, seen = [], set()

        def visit(j):
            if j not in seen:
                seen.add(j)
                for d in self._deps[j]:
                    visit(d)
                order.append(j)
        for j in jobs:
            visit(j)
        self.jobs = order
        self.targets = list(targets)

    def dependencies(self, job):
        return self._deps[job]

    def dependents(self, job):
        return self._rdeps[job]
