"""Checks: pure functions of (host, knowledge) that yield findings. They never touch the machine.

``diagnose`` runs them all; ``context`` is what each is handed."""
