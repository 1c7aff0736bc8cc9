"""Command line: parsing and rendering only; every command calls one service."""
