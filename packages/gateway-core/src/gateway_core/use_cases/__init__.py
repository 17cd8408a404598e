"""The business rules, written against ports only."""
