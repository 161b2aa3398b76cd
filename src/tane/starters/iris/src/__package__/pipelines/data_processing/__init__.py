"""Clean the raw iris flowers and build the table the model learns from."""
