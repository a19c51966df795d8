"""What the user wants to run: torch wheels and CUDA runtimes, from flags, pip files and pyproject.

* ``model``     - the value objects: ``TorchTarget``, ``CudaTarget``, ``Targets`` (no ``packaging``);
* ``specs``     - the TARGET flags: ``--torch SPEC``, ``--cuda X.Y``, ``--requirements FILE``, and
  ``collect_targets`` for all of them;
* ``index``     - from a torch requirement and the package indexes of its install to a ``TorchTarget``;
* ``pip``       - pip requirements files: logical lines, options, ``${VAR}``, ``-r``/``-c`` includes;
* ``pyproject`` - pyproject.toml: PEP 621, dependency groups, uv and Poetry with their indexes;

Nothing is imported here: a plain ``preflight doctor`` judges what is installed and must not pay
for the parsers (nor for ``packaging``); import the module that holds what you need.
"""
