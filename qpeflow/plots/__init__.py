"""Figures: arrays in, matplotlib Figures out; no score is computed here."""
