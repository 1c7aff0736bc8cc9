"""forgea: operators' tool for Forgea's lab-session binding."""

__version__ = "0.1.0"
