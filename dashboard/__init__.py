"""The UrbanLens Streamlit dashboard: ``urbanlens dashboard`` runs ``dashboard/app.py``."""

__all__: list[str] = []
