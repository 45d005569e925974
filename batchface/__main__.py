from batchface.cli import entry

entry()
