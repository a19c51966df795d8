"""One module per command. Each defines ``HELP``, ``configure(parser)`` and ``run(args) -> int``
and keeps heavy imports inside ``run`` so that building the parser stays cheap. A new module
here is a new command; ``ORDER`` only decides where it appears in ``preflight --help``."""

import pkgutil

ORDER = ("doctor", "probe", "explain", "fit", "serve", "monitor", "fleet", "db")

_found = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
COMMANDS = tuple(sorted(_found, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name)))
