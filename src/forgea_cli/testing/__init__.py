"""Test support shipped with the package (as SQLAlchemy ships `sqlalchemy.testing`): a fake GitHub that
speaks real HTTP, so the test suite, the benchmarks and `forgea demo` from an installed wheel share it."""
