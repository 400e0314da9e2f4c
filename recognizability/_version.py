"""The version of the package, in one place (``recognizability.__version__`` re-exports it)."""

__version__ = "0.1.0"
