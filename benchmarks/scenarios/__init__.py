"""The scenarios; importing this package registers them (in this order) with the harness.

To add one, write a module here with a function decorated by
:func:`benchmarks._harness.scenario` and import it below (see ``benchmarks/README.md``).
"""

from . import bulk, multiprocess, overhead

__all__ = ["bulk", "multiprocess", "overhead"]
