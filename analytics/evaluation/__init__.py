"""Measured accuracy: a model scored against annotated frames.

- :mod:`analytics.evaluation.metrics`: confusion matrices, IoU, indicator errors, bootstrap intervals (pure).
- :mod:`analytics.evaluation.readers`: CamVid, Cityscapes and CVAT ground truth.
- :mod:`analytics.evaluation.labelmaps`: model classes -> annotation classes, built-in maps.
- :mod:`analytics.evaluation.run`: :func:`~analytics.evaluation.run.evaluate`, the scoring rule.
- :mod:`analytics.evaluation.apply`: which stored evaluation applies to each camera; error-adjusted indicators.
- :mod:`analytics.evaluation.adapt`: a new head on a frozen model for annotated classes
  (:mod:`~analytics.evaluation.heads` fits it, :mod:`~analytics.evaluation.graphs` writes it into the graph).

See ``docs/evaluation.md``.
"""

__all__: list[str] = []
