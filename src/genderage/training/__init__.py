"""Training, export and checkpoint code. Needs the ``[train]`` extra (torch)."""
