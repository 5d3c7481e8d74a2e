"""``snakemake.shell``: ``shell("cmd {input}")`` with Snakemake's formatting, ``read=True``,
``shell.prefix``/``suffix``/``executable`` — sciflow's :data:`sciflow.execute.shell.shell`."""
from sciflow.execute.shell import shell

__all__ = ["shell"]
