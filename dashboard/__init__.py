"""The UrbanLens Streamlit dashboard: ``urbanlens dashboard`` runs ``dashboard/app.py``."""
