"""Services: plain functions the CLI calls; no Typer here."""
