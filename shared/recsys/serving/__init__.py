"""Serving: settings from the environment, the HTTP app, and the Lambda entry points."""
