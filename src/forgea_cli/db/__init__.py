"""Database layer: the only part of forgea that imports SQLAlchemy and psycopg."""
