"""Test doubles that speak real protocols (the fake GitHub HTTP server)."""
