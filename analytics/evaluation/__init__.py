"""Measured accuracy: a model scored against annotated frames.

- :mod:`analytics.evaluation.metrics`: confusion matrices, IoU, indicator errors, bootstrap intervals (pure).
- :mod:`analytics.evaluation.readers`: CamVid, Cityscapes and CVAT ground truth.
- :mod:`analytics.evaluation.labelmaps`: model classes -> annotation classes, built-in maps.
- :mod:`analytics.evaluation.run`: :func:`~analytics.evaluation.run.evaluate`, the scoring rule.

See ``docs/evaluation.md``.
"""
