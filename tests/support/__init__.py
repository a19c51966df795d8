"""Helpers shared by the tests (import as ``support.NAME``): hosts, fixtures, fake devices, servers."""
