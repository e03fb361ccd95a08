"""UrbanLens analytics: street-level video to city indicators.

Everything except the Streamlit pages lives here; this package never imports streamlit.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
