"""rulekd."""
