"""Vocabulary without I/O beyond reading the files it is handed: versions, findings, errors, the
host document, input readers."""
