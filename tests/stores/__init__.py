"""Tests of the state stores: one contract suite (`contract.py`) run over every store."""
