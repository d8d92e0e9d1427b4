"""kennai's web API: FastAPI wiring only (the analysis lives in ``kennai``)."""

from api.app import create_app, create_results_app

__all__ = ["create_app", "create_results_app"]
