"""How this project configures the Dagster instance itself (its storage)."""
