"""The command line: the only place argparse lives."""
