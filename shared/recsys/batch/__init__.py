"""Batch scoring of user files dropped in S3: events, row readers, the job, the Lambda entry."""
