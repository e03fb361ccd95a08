"""The demo city: synthetic footage measurements built into a database of their own.

- :mod:`analytics.demo.city`: :func:`~analytics.demo.city.build_demo`, the made-up city "Lensfield"
  written through the store's ingestion API.
"""

__all__: list[str] = []
