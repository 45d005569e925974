"""The output layer: the table's columns, its formats and writers, the journal, annotated copies, the lock."""
