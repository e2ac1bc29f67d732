"""serverless-recsys: a two-stage recommender trained offline and served from AWS Lambda."""

__version__ = "0.1.0"
