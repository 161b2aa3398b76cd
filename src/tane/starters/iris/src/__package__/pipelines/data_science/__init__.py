"""Split the model input table, train a classifier and evaluate it."""
