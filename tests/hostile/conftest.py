"""Fixtures of the hostile-input suite (defined in :mod:`tests.hostile.support`)."""

from tests.hostile.support import _city_template, city_db, cli_env, colour_model_home

__all__ = ["_city_template", "city_db", "cli_env", "colour_model_home"]
