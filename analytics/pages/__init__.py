"""Page support: the steps of a dashboard page without its widgets (the pages lay out widgets and call these)."""

__all__: list[str] = []
