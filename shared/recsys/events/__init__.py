"""User events: validated at ingestion, kept per user in DynamoDB for serving, logged to S3 for training."""
