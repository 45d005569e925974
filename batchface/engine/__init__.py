"""The engine layer: plans the tasks, runs them in worker processes (or on Ray) and hands their rows to the writers."""
