"""Predict now, learn when the label arrives: questions kept by id until their answers."""
