"""Helpers shared by the tests, imported one way: ``from tests.helpers.<module> import ...``.

- :mod:`~tests.helpers.tiny`: tiny in-memory data and configurations for the training loop, the example
  scripts loaded by file, a free TCP port for process-group tests, one Fig. 2 training step;
- :mod:`~tests.helpers.usage`: running a command's ``main`` and catching its usage error (exit status 2).
"""
