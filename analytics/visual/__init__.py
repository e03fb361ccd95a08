"""Charts and maps drawn from DataFrames (indicator tables, catalog look-ups); no SQL here."""

__all__: list[str] = []
