"""Docs that are true: the parts of the docs generated from the code are up to date."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_interfaces_doc_lists_the_boundary_types_as_the_code_declares_them():
    """docs/INTERFACES.md's "Boundary types" section equals what scripts/interfaces.py
    generates from the data classes the stages hand each other."""
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "interfaces.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_interfaces_generator_sees_a_new_field(tmp_path, monkeypatch):
    """The check is not vacuous: a field added to a boundary class changes the section."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import interfaces
    finally:
        sys.path.pop(0)
    before = interfaces.render()
    model = tmp_path / "sciflow" / "model.py"
    model.parent.mkdir(parents=True)
    src = (ROOT / "sciflow" / "model.py").read_text()
    model.write_text(src.replace("    line: int\n", "    line: int\n    new_field: int  # added\n", 1))
    for rel, _ in interfaces.BOUNDARY:
        target = tmp_path / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((ROOT / rel).read_text())
    monkeypatch.setattr(interfaces, "ROOT", tmp_path)
    after = interfaces.render()
    assert "new_field" in after and "new_field" not in before


def stage_table(readme: str) -> list[str]:
    """The rows of README's "The pipeline, as files" table."""
    start = readme.index("| stage | code |")
    rows = []
    for line in readme[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def uncovered_modules(root: Path, rows: list[str]) -> list[str]:
    """Modules of the package the table does not name: by path, or by name in the list that
    follows their package in a row (``sciflow/execute/`` (``runner``, ...); a sub-package of
    shims may be listed as a whole, ``snakemake/``). A package named without a list names none
    of its modules."""
    import re
    missing = []
    for path in sorted((root / "sciflow").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if path.name == "__init__.py":
            continue
        named = False
        for row in rows:
            if f"`{rel}`" in row:
                named = True
            for parent in path.relative_to(root).parents:
                pkg = parent.as_posix() + "/"
                if pkg in ("./", "sciflow/") or f"`{pkg}`" not in row:
                    continue
                listed = re.search(re.escape(f"`{pkg}`") + r" \(([^)]*)\)", row)
                inner = path.relative_to(root / pkg).with_suffix("")
                names = [inner.as_posix()] + [p.as_posix() + "/" for p in inner.parents
                                              if p.as_posix() != "."]
                if listed and any(re.search(rf"`{re.escape(n)}(\.py)?`", listed.group(1))
                                  for n in names):
                    named = True
        if not named:
            missing.append(rel)
    return missing


def test_readme_stage_table_names_every_module():
    """README's table of the pipeline as files names every module of the package (a module
    added without a place in the pipeline shows up here)."""
    rows = stage_table((ROOT / "README.md").read_text())
    missing = uncovered_modules(ROOT, rows)
    assert not missing, f"add these modules to README.md's stage table: {missing}"


def test_stage_table_check_sees_a_missing_module(tmp_path):
    """The check is not vacuous: a module the table does not name is reported."""
    rows = stage_table((ROOT / "README.md").read_text())
    (tmp_path / "sciflow" / "execute").mkdir(parents=True)
    (tmp_path / "sciflow" / "execute" / "newthing.py").write_text("")
    (tmp_path / "sciflow" / "engine.py").write_text("")
    assert uncovered_modules(tmp_path, rows) == ["sciflow/execute/newthing.py"]
    (tmp_path / "sciflow" / "newpkg").mkdir()
    (tmp_path / "sciflow" / "newpkg" / "part.py").write_text("")
    rows.append("| new | `sciflow/newpkg/` | a package named without its modules |")
    assert uncovered_modules(tmp_path, rows) == ["sciflow/execute/newthing.py",
                                                 "sciflow/newpkg/part.py"]


def test_architecture_lists_every_entry_of_the_sciflow_layout():
    """Each entry of ``.sciflow/`` that sciflow/layout.py declares has a row (who writes it,
    who reads it) in docs/ARCHITECTURE.md."""
    import re
    from sciflow import layout
    entries = re.findall(r"^      ([\w.-]+)", layout.__doc__ or "", flags=re.M)
    assert len(entries) >= 10, entries
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    missing = [e for e in entries if not any(f"`{e}" in row.split("|")[1] for row in rows)]
    assert not missing, f"add rows for these .sciflow/ entries to docs/ARCHITECTURE.md: {missing}"


def test_a_run_writes_only_the_declared_sciflow_entries(tmp_path):
    """What a real run leaves in ``.sciflow/`` is what sciflow/layout.py declares (and the test
    above checks docs/ARCHITECTURE.md against): a new file or folder must be added there."""
    import re

    from helpers import write_tree
    from sciflow import layout
    from sciflow.engine import RunOptions, run

    write_tree(tmp_path, {"s.py": "open(snakemake.output[0], 'w').write('b')\n"}, snakefile='''
        rule all:
            input: "b.txt"
        rule a:
            output: "a.txt"
            shell: "echo a > {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            script: "s.py"
    ''')
    assert run(RunOptions(directory=str(tmp_path), cores=1)).ok
    declared = set(re.findall(r"^      ([\w.-]+?)/?(?:<\w+>\S*)?\s", layout.__doc__ or "", flags=re.M))
    written = {p.name for p in layout.state_dir(tmp_path).iterdir()}
    assert {"meta.sqlite", "prov", "logs", "sources"} <= written
    assert written <= declared, f"undeclared in sciflow/layout.py: {sorted(written - declared)}"
