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
