"""Stores: the logic of each contract, above a small per-backend protocol."""
