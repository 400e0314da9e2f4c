"""Helpers shared by the tests, imported one way: ``from tests.helpers.<module> import ...``.

- :mod:`~tests.helpers.paths`: where the repository's files are (README, docs, examples, test data);
- :mod:`~tests.helpers.tiny`: tiny in-memory data and configurations for the training loop, the example
  scripts loaded by file, a free TCP port for process-group tests, one Fig. 2 training step;
- :mod:`~tests.helpers.models`: small trained modules and checkpoints, state snapshots (a refused call changes
  nothing);
- :mod:`~tests.helpers.checkpoints`: a stand-in for a run's settings;
- :mod:`~tests.helpers.usage`: running a command's ``main`` and catching its usage error (exit status 2);
- :mod:`~tests.helpers.fake_trees`: tiny TinyFace, SCFace and SurvFace trees written file by file;
- :mod:`~tests.helpers.synthetic_sizes`: the smallest sizes of each synthetic layout;
- :mod:`~tests.helpers.host_reads`: a probe that fails a test when a forward pass reads a tensor's value;
- :mod:`~tests.helpers.metric_references`, :mod:`~tests.helpers.margin_references`: slow, obviously-correct
  references written from the definitions.
"""
